package pbx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// demo is the realm of the simulator's demo client.
var demo = ClientRealm(pbxsim.DemoClientID)

// simStart is the time a fixture's clock starts at.
var simStart = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// withClock sets the client's clock (token renewal, budget windows).
func withClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// fixture is a simulator served over loopback HTTP, with strict trailing slashes.
type fixture struct {
	sim *pbxsim.Server
	srv *httptest.Server
	// clock is shared by the simulator and the client, so tests move time (token expiry,
	// rate-limit windows) without sleeping.
	clock *clocktesting.FakeClock
}

type fixtureOptions struct {
	config func(*pbxsim.Config)
	wrap   func(http.Handler) http.Handler
}

func newFixture(t *testing.T, fo ...fixtureOptions) *fixture {
	t.Helper()
	cfg := pbxsim.DemoConfig()
	var handler func(http.Handler) http.Handler
	for _, o := range fo {
		if o.config != nil {
			o.config(&cfg)
		}
		if o.wrap != nil {
			handler = o.wrap
		}
	}
	clock := clocktesting.NewFakeClock(simStart)
	sim, err := pbxsim.New(cfg, pbxsim.WithStrictSlashes(), pbxsim.WithClock(clock.Now), pbxsim.WithSeed(7))
	if err != nil {
		t.Fatalf("pbxsim.New: %v", err)
	}
	var h http.Handler = sim
	if handler != nil {
		h = handler(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{sim: sim, srv: srv, clock: clock}
}

// client returns a client of the trusted demo app with no client-side pacing; opts override.
func (f *fixture) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	base := []Option{
		WithCredentials(pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret),
		WithRateLimit(0, 0),
		withClock(f.clock.Now),
	}
	c, err := New(f.srv.URL, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// count returns the simulator's request count for a method and a path template under the API
// (or the token path).
func (f *fixture) count(method, template string) int {
	if template != tokenPath {
		template = apiPrefix + template
	}
	return f.sim.RequestTotal(method, template)
}

// mustCreateExtension creates an active phone extension with a short name.
func mustCreateExtension(t *testing.T, c *Client, number string) *Extension {
	t.Helper()
	e, err := c.Extensions.Create(context.Background(), demo, ExtensionCreate{
		Name: number, Type: ExtensionTypePhone, Status: StatusActive,
	})
	if err != nil {
		t.Fatalf("creating extension %s: %v", number, err)
	}
	return e
}
