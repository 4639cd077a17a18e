package pbx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestNew(t *testing.T) {
	creds := WithCredentials("id", "secret")
	cases := map[string]struct {
		reason  string
		baseURL string
		opts    []Option
		wantErr bool
	}{
		"Valid": {
			reason:  "An absolute http(s) URL with credentials makes a client.",
			baseURL: "https://pbx.example/",
			opts:    []Option{creds},
		},
		"TokenSource": {
			reason:  "A token source replaces client credentials.",
			baseURL: "http://127.0.0.1:8090",
			opts:    []Option{WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}))},
		},
		"NoCredentials": {
			reason:  "A client without credentials could not make a single request.",
			baseURL: "https://pbx.example",
			wantErr: true,
		},
		"RelativeURL": {
			reason:  "The base URL must name a host.",
			baseURL: "/api",
			opts:    []Option{creds},
			wantErr: true,
		},
		"OtherScheme": {
			reason:  "Only http and https are spoken.",
			baseURL: "ftp://pbx.example",
			opts:    []Option{creds},
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.baseURL, tc.opts...)
			if got := err != nil; got != tc.wantErr {
				t.Errorf("%s\nNew(%q): error = %v, want error: %t", tc.reason, tc.baseURL, err, tc.wantErr)
			}
		})
	}
}

// authCounts are the simulator's counts of token requests and of refused API requests.
type authCounts struct {
	TokenRequests int
	Unauthorized  int
}

func (f *fixture) authCounts() authCounts {
	n := authCounts{TokenRequests: f.sim.RequestTotal(http.MethodPost, tokenPath)}
	for _, rc := range f.sim.Requests() {
		if rc.Status == http.StatusUnauthorized && rc.Path != tokenPath {
			n.Unauthorized += rc.Count
		}
	}
	return n
}

func TestClientAuthentication(t *testing.T) {
	cases := map[string]struct {
		reason string
		// between runs after a first successful call and before the call under test.
		between func(f *fixture)
		// clientClock, when set, replaces the shared clock on the client's side only.
		clientClock func() time.Time
		want        authCounts
		wantErr     func(error) bool
	}{
		"TokenReused": {
			reason:  "A valid token is cached: two calls cost one token request.",
			between: func(*fixture) {},
			want:    authCounts{TokenRequests: 1},
		},
		"RenewedBeforeExpiry": {
			reason:  "A token is renewed a minute before its expiry, before the PBX refuses it.",
			between: func(f *fixture) { f.clock.Step(3600*time.Second - 30*time.Second) },
			want:    authCounts{TokenRequests: 2},
		},
		"RevokedEarly": {
			reason:  "A token the PBX revoked early is renewed once and the request sent again, transparently.",
			between: func(f *fixture) { f.sim.InvalidateTokens() },
			want:    authCounts{TokenRequests: 2, Unauthorized: 1},
		},
		"ExpiredByServerClock": {
			reason:      "A token that expired by the PBX's clock (the client's clock lags) is renewed after the 401.",
			between:     func(f *fixture) { f.clock.Step(2 * time.Hour) },
			clientClock: func() time.Time { return simStart },
			want:        authCounts{TokenRequests: 2, Unauthorized: 1},
		},
		"SecondUnauthorizedSurfaced": {
			reason: "A 401 right after a renewal is returned as the error: no further retry.",
			between: func(f *fixture) {
				f.sim.AddFault(pbxsim.Fault{Method: http.MethodGet, Path: "/api/ver1.0/user/", Status: http.StatusUnauthorized, Times: 2})
			},
			want:    authCounts{TokenRequests: 2, Unauthorized: 2},
			wantErr: IsUnauthorized,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			var opts []Option
			if tc.clientClock != nil {
				opts = append(opts, withClock(tc.clientClock))
			}
			c := f.client(t, opts...)
			ctx := context.Background()
			if _, err := c.Users.Me(ctx); err != nil {
				t.Fatalf("first Me: %v", err)
			}
			tc.between(f)
			_, err := c.Users.Me(ctx)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Errorf("%s\nMe: unexpected error %v", tc.reason, err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Errorf("%s\nMe: error %v does not match the predicate", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, f.authCounts()); diff != "" {
				t.Errorf("%s\nrequests: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestClientRetryAfter401ResendsBody(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	if _, err := c.Users.Me(ctx); err != nil {
		t.Fatalf("Me: %v", err)
	}
	f.sim.InvalidateTokens()

	e, err := c.Extensions.Create(ctx, demo, ExtensionCreate{Name: "101", Status: StatusActive, Label: Set("Reception")})
	if err != nil {
		t.Fatalf("Create after a revoked token: %v", err)
	}
	if diff := cmp.Diff("Reception", *e.Label); diff != "" {
		t.Errorf("the retried POST lost its body: -want, +got:\n%s", diff)
	}
	got := map[int]int{}
	for _, rc := range f.sim.Requests() {
		if rc.Method == http.MethodPost && rc.Path == apiPrefix+"/client/{realm_id}/extension/" {
			got[rc.Status] += rc.Count
		}
	}
	if diff := cmp.Diff(map[int]int{http.StatusUnauthorized: 1, http.StatusCreated: 1}, got); diff != "" {
		t.Errorf("POST answers by status: -want, +got:\n%s", diff)
	}
	if n := len(f.sim.Snapshot().Extensions); n != 1 {
		t.Errorf("extensions in the PBX: got %d, want 1", n)
	}
}

func TestClientConcurrent401sShareOneRenewal(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	if _, err := c.Users.Me(ctx); err != nil {
		t.Fatalf("Me: %v", err)
	}
	f.sim.InvalidateTokens()

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := c.Users.Me(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Me: %v", err)
	}
	if got := f.sim.RequestTotal(http.MethodPost, tokenPath); got != 2 {
		t.Errorf("token requests: got %d, want 2 (the first and one renewal)", got)
	}
}

func TestClientBadCredentials(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, WithCredentials(pbxsim.DemoTrustedAppID, "wrong"))
	_, err := c.Users.Me(context.Background())
	var e *APIError
	if !errors.As(err, &e) {
		t.Fatalf("Me: got %v, want an *APIError", err)
	}
	want := &APIError{Method: http.MethodPost, Path: tokenPath, StatusCode: http.StatusUnauthorized, Code: "invalid_client", Message: "Invalid client credentials"}
	if diff := cmp.Diff(want, e, cmpAPIError); diff != "" {
		t.Errorf("token refusal: -want, +got:\n%s", diff)
	}
	if n := f.sim.RequestTotal("", apiPrefix+"/user/"); n != 0 {
		t.Errorf("API requests without a token: got %d, want 0", n)
	}
}

// cmpAPIError compares APIErrors without the body and the retry time.
var cmpAPIError = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.Last().String()
	return s == ".Body" || s == ".RetryAt"
}, cmp.Ignore())

func TestClientHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Header.Clone())
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
	f := newFixture(t, fixtureOptions{wrap: record})
	c := f.client(t, WithUserAgent("pbx-operator/test"))
	me, err := c.Users.Me(context.Background())
	if err != nil {
		t.Fatalf("Me: %v", err)
	}
	if me.Login != pbxsim.DemoAdminLogin {
		t.Errorf("Me decoded from a gzip answer: login %q, want %q", me.Login, pbxsim.DemoAdminLogin)
	}
	mu.Lock()
	defer mu.Unlock()
	api := seen[len(seen)-1]
	got := map[string]string{
		"Accept-Encoding": api.Get("Accept-Encoding"),
		"User-Agent":      api.Get("User-Agent"),
		"Authorization":   api.Get("Authorization")[:len("Bearer ")],
	}
	want := map[string]string{"Accept-Encoding": "gzip", "User-Agent": "pbx-operator/test", "Authorization": "Bearer "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("API request headers: -want, +got:\n%s", diff)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere/", http.StatusMovedPermanently)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Groups.Create(context.Background(), demo, ExtensionGroupCreate{Name: "g"})
	if got := statusOf(err); got != http.StatusMovedPermanently {
		t.Errorf("Create: got %v, want the 301 as an *APIError (a followed redirect turns a POST into a GET)", err)
	}
}

func TestClientTransportErrors(t *testing.T) {
	cases := map[string]struct {
		reason string
		setup  func(t *testing.T, f *fixture) (*Client, context.Context)
		want   func(error) bool
	}{
		"ContextDeadline": {
			reason: "A context deadline that passes while the PBX is slow stays recognisable.",
			setup: func(t *testing.T, f *fixture) (*Client, context.Context) {
				f.sim.AddFault(pbxsim.Fault{Path: "/api/ver1.0/user/", Latency: pbxsim.Latency{Fixed: 5 * time.Second}})
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				t.Cleanup(cancel)
				return f.client(t), ctx
			},
			want: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) && statusOf(err) == 0 },
		},
		"HTTPClientTimeout": {
			reason: "The HTTP client's own timeout is a timeout error too.",
			setup: func(t *testing.T, f *fixture) (*Client, context.Context) {
				f.sim.AddFault(pbxsim.Fault{Path: "/api/ver1.0/user/", Latency: pbxsim.Latency{Fixed: 5 * time.Second}})
				return f.client(t, WithHTTPClient(&http.Client{Timeout: 50 * time.Millisecond})), context.Background()
			},
			want: func(err error) bool {
				var ne net.Error
				return errors.As(err, &ne) && ne.Timeout() && statusOf(err) == 0
			},
		},
		"ServerError": {
			reason: "A 5xx answer is a server error.",
			setup: func(t *testing.T, f *fixture) (*Client, context.Context) {
				f.sim.AddFault(pbxsim.Fault{Path: "/api/ver1.0/user/", Status: http.StatusServiceUnavailable})
				return f.client(t), context.Background()
			},
			want: IsServerError,
		},
		"ConnectionRefused": {
			reason: "A PBX that cannot be reached is a transport error, not an APIError.",
			setup: func(t *testing.T, f *fixture) (*Client, context.Context) {
				c := f.client(t)
				f.srv.Close()
				return c, context.Background()
			},
			want: func(err error) bool {
				var oe *net.OpError
				return errors.As(err, &oe) && statusOf(err) == 0
			},
		},
		"AnswerLostAfterCommit": {
			reason: "A cut connection is a transport error; the caller cannot tell whether the change happened.",
			setup: func(t *testing.T, f *fixture) (*Client, context.Context) {
				c := f.client(t)
				if _, err := c.Users.Me(context.Background()); err != nil {
					t.Fatal(err)
				}
				f.sim.AddFault(pbxsim.Fault{Path: "/api/ver1.0/user/", DropAfterCommit: true})
				return c, context.Background()
			},
			want: func(err error) bool { return err != nil && statusOf(err) == 0 },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			c, ctx := tc.setup(t, f)
			_, err := c.Users.Me(ctx)
			if !tc.want(err) {
				t.Errorf("%s\nMe: got error %v (%T)", tc.reason, err, err)
			}
		})
	}
}

// countingSource fetches a fresh token on every call, as a token source must for the renewal
// after a 401 to help.
type countingSource struct {
	cfg   *clientcredentials.Config
	mu    sync.Mutex
	calls int
}

func (s *countingSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return s.cfg.Token(context.Background())
}

func TestClientTokenSource(t *testing.T) {
	f := newFixture(t)
	src := &countingSource{cfg: &clientcredentials.Config{
		ClientID: pbxsim.DemoTrustedAppID, ClientSecret: pbxsim.DemoAppSecret, TokenURL: f.srv.URL + tokenPath,
	}}
	// The source's tokens carry a wall-clock Expiry, so the client keeps the wall clock here.
	c := f.client(t, WithTokenSource(src), withClock(time.Now))
	ctx := context.Background()
	for range 2 {
		if _, err := c.Users.Me(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f.sim.InvalidateTokens()
	if _, err := c.Users.Me(ctx); err != nil {
		t.Fatalf("Me after the token was revoked: %v", err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.calls != 2 {
		t.Errorf("token source calls: got %d, want 2 (the token is cached, then renewed once after the 401)", src.calls)
	}
}
