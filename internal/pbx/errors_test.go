package pbx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestNewAPIError(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", 3000)
	cases := map[string]struct {
		reason string
		status int
		header http.Header
		body   string
		want   *APIError
	}{
		"MessageAndStatus": {
			reason: "The PBX's message and machine-readable status are kept apart.",
			status: http.StatusForbidden,
			body:   `{"message": "Access level too low", "status": "user_access_type_deny"}`,
			want:   &APIError{StatusCode: 403, Code: "user_access_type_deny", Message: "Access level too low", Body: `{"message": "Access level too low", "status": "user_access_type_deny"}`},
		},
		"TokenEndpoint": {
			reason: "The token endpoint's OAuth2 error code becomes the code.",
			status: http.StatusUnauthorized,
			body:   `{"error":"invalid_client","message":"Invalid client credentials"}`,
			want:   &APIError{StatusCode: 401, Code: "invalid_client", Message: "Invalid client credentials", Body: `{"error":"invalid_client","message":"Invalid client credentials"}`},
		},
		"NotJSON": {
			reason: "A proxy's HTML page keeps its status and its body.",
			status: http.StatusBadGateway,
			body:   "<html>Bad Gateway</html>",
			want:   &APIError{StatusCode: 502, Body: "<html>Bad Gateway</html>"},
		},
		"Empty": {
			reason: "An empty body is still an error with a status.",
			status: http.StatusNotFound,
			want:   &APIError{StatusCode: 404},
		},
		"StructuredMessage": {
			reason: "A message that is not a string is kept as JSON text rather than lost.",
			status: http.StatusBadRequest,
			body:   `{"message": {"name": ["is required"]}}`,
			want:   &APIError{StatusCode: 400, Message: `{"name":["is required"]}`, Body: `{"message": {"name": ["is required"]}}`},
		},
		"LongBodyTruncated": {
			reason: "The body is cut for debugging, and the cut is marked.",
			status: http.StatusInternalServerError,
			body:   long,
			want:   &APIError{StatusCode: 500, Body: long[:maxErrorBody] + "…(truncated)"},
		},
		"RetryAfterSeconds": {
			reason: "Retry-After in seconds counts from now.",
			status: http.StatusServiceUnavailable,
			header: http.Header{"Retry-After": {"120"}},
			want:   &APIError{StatusCode: 503, RetryAt: now.Add(2 * time.Minute)},
		},
		"RetryAfterDate": {
			reason: "Retry-After may be an HTTP date.",
			status: http.StatusTooManyRequests,
			header: http.Header{"Retry-After": {"Mon, 02 Mar 2026 11:00:00 GMT"}},
			want:   &APIError{StatusCode: 429, RetryAt: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)},
		},
		"RequestID": {
			reason: "A request id header is kept for support.",
			status: http.StatusBadRequest,
			header: http.Header{"X-Request-Id": {"abc123"}},
			want:   &APIError{StatusCode: 400, RequestID: "abc123"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			got := newAPIError("", "", tc.status, h, []byte(tc.body), now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	// The text is the subject here: it ends up in conditions and logs.
	e := &APIError{Method: "PUT", Path: "/api/ver1.0/client/1/extension/7", StatusCode: 400, Message: "name: cannot be changed", RequestID: "r1"}
	want := "PUT /api/ver1.0/client/1/extension/7: 400: name: cannot be changed (request id r1)"
	if got := e.Error(); got != want {
		t.Errorf("Error():\n got %q\nwant %q", got, want)
	}
	wrapped := fmt.Errorf("updating: %w", &APIError{StatusCode: 404})
	if !IsNotFound(wrapped) || IsBadRequest(wrapped) {
		t.Errorf("predicates must see through wrapping: %v", wrapped)
	}
}

// predicates is which error predicates hold for an error.
type predicates struct {
	Status                                                     int
	Code                                                       string
	NotFound, BadRequest, Unauthorized, Forbidden, RateLimited bool
	ServerError                                                bool
}

func predicatesOf(err error) predicates {
	p := predicates{
		Status: statusOf(err), NotFound: IsNotFound(err), BadRequest: IsBadRequest(err),
		Unauthorized: IsUnauthorized(err), Forbidden: IsForbidden(err), RateLimited: IsRateLimited(err),
		ServerError: IsServerError(err),
	}
	var e *APIError
	if errors.As(err, &e) {
		p.Code = e.Code
	}
	return p
}

func TestErrorPredicates(t *testing.T) {
	app := func(id string) Option { return WithCredentials(id, pbxsim.DemoAppSecret) }
	cases := map[string]struct {
		reason string
		opts   []Option
		fault  *pbxsim.Fault
		call   func(ctx context.Context, c *Client) error
		want   predicates
	}{
		"NotFound": {
			reason: "A missing object is a 404.",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Extensions.Get(ctx, demo, 999)
				return err
			},
			want: predicates{Status: 404, NotFound: true},
		},
		"ClientNotFound": {
			reason: "A client that does not exist is a 404 with the client_not_found status.",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ClientInfo.Get(ctx, ClientRealm(77))
				return err
			},
			want: predicates{Status: 404, Code: "client_not_found", NotFound: true},
		},
		"BadRequest": {
			reason: "Bad parameters are a 400.",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Extensions.Create(ctx, demo, ExtensionCreate{Name: "1"})
				return err
			},
			want: predicates{Status: 400, BadRequest: true},
		},
		"Unauthorized": {
			reason: "Refused credentials are a 401.",
			opts:   []Option{WithCredentials(pbxsim.DemoTrustedAppID, "wrong")},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Users.Me(ctx)
				return err
			},
			want: predicates{Status: 401, Code: "invalid_client", Unauthorized: true},
		},
		"ForbiddenReadOnlyUser": {
			reason: "A read_only user's write is a 403 user_access_type_deny.",
			opts:   []Option{app(pbxsim.DemoReadOnlyAppID)},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "g"})
				return err
			},
			want: predicates{Status: 403, Code: "user_access_type_deny", Forbidden: true},
		},
		"ForbiddenCallAPIApp": {
			reason: "A Call API application's configuration change is a 403 app_access_type_deny.",
			opts:   []Option{app(pbxsim.DemoCallAPIAppID)},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "g"})
				return err
			},
			want: predicates{Status: 403, Code: "app_access_type_deny", Forbidden: true},
		},
		"ForbiddenMeInLowerRealm": {
			reason: "A client-level user may not use @me in the extension realm.",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Phones.Get(ctx, MeRealm(RealmExtension))
				return err
			},
			want: predicates{Status: 403, Code: "access_denied", Forbidden: true},
		},
		"RateLimited": {
			reason: "A 429 is rate-limited.",
			fault:  &pbxsim.Fault{Path: "/api/ver1.0/user/", Status: http.StatusTooManyRequests},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Users.Me(ctx)
				return err
			},
			want: predicates{Status: 429, Code: "rate_limit_exceeded", RateLimited: true},
		},
		"ServerError": {
			reason: "A 500 is a server error.",
			fault:  &pbxsim.Fault{Path: "/api/ver1.0/user/", Status: http.StatusInternalServerError},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Users.Me(ctx)
				return err
			},
			want: predicates{Status: 500, ServerError: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			if tc.fault != nil {
				f.sim.AddFault(*tc.fault)
			}
			err := tc.call(context.Background(), f.client(t, tc.opts...))
			if diff := cmp.Diff(tc.want, predicatesOf(err)); diff != "" {
				t.Errorf("%s\nerror %v: -want, +got:\n%s", tc.reason, err, diff)
			}
		})
	}
}

func TestAPIErrorRetryAfter(t *testing.T) {
	cases := map[string]struct {
		reason   string
		retryAt  time.Time
		min, max time.Duration
	}{
		"Unknown": {reason: "No retry time is no wait."},
		"Future":  {reason: "A future retry time is the wait until then.", retryAt: time.Now().Add(time.Hour), min: 59 * time.Minute, max: time.Hour},
		"Passed": {reason: "A retry time in the past is the shortest wait, not unknown.", retryAt: time.Now().Add(-time.Minute),
			min: time.Millisecond, max: time.Millisecond},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := &APIError{StatusCode: http.StatusTooManyRequests, RetryAt: tc.retryAt}
			if got := e.RetryAfter(); got < tc.min || got > tc.max {
				t.Errorf("%s\nRetryAfter() = %v, want between %v and %v", tc.reason, got, tc.min, tc.max)
			}
			if got := e.HTTPStatus(); got != http.StatusTooManyRequests {
				t.Errorf("HTTPStatus() = %d, want 429", got)
			}
		})
	}
}
