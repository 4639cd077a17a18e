package controller_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// BenchmarkConverge100 creates 100 Extensions at once against pbxsim and reports the time until
// all are Ready and Synced, and the PBX calls it took:
//
//	go test -run '^$' -bench Converge100 -benchtime 1x ./internal/controller/
func BenchmarkConverge100(b *testing.B) {
	for range b.N {
		w := newBenchWorld(b)
		start := time.Now()
		for i := range 100 {
			w.create(ext(w.ns, fmt.Sprintf("e%d", i), fmt.Sprintf("%03d", 500+i)))
		}
		deadline := time.Now().Add(5 * time.Minute)
		for readyCount(w)() != 100 {
			if time.Now().After(deadline) {
				b.Fatal("100 Extensions did not converge within 5 minutes")
			}
			time.Sleep(50 * time.Millisecond)
		}
		elapsed := time.Since(start)
		var writes, reads int
		for _, rc := range w.sim.Requests() {
			if !strings.HasPrefix(rc.Path, pbxsim.APIPrefix) {
				continue
			}
			if rc.Method == http.MethodGet {
				reads += rc.Count
			} else {
				writes += rc.Count
			}
		}
		b.ReportMetric(elapsed.Seconds(), "s/100-ready")
		b.ReportMetric(float64(writes), "writes")
		b.ReportMetric(float64(reads), "reads")
	}
}
