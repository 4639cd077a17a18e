package pbx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// hostile is a PBX that hands out tokens and then answers every API request with answer. It
// counts the answers it served and the bytes it managed to write.
type hostile struct {
	srv     *httptest.Server
	served  atomic.Int64
	written atomic.Int64
	done    chan struct{} // receives when the first API answer ended (written or cut)
}

func newHostile(t *testing.T, token http.HandlerFunc, answer func(h *hostile, w http.ResponseWriter, r *http.Request)) *hostile {
	t.Helper()
	h := &hostile{done: make(chan struct{}, 1)}
	if token == nil {
		token = func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"t","token_type":"bearer","expires_in":3600}`)
		}
	}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			token(w, r)
			return
		}
		defer func() {
			select {
			case h.done <- struct{}{}:
			default:
			}
		}()
		h.served.Add(1)
		answer(h, w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// write writes b and counts what went out.
func (h *hostile) write(w http.ResponseWriter, b []byte) error {
	n, err := w.Write(b)
	h.written.Add(int64(n))
	return err
}

func (h *hostile) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	c, err := New(h.srv.URL, append([]Option{WithCredentials("id", "secret"), WithRateLimit(0, 0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAnswerBound(t *testing.T) {
	const bomb = 24 << 20 // inflated: three times the default bound
	compressed := pbxsim.GzipBomb(`{"login":"`, `"}`, bomb)
	serveBomb := func(h *hostile, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		h.write(w, compressed) //nolint:errcheck,gosec // the client may hang up early
	}
	cases := map[string]struct {
		reason string
		token  http.HandlerFunc
		answer func(h *hostile, w http.ResponseWriter, r *http.Request)
		opts   []Option
		want   *TooLargeError
		// maxWritten, when set, bounds the bytes the server managed to write: the client stopped
		// reading near the bound.
		maxWritten int64
	}{
		"GzipBomb": {
			reason: "A gzip answer is bounded after decompression: a bomb stops at the bound.",
			answer: serveBomb,
			opts:   []Option{WithMaxAnswerBytes(1 << 20)},
			want:   &TooLargeError{Method: http.MethodGet, Path: "/api/ver1.0/user/", MaxBytes: 1 << 20},
		},
		"GzipBombDefaultBound": {
			reason: "Without the option, an answer is bounded at DefaultMaxAnswerBytes.",
			answer: serveBomb,
			want:   &TooLargeError{Method: http.MethodGet, Path: "/api/ver1.0/user/", MaxBytes: DefaultMaxAnswerBytes},
		},
		"EndlessPlainBody": {
			reason: "An endless plain answer is read up to the bound, then the connection is dropped.",
			answer: func(h *hostile, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				chunk := bytes.Repeat([]byte("a"), 32<<10)
				if h.write(w, []byte(`{"login":"`)) != nil {
					return
				}
				for range bomb / len(chunk) {
					if h.write(w, chunk) != nil {
						return
					}
				}
				h.write(w, []byte(`"}`)) //nolint:errcheck,gosec // the end of a test answer
			},
			opts:       []Option{WithMaxAnswerBytes(1 << 20)},
			want:       &TooLargeError{Method: http.MethodGet, Path: "/api/ver1.0/user/", MaxBytes: 1 << 20},
			maxWritten: 16 << 20,
		},
		"TokenAnswer": {
			reason: "The token endpoint's answer is bounded too.",
			token: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"access_token":"%s","token_type":"bearer","expires_in":3600}`, strings.Repeat("t", 64<<10))
			},
			answer: func(_ *hostile, w http.ResponseWriter, _ *http.Request) {
				fmt.Fprint(w, `{"login":"admin"}`)
			},
			opts: []Option{WithMaxAnswerBytes(4 << 10)},
			want: &TooLargeError{Method: http.MethodPost, Path: tokenPath, MaxBytes: 4 << 10},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t, tc.token, tc.answer)
			_, err := h.client(t, tc.opts...).Users.Me(context.Background())
			var got *TooLargeError
			if !errors.As(err, &got) {
				t.Fatalf("%s\nMe: got error %v (%T), want a *TooLargeError", tc.reason, err, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
			if tc.token == nil && h.served.Load() != 1 {
				t.Errorf("%s\nthe PBX served %d answers, want the one that was refused, not asked again", tc.reason, h.served.Load())
			}
			if tc.maxWritten > 0 {
				select {
				case <-h.done:
				case <-time.After(10 * time.Second):
					t.Fatalf("%s\nthe PBX is still writing: the client did not hang up", tc.reason)
				}
				if n := h.written.Load(); n > tc.maxWritten {
					t.Errorf("%s\nthe PBX wrote %d bytes before the client hung up, want at most %d", tc.reason, n, tc.maxWritten)
				}
			}
		})
	}
}

func TestAnswerBoundMessage(t *testing.T) {
	cases := map[string]struct {
		err  *TooLargeError
		want string
	}{
		"Default": {
			err:  &TooLargeError{Method: "GET", Path: "/api/ver1.0/user/", MaxBytes: DefaultMaxAnswerBytes},
			want: "GET /api/ver1.0/user/: the PBX answer is larger than 8 MiB (--max-pbx-answer-bytes)",
		},
		"Odd": {
			err:  &TooLargeError{Method: "GET", Path: "/api/ver1.0/user/", MaxBytes: 1000},
			want: "GET /api/ver1.0/user/: the PBX answer is larger than 1000 bytes (--max-pbx-answer-bytes)",
		},
		"Pages": {
			err:  &TooLargeError{Method: "GET", Path: "/api/ver1.0/client/1/extension/", MaxPages: 6},
			want: "GET /api/ver1.0/client/1/extension/: the PBX list has more than 6 pages",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error():\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestPBXMessageBounded(t *testing.T) {
	huge := strings.Repeat("é", 20000) // 40,000 bytes, under what an error read keeps
	h := newHostile(t, nil, func(_ *hostile, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", strings.Repeat("r", 4000))
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"message":%q,"status":%q}`, huge, strings.Repeat("s", 4000))
	})
	_, err := h.client(t).Users.Me(context.Background())
	var e *APIError
	if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest {
		t.Fatalf("Me: got error %v, want a 400 APIError", err)
	}
	for field, v := range map[string]string{"Message": e.Message, "Code": e.Code, "RequestID": e.RequestID} {
		if len(v) > maxMessage+len("…(truncated)") || !utf8.ValidString(v) || !strings.HasSuffix(v, "…(truncated)") {
			t.Errorf("%s is not cut at %d bytes on a rune boundary with a mark: %d bytes, ends %q", field, maxMessage, len(v), v[max(len(v)-20, 0):])
		}
	}
	if !strings.HasPrefix(huge, strings.TrimSuffix(e.Message, "…(truncated)")) {
		t.Errorf("Message is not the start of the PBX's message")
	}
	if len(err.Error()) > 4*maxMessage {
		t.Errorf("Error() is %d bytes, want the PBX's parts bounded", len(err.Error()))
	}
}

// pagesPBX is a PBX whose every list page is full of objects never seen before: a list never
// ends. It answers /limit/ with limit, when set, and stops at 1000 pages so that a client without
// a bound ends too.
func pagesPBX(t *testing.T, limit string, perPage func(page, asked int) int) *hostile {
	return newHostile(t, nil, func(h *hostile, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/limit/") {
			h.served.Add(-1) // not a page
			fmt.Fprint(w, limit)
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		asked, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		if page > 1000 {
			fmt.Fprint(w, `[]`)
			return
		}
		n := perPage(page, asked)
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"id":%d,"name":"1*%d"}`, page*1_000_000+i, i)
		}
		fmt.Fprint(w, "["+strings.Join(items, ",")+"]")
	})
}

func TestListBound(t *testing.T) {
	full := func(_, asked int) int { return asked }
	cases := map[string]struct {
		reason string
		limit  string // the /limit/ answer, read before the list when set
		// perPage is how many objects a page holds, given its number and the per_page asked.
		perPage func(page, asked int) int
		want    error
		// wantPages is how many pages the PBX served; wantN how many objects the list gave.
		wantPages int64
		wantN     int
	}{
		"EndlessUniquePages": {
			reason:    "Endless full pages of new objects end at DefaultMaxPages.",
			perPage:   full,
			want:      &TooLargeError{Method: http.MethodGet, Path: "/api/ver1.0/client/1/extension/", MaxPages: DefaultMaxPages},
			wantPages: DefaultMaxPages,
		},
		"PagesFromLimits": {
			reason:    "With an extension limit of 5 and pages of 2, a list has at most 6 pages (twice the limit, and the short page).",
			limit:     `{"extension_limit": 5}`,
			perPage:   full,
			want:      &TooLargeError{Method: http.MethodGet, Path: "/api/ver1.0/client/1/extension/", MaxPages: 6},
			wantPages: 6,
		},
		"HugeLimitCapped": {
			reason:    "A limit past what DefaultMaxPages holds does not raise the bound.",
			limit:     `{"extension_limit": 9223372036854775807}`,
			perPage:   full,
			want:      &TooLargeError{Method: http.MethodGet, Path: "/api/ver1.0/client/1/extension/", MaxPages: DefaultMaxPages},
			wantPages: DefaultMaxPages,
		},
		"FatPage": {
			reason: "A page with more objects than the list's pages can hold ends the list at once.",
			perPage: func(page, _ int) int {
				if page == 1 {
					return 100_000
				}
				return 0
			},
			want:      &TooLargeError{Method: http.MethodGet, Path: "/api/ver1.0/client/1/extension/", MaxPages: DefaultMaxPages},
			wantPages: 1,
		},
		"WithinLimits": {
			reason:    "A list within the bound pages as before.",
			limit:     `{"extension_limit": 5}`,
			perPage:   func(int, int) int { return 1 },
			wantPages: 1,
			wantN:     1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := pagesPBX(t, tc.limit, tc.perPage)
			c := h.client(t, WithPageSize(2))
			if tc.limit != "" {
				if _, err := c.ClientInfo.Limits(context.Background(), ClientRealm(1)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := c.Extensions.ListAll(context.Background(), ClientRealm(1), ExtensionFilter{})
			if diff := cmp.Diff(tc.want, err, cmpErrors); diff != "" {
				t.Errorf("%s\nListAll error: -want, +got:\n%s", tc.reason, diff)
			}
			if tc.want == nil && len(got) != tc.wantN {
				t.Errorf("%s\nListAll: got %d objects, want %d", tc.reason, len(got), tc.wantN)
			}
			if n := h.served.Load(); n != tc.wantPages {
				t.Errorf("%s\nthe PBX served %d pages, want %d", tc.reason, n, tc.wantPages)
			}
		})
	}
}

// cmpErrors compares a *TooLargeError by its fields and other errors by identity.
var cmpErrors = cmp.Comparer(func(a, b error) bool {
	var ta, tb *TooLargeError
	if errors.As(a, &ta) && errors.As(b, &tb) {
		return *ta == *tb
	}
	return errors.Is(a, b)
})

// TestListByteBound: a PBX that answers every page with objects as large as one answer allows,
// and reports no limits, ends at the bytes one list may take (listAnswers answers), not at the
// pages: a hundred pages of such objects would hold a hundred times the bound.
func TestListByteBound(t *testing.T) {
	label := strings.Repeat("x", 30<<10)
	h := newHostile(t, nil, func(h *hostile, w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `[{"id":%d,"name":"1*1","label":%q},{"id":%d,"name":"1*2","label":%q}]`, 2*page, label, 2*page+1, label)
	})
	const answer = 64 << 10 // a page of two such objects is about 61 KiB: within one answer
	c := h.client(t, WithPageSize(2), WithMaxAnswerBytes(answer))
	_, err := c.Extensions.ListAll(context.Background(), ClientRealm(1), ExtensionFilter{})
	want := &TooLargeError{Method: http.MethodGet, Path: "/api/ver1.0/client/1/extension/", MaxListBytes: listAnswers * answer}
	if diff := cmp.Diff(error(want), err, cmpErrors); diff != "" {
		t.Errorf("ListAll error: -want, +got:\n%s", diff)
	}
	if n := h.served.Load(); n != 9 {
		t.Errorf("the PBX served %d pages, want 9: the eighth ends within the list's 512 KiB, the ninth passes it", n)
	}
	if got, want := want.Oversize(), "the PBX list is larger than 512 KiB (8 times --max-pbx-answer-bytes)"; got != want {
		t.Errorf("message: %q, want %q", got, want)
	}
}
