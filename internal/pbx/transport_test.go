package pbx

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// requestCounts reads pbx_client_requests_total as "METHOD resource code" → count, and the
// latency histogram's sample counts as "METHOD resource" → count.
func requestCounts(t *testing.T, reg *prometheus.Registry) (map[string]float64, map[string]uint64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts, latencies := map[string]float64{}, map[string]uint64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "pbx_client_requests_total":
				counts[labels["method"]+" "+labels["resource"]+" "+labels["code"]] = m.GetCounter().GetValue()
			case "pbx_client_request_duration_seconds":
				latencies[labels["method"]+" "+labels["resource"]] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	return counts, latencies
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	c := f.client(t, WithMetrics(reg))
	ctx := context.Background()
	if _, err := c.Users.Me(ctx); err != nil {
		t.Fatal(err)
	}
	e := mustCreateExtension(t, c, "101")
	if _, err := c.Extensions.Get(ctx, demo, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Extensions.Get(ctx, demo, 999); !IsNotFound(err) {
		t.Fatal(err)
	}
	if _, err := c.Phones.Get(ctx, ExtensionNameRealm("101")); err != nil {
		t.Fatal(err)
	}
	f.sim.AddFault(pbxsim.Fault{Path: "/api/ver1.0/timezone/", DropAfterCommit: true})
	if _, err := c.Timezones.List(ctx); err == nil {
		t.Fatal("Timezones.List: want a transport error")
	}
	// A second client for the same account reuses the collectors.
	again := f.client(t, WithMetrics(reg))
	if _, err := again.Users.Me(ctx); err != nil {
		t.Fatal(err)
	}

	counts, latencies := requestCounts(t, reg)
	want := map[string]float64{
		"POST /oauth/token 200":                     2,
		"GET /user/ 200":                            2,
		"POST /client/{realm_id}/extension/ 201":    1,
		"GET /client/{realm_id}/extension/{id} 200": 1,
		"GET /client/{realm_id}/extension/{id} 404": 1,
		"GET /extension/{realm_id}/phone/ 200":      1,
		"GET /timezone/ error":                      1,
	}
	// The failures the alerts watch for exist at 0 from the first request of each method and
	// resource.
	for _, sent := range []string{"POST /oauth/token", "GET /user/", "POST /client/{realm_id}/extension/",
		"GET /client/{realm_id}/extension/{id}", "GET /extension/{realm_id}/phone/", "GET /timezone/"} {
		for _, code := range []string{"429", "error"} {
			want[sent+" "+code] += 0
		}
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("pbx_client_requests_total (never an id or a name in a label): -want, +got:\n%s", diff)
	}
	if n := latencies["GET /client/{realm_id}/extension/{id}"]; n != 2 {
		t.Errorf("latency samples of GET /client/{realm_id}/extension/{id}: got %d, want 2", n)
	}
}

// logSink collects the lines of a funcr logger.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) write(prefix, args string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, args)
}

func (s *logSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

func TestLoggingRedactsSecrets(t *testing.T) {
	f := newFixture(t)
	var sink logSink
	c := f.client(t, WithLogger(funcr.New(sink.write, funcr.Options{Verbosity: 2})))
	ctx := context.Background()
	e := mustCreateExtension(t, c, "101")
	if _, err := c.Phones.Update(ctx, ExtensionRealm(e.ID), PhoneUpdate{Password: Set("s3cret-SIP"), RecordEnabled: Set(true)}); err != nil {
		t.Fatal(err)
	}
	token := c.http.Transport.(*authTransport).tokens.valid().AccessToken

	logs := sink.text()
	for _, secret := range []string{pbxsim.DemoAppSecret, "s3cret-SIP", token} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain the secret %q:\n%s", secret, logs)
		}
	}
	// The message is the subject here: the redacted fields are still named, and the rest shows.
	for _, shown := range []string{`"client_secret"=["[REDACTED]"]`, `"Authorization"="[REDACTED]"`, `"password"="[REDACTED]"`, `"record_enabled"=true`, `"status"=201`} {
		if !strings.Contains(logs, shown) {
			t.Errorf("the logs lack %s:\n%s", shown, logs)
		}
	}
}

func TestLoggingOffBelowV2(t *testing.T) {
	f := newFixture(t)
	var sink logSink
	c := f.client(t, WithLogger(funcr.New(sink.write, funcr.Options{Verbosity: 1})))
	if _, err := c.Users.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if logs := sink.text(); logs != "" {
		t.Errorf("request traces at V(1): got %s, want none", logs)
	}
}

func TestTemplateOfForeignRequest(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://pbx.example/api/ver1.0/client/1/extension/5", nil)
	if got := templateOf(req.Context()); got != "other" {
		t.Errorf("a request the client did not build: resource %q, want other (never the raw path)", got)
	}
}
