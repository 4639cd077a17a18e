package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// writeKey is one series of API-server writes.
type writeKey struct {
	Verb        string `json:"verb"`
	Group       string `json:"group,omitempty"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource,omitempty"`
}

// writeVerbs are the verbs of apiserver_request_total that change something.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true, "DELETECOLLECTION": true, "APPLY": true}

// apiMetrics reads kube-apiserver's /metrics with the admin kubeconfig's credentials.
type apiMetrics struct {
	client *http.Client
	url    string
}

// writes returns apiserver_request_total of the write verbs, summed over codes, scopes,
// components and versions, and the time the API server spent on them.
func (m *apiMetrics) writes(ctx context.Context) (writeTotals, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return nil, err
	}
	res, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	defer res.Body.Close() //nolint:errcheck // read to the end
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading the API server's metrics: %s", res.Status)
	}
	return parseWrites(res.Body)
}

// writeTotals are the API server's counters of one series of writes: requests, and the seconds
// it spent serving them (apiserver_request_duration_seconds_sum).
type writeTotals map[writeKey]*writeTotal

type writeTotal struct{ count, seconds float64 }

// parseWrites reads apiserver_request_total and apiserver_request_duration_seconds_sum of the write
// verbs from the Prometheus text format.
func parseWrites(r io.Reader) (writeTotals, error) {
	out := writeTotals{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, isCount := strings.CutPrefix(line, "apiserver_request_total{")
		if !isCount {
			var isSum bool
			if rest, isSum = strings.CutPrefix(line, "apiserver_request_duration_seconds_sum{"); !isSum {
				continue
			}
		}
		end := strings.LastIndexByte(rest, '}')
		if end < 0 {
			continue
		}
		labels := parseLabels(rest[:end])
		if !writeVerbs[labels["verb"]] || labels["dry_run"] != "" {
			continue
		}
		f := strings.Fields(rest[end+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", line, err)
		}
		k := writeKey{Verb: labels["verb"], Group: labels["group"], Resource: labels["resource"], Subresource: labels["subresource"]}
		t := out[k]
		if t == nil {
			t = &writeTotal{}
			out[k] = t
		}
		if isCount {
			t.count += v
		} else {
			t.seconds += v
		}
	}
	return out, sc.Err()
}

// parseLabels parses the inside of a Prometheus label set: name="value",... with \" \\ \n escapes.
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			break
		}
		name := strings.TrimSpace(s[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				if s[i] == 'n' {
					val.WriteByte('\n')
					continue
				}
			}
			val.WriteByte(s[i])
		}
		out[name] = val.String()
		s = strings.TrimPrefix(s[min(i+1, len(s)):], ",")
	}
	return out
}

// writeCount is the number of API-server writes of one series in a phase, and the mean time the
// API server took to serve one (from the request's arrival, so without any wait in the client).
type writeCount struct {
	writeKey
	Count  int     `json:"count"`
	MeanMS float64 `json:"meanServerMs"`
}

// diffWrites returns the writes between two readings, largest first.
func diffWrites(before, after writeTotals) []writeCount {
	var out []writeCount
	for k, a := range after {
		b := before[k]
		if b == nil {
			b = &writeTotal{}
		}
		if n := int(a.count - b.count + 0.5); n > 0 {
			out = append(out, writeCount{writeKey: k, Count: n, MeanMS: round3(1000 * (a.seconds - b.seconds) / float64(n))})
		}
	}
	slices.SortFunc(out, func(a, b writeCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Verb+a.Resource+a.Subresource, b.Verb+b.Resource+b.Subresource)
	})
	return out
}

// cpuSample holds the CPU time used so far by the processes of a run and by the whole machine.
type cpuSample struct {
	manager, apiserver, etcd, pbxsim, bench, children, machine time.Duration
	// managers is each manager's, in shard order, when the run has several (manager is their sum).
	managers []time.Duration
}

// cpuUse is the CPU time in seconds each process used during a phase. Kubectl is the kubectl
// invocations of the bench (the apply, the delete); machine is every process on the machine,
// including other users'. Manager is all the run's managers together, Managers each one's in
// shard order when there are several.
type cpuUse struct {
	Manager   float64   `json:"manager"`
	Managers  []float64 `json:"managers,omitempty"`
	APIServer float64   `json:"kubeAPIServer"`
	Etcd      float64   `json:"etcd"`
	PBXSim    float64   `json:"pbxsim"`
	Kubectl   float64   `json:"kubectl"`
	Bench     float64   `json:"bench"`
	Machine   float64   `json:"machine"`
}

func (a cpuSample) since(b cpuSample) cpuUse {
	sec := func(x, y time.Duration) float64 { return round3((x - y).Seconds()) }
	u := cpuUse{
		Manager: sec(a.manager, b.manager), APIServer: sec(a.apiserver, b.apiserver), Etcd: sec(a.etcd, b.etcd),
		PBXSim: sec(a.pbxsim, b.pbxsim), Kubectl: sec(a.children, b.children), Bench: sec(a.bench, b.bench),
		Machine: sec(a.machine, b.machine),
	}
	if len(a.managers) > 1 && len(a.managers) == len(b.managers) {
		for i := range a.managers {
			u.Managers = append(u.Managers, sec(a.managers[i], b.managers[i]))
		}
	}
	return u
}

// controlPlane holds the process ids of this program's kube-apiserver and etcd.
type controlPlane struct{ apiserver, etcd int }

// findControlPlane finds kube-apiserver and etcd among this program's child processes.
func findControlPlane() controlPlane {
	var cp controlPlane
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		data, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(data)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		f := strings.Fields(s[closing+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		switch s[open+1 : closing] {
		case "kube-apiserver":
			cp.apiserver = pid
		case "etcd":
			cp.etcd = pid
		}
	}
	return cp
}

func (b *bench) sampleCPU(s *stack) cpuSample {
	var c cpuSample
	for _, m := range s.mgrs {
		t, _ := m.proc.CPU()
		c.manager += t
		if len(s.mgrs) > 1 {
			c.managers = append(c.managers, t)
		}
	}
	c.pbxsim, _ = s.sim.CPU()
	if b.cp.apiserver != 0 {
		c.apiserver, _ = localenv.CPUTime(b.cp.apiserver)
	}
	if b.cp.etcd != 0 {
		c.etcd, _ = localenv.CPUTime(b.cp.etcd)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.bench = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		c.children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c.machine = machineBusy()
	return c
}

// machineBusy returns the CPU time all processors of the machine spent busy since boot (everything
// but idle and iowait in /proc/stat).
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// phase is what one part of a run cost.
type phase struct {
	Seconds float64 `json:"seconds"`
	// PBXCalls counts the PBX requests by method (the token endpoint as "token"), and the 429 answers among them as "429".
	PBXCalls map[string]int `json:"pbxCalls"`
	// PBXRequests are pbxsim's counters by method, path and status.
	PBXRequests []pbxsim.RequestCount `json:"pbxRequests"`
	Writes      []writeCount          `json:"apiServerWrites"`
	CPU         cpuUse                `json:"cpuSeconds"`
	// PeakRSSMiB is the manager's highest resident memory from its start to the end of the phase
	// (with several managers, the highest of them).
	PeakRSSMiB float64 `json:"managerPeakRSSMiBSoFar"`
}

// mark is the state of the counters at the start of a phase.
type mark struct {
	at     time.Time
	writes writeTotals
	cpu    cpuSample
}

// begin resets pbxsim's request counters and reads the API server's and the CPU counters.
func (b *bench) begin(ctx context.Context, s *stack) (mark, error) {
	if err := localenv.SimAdmin(ctx, s.simURL, http.MethodDelete, "/requests", nil, nil); err != nil {
		return mark{}, err
	}
	w, err := b.metrics.writes(ctx)
	if err != nil {
		return mark{}, err
	}
	return mark{at: time.Now(), writes: w, cpu: b.sampleCPU(s)}, nil
}

// end returns what happened since m.
func (b *bench) end(ctx context.Context, s *stack, m mark) (phase, error) {
	cpu := b.sampleCPU(s)
	p := phase{Seconds: round3(time.Since(m.at).Seconds()), CPU: cpu.since(m.cpu), PBXCalls: map[string]int{}}
	p.PeakRSSMiB = s.peakRSS()
	w, err := b.metrics.writes(ctx)
	if err != nil {
		return p, err
	}
	p.Writes = diffWrites(m.writes, w)
	if err := localenv.SimAdmin(ctx, s.simURL, http.MethodGet, "/requests", nil, &p.PBXRequests); err != nil {
		return p, err
	}
	for _, rc := range p.PBXRequests {
		verb := rc.Method
		if strings.HasPrefix(rc.Path, pbxsim.TokenPath) {
			verb = "token"
		}
		p.PBXCalls[verb] += rc.Count
		if rc.Status == http.StatusTooManyRequests {
			p.PBXCalls["429"] += rc.Count
		}
	}
	return p, nil
}

// peakRSS is the highest resident memory of the run's managers so far (VmHWM), in MiB.
func (s *stack) peakRSS() float64 {
	peak := 0.0
	for _, m := range s.mgrs {
		if b, err := m.proc.PeakRSS(); err == nil {
			peak = max(peak, mib(b))
		}
	}
	return peak
}

// machineInfo describes the machine the figures come from.
type machineInfo struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpuModel"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
}

func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAvg returns the machine's 1-minute load average.
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	l, _ := strconv.ParseFloat(f[0], 64)
	return l
}
