package pbxsim_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// benchEnv is a demo simulator over loopback HTTP holding 1,000 extensions, and a keep-alive
// client with a token.
func benchEnv(b *testing.B) (*env, string) {
	b.Helper()
	e := newEnv(b, pbxsim.DemoConfig(), pbxsim.WithStrictSlashes())
	b.Cleanup(e.srv.Close)
	tok := e.login(pbxsim.DemoTrustedAppID)
	for i := range 1000 {
		r := e.raw(http.MethodPost, pbxsim.APIPrefix+"/client/@me/extension/", tok, map[string]any{"name": fmt.Sprintf("%03d", i)}, nil)
		if r.status != http.StatusCreated {
			b.Fatalf("seeding: %d %s", r.status, r.body)
		}
	}
	e.sim.SetRateLimit(pbxsim.DemoClientID, 1<<30)
	return e, tok
}

// benchGet runs GET path in parallel over loopback and reports requests per second.
func benchGet(b *testing.B, e *env, tok, path string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	url := e.srv.URL + pbxsim.APIPrefix + path
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body) //nolint:errcheck // only the timing matters
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkGetOne measures GET of one extension by id.
func BenchmarkGetOne(b *testing.B) {
	e, tok := benchEnv(b)
	benchGet(b, e, tok, "/client/@me/extension/1500")
}

// BenchmarkList100 measures a list page of 100 extensions.
func BenchmarkList100(b *testing.B) {
	e, tok := benchEnv(b)
	benchGet(b, e, tok, "/client/@me/extension/?page=3&per_page=100")
}
