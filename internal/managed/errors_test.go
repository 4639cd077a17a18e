package managed_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

func TestClassify(t *testing.T) {
	var syntax error
	if err := json.Unmarshal([]byte("<html>"), new(map[string]any)); err != nil {
		syntax = fmt.Errorf("GET /api/ver1.0/user/: decoding the answer: %w", err)
	}
	refused := func(port int) error {
		return fmt.Errorf("POST /api/ver1.0/client/1/extension/: %w", &net.OpError{Op: "dial", Net: "tcp",
			Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}})
	}
	type want struct {
		reason       string
		message      string
		quiet        bool
		requeueAfter time.Duration
	}
	cases := map[string]struct {
		reason string
		err    error
		want   want
	}{
		"NotFoundLooksAgain": {
			reason: "An object the API cannot create and the account lacks (a phone number) is looked for again in a minute.",
			err:    managed.NotFound("The number 74950000000 is not in the PBX account"),
			want:   want{reason: v1alpha1.ReasonNotFound, message: "The number 74950000000 is not in the PBX account", requeueAfter: time.Minute},
		},
		"ShutdownIsQuiet": {
			reason: "A reconcile cancelled because the manager stops reports nothing.",
			err:    fmt.Errorf("GET /api/ver1.0/user/: %w", context.Canceled),
			want:   want{reason: v1alpha1.ReasonReconcileError, message: "GET /api/ver1.0/user/: context canceled", quiet: true, requeueAfter: time.Second},
		},
		"HTMLAnswer": {
			reason: "A host that answers an HTML page is not the PBX API: APIUnavailable with a clear message.",
			err:    syntax,
			want: want{reason: v1alpha1.ReasonAPIUnavailable,
				message: "The PBX answered something other than the API's JSON (check the account's url): invalid character '<' looking for beginning of value"},
		},
		"RateLimitKeptPastItsReset": {
			reason: "A 429 kept and read again after its reset (a snapshot's last failed list) is tried again soon, not after the PBX's hour.",
			err:    fmt.Errorf("the last list failed, not trying again before the backoff passes: %w", &apiErr{status: http.StatusTooManyRequests, msg: "spent", retry: time.Millisecond}),
			want:   want{reason: v1alpha1.ReasonRateLimited, message: "Waiting for the PBX request budget to reset: spent", requeueAfter: time.Second},
		},
		"Redirect": {
			reason: "A redirect is not the API either.",
			err:    &apiErr{status: http.StatusFound},
			want:   want{reason: v1alpha1.ReasonAPIUnavailable, message: "The PBX answered with a redirect (302) instead of the API; check the account's url"},
		},
		"RefusedConnectionIsStable": {
			reason: "A refused connection reads the same whatever the port: retries neither flap the condition nor repeat events.",
			err:    refused(40123),
			want:   want{reason: v1alpha1.ReasonAPIUnavailable, message: "The PBX cannot be reached: the connection was refused"},
		},
		"AnswerTooLarge": {
			reason: "An answer past the client's bound (a gzip bomb, an endless list) is the PBX being unusable as it answers: APIUnavailable, saying which bound.",
			err:    fmt.Errorf("getting a token: %w", &oversizeErr{"the PBX answer is larger than 8 MiB (--max-pbx-answer-bytes)"}),
			want:   want{reason: v1alpha1.ReasonAPIUnavailable, message: "The PBX answer is larger than 8 MiB (--max-pbx-answer-bytes)"},
		},
		"Timeout": {
			reason: "A timeout is transient.",
			err:    fmt.Errorf("GET /x: %w", context.DeadlineExceeded),
			want:   want{reason: v1alpha1.ReasonAPIUnavailable, message: "The PBX cannot be reached: the request timed out"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := managed.Classify(tc.err)
			got := want{reason: c.Reason, message: c.Message, quiet: c.Quiet, requeueAfter: c.RequeueAfter}
			if got != tc.want {
				t.Errorf("%s\nwant %+v\ngot  %+v", tc.reason, tc.want, got)
			}
		})
	}
	if a, b := managed.Classify(refused(1)), managed.Classify(refused(2)); a.Message != b.Message {
		t.Errorf("transport messages differ per retry: %q vs %q", a.Message, b.Message)
	}
	if errors.Is(refused(1), context.Canceled) {
		t.Fatal("test setup")
	}
}

// oversizeErr is an answer past one of the client's bounds, as pbx.TooLargeError.
type oversizeErr struct{ what string }

func (e *oversizeErr) Error() string    { return "GET /api/ver1.0/user/: " + e.what }
func (e *oversizeErr) Oversize() string { return e.what }

func TestClassifyBoundsMessage(t *testing.T) {
	huge := strings.Repeat("é", 5000)
	cases := map[string]struct {
		reason string
		err    error
	}{
		"PBXMessage": {
			reason: "A PBX's huge message is cut before it reaches a condition or an event.",
			err:    &apiErr{status: http.StatusInternalServerError, msg: huge},
		},
		"Unclassified": {
			reason: "So is any error's text, which may quote what the PBX answered (a user's login).",
			err:    fmt.Errorf("the PBX user %s is not a client, extension group or extension user", huge),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := managed.Classify(tc.err).Message
			if len(m) > managed.MaxMessage || !utf8.ValidString(m) || !strings.HasSuffix(m, "...") {
				t.Errorf("%s\nthe message is not cut at %d bytes on a rune boundary with a mark: %d bytes", tc.reason, managed.MaxMessage, len(m))
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		n      int
		want   string
	}{
		"Short":     {reason: "A short message stays.", in: "abc", n: 10, want: "abc"},
		"ASCII":     {reason: "A long one is cut with a mark.", in: "abcdefghij", n: 8, want: "abcde..."},
		"RuneSplit": {reason: "A cut never splits a rune.", in: "ab" + "äöü", n: 7, want: "abä..."},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := managed.Truncate(tc.in, tc.n); got != tc.want {
				t.Errorf("%s\nwant %q, got %q", tc.reason, tc.want, got)
			}
		})
	}
}
