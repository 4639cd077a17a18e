package pbx

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzDecodeResponse feeds arbitrary answers to the client's decoding: every answer type and the
// error decoding. Decoding must never panic; whatever decodes must survive a round trip through
// JSON unchanged (lenient decoding must not invent values); and an error answer always becomes a
// bounded APIError with its status. The seed corpus is in testdata/fuzz/FuzzDecodeResponse; a
// plain go test runs it.
func FuzzDecodeResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		roundTrip[Extension](t, body)
		roundTrip[[]Extension](t, body)
		roundTrip[ExtensionGroup](t, body)
		roundTrip[Phone](t, body)
		roundTrip[Event](t, body)
		roundTrip[DID](t, body)
		roundTrip[User](t, body)
		roundTrip[ClientInfo](t, body)
		roundTrip[Limits](t, body)
		roundTrip[[]Timezone](t, body)

		e := newAPIError(http.MethodGet, "/api/ver1.0/user/", int(status), http.Header{}, body, time.Unix(0, 0))
		if e.StatusCode != int(status) {
			t.Errorf("status %d became %d", status, e.StatusCode)
		}
		if len(e.Body) > maxErrorBody+len("…(truncated)") || !utf8.ValidString(e.Body) {
			t.Errorf("Body is not a bounded UTF-8 string: %d bytes", len(e.Body))
		}
		if !strings.HasPrefix(e.Error(), "GET /api/ver1.0/user/: ") {
			t.Errorf("Error() = %q, want it to name the request", e.Error())
		}
	})
}

// roundTrip decodes body as T and, if that works, checks that encoding and decoding the result
// gives the same value.
func roundTrip[T any](t *testing.T, body []byte) {
	t.Helper()
	var first T
	if json.Unmarshal(body, &first) != nil {
		return
	}
	data, err := json.Marshal(first)
	if err != nil {
		t.Fatalf("%T decoded from %q does not encode: %v", first, body, err)
	}
	var second T
	if err := json.Unmarshal(data, &second); err != nil {
		t.Fatalf("%T: the encoding %s of a decoded value does not decode: %v", first, data, err)
	}
	// Limits.Raw is the answer as sent; it is not encoded back.
	if diff := cmp.Diff(first, second, cmpopts.IgnoreFields(Limits{}, "Raw")); diff != "" {
		t.Errorf("%T decoded from %q changed in a round trip: -first, +second:\n%s", first, body, diff)
	}
}
