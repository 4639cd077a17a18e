package main

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseWrites(t *testing.T) {
	metrics := `# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 7
apiserver_request_total{code="409",component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="All",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="APPLY",version="v1alpha1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="namespace",subresource="",verb="LIST",version="v1alpha1"} 9
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 2.0
apiserver_request_duration_seconds_bucket{verb="PATCH",le="0.1"} 4
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 0.4
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 8
`
	got, err := parseWrites(strings.NewReader(metrics))
	if err != nil {
		t.Fatal(err)
	}
	patch := writeKey{Verb: "PATCH", Group: "pbx.cloudpbx.dev", Resource: "extensions"}
	want := map[writeKey]writeTotal{
		patch: {8, 0.4},
		{Verb: "PATCH", Group: "pbx.cloudpbx.dev", Resource: "extensions", Subresource: "status"}: {3, 0},
		{Verb: "POST", Group: "events.k8s.io", Resource: "events"}:                                {2, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] == nil || *got[k] != v {
			t.Errorf("%v: got %v, want %v", k, got[k], v)
		}
	}
	diff := diffWrites(writeTotals{patch: {count: 6, seconds: 0.1}}, got)
	if len(diff) != 3 || diff[0].Count != 3 || diff[2].Count != 2 || diff[1].MeanMS != 150 {
		t.Errorf("diffWrites: %+v", diff)
	}
}

func TestParseLabels(t *testing.T) {
	got := parseLabels(`a="1",b="x\"y",c="",d="p\\q"`)
	want := map[string]string{"a": "1", "b": `x"y`, "c": "", "d": `p\q`}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestPlan(t *testing.T) {
	runs, err := plan("100, 1000", "0,20ms", "1", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []runSpec{{100, 0, 0}, {100, 20 * time.Millisecond, 0}, {1000, 0, 0}, {1000, 20 * time.Millisecond, 0}, {10000, 0, 0}, {10000, 20 * time.Millisecond, 0}}
	if len(runs) != len(want) {
		t.Fatalf("got %v, want %v", runs, want)
	}
	for i := range want {
		if runs[i] != want[i] {
			t.Errorf("run %d: got %v, want %v", i, runs[i], want[i])
		}
	}
	if runs[3].name() != "n1000-20ms" {
		t.Errorf("name: %s", runs[3].name())
	}
	for _, bad := range [][3]string{{"0", "0", "1"}, {"x", "0", "1"}, {"100", "fast", "1"}, {"100", "0", "0"}, {"100", "0", "x"}, {"2", "0", "3"}} {
		if _, err := plan(bad[0], bad[1], bad[2], false); err == nil {
			t.Errorf("plan(%q, %q, %q) accepted", bad[0], bad[1], bad[2])
		}
	}

	// One unsharded manager and two shards at each size; one shard is the unsharded run.
	runs, err = plan("10000", "0", "1,2,1", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0] != (runSpec{10000, 0, 0}) || runs[1] != (runSpec{10000, 0, 2}) {
		t.Fatalf("sharded plan: %v", runs)
	}
	if runs[0].name() != "n10000-0ms" || runs[1].name() != "n10000-0ms-2shards" || runs[1].managers() != 2 || runs[0].managers() != 1 {
		t.Errorf("names: %s %s", runs[0].name(), runs[1].name())
	}
}

func TestManifests(t *testing.T) {
	// Unsharded: one Account "bench" without a shard label, and unlabelled Extensions that use it,
	// as the bench always made them.
	one := runSpec{N: 3}
	if got := accountsManifest(one, "http://sim/"); got != accountManifest("n3-0ms", "http://sim/") || strings.Contains(got, "shard") {
		t.Errorf("unsharded accounts:\n%s", got)
	}
	ext := string(extensionsManifest(one))
	if strings.Count(ext, "kind: Extension") != 3 || strings.Count(ext, "name: bench\n") != 3 || strings.Contains(ext, "labels") {
		t.Errorf("unsharded Extensions:\n%s", ext)
	}

	// Two shards: an Account per shard, labelled, on its own pbxsim app; the Extensions dealt out
	// in turn, each labelled with its account's shard.
	two := runSpec{N: 5, Shards: 2}
	acc := accountsManifest(two, "http://sim/")
	for _, want := range []string{
		"name: n5-0ms-2shards\n",
		"name: bench-s1\n  namespace: n5-0ms-2shards\n  labels:\n    pbx.cloudpbx.dev/shard: s1\n",
		"name: bench-s2\n  namespace: n5-0ms-2shards\n  labels:\n    pbx.cloudpbx.dev/shard: s2\n",
		"clientID: demo-trusted\n", "clientID: bench-s2\n", "name: bench-s2-credentials\n",
	} {
		if !strings.Contains(acc, want) {
			t.Errorf("sharded accounts lack %q:\n%s", want, acc)
		}
	}
	ext = string(extensionsManifest(two))
	if got := strings.Count(ext, "pbx.cloudpbx.dev/shard: s1\n"); got != 3 {
		t.Errorf("%d Extensions on s1, want 3", got)
	}
	if got := strings.Count(ext, "pbx.cloudpbx.dev/shard: s2\n"); got != 2 {
		t.Errorf("%d Extensions on s2, want 2", got)
	}
	if !strings.Contains(ext, "name: ext-10001\n  namespace: n5-0ms-2shards\n  labels:\n    pbx.cloudpbx.dev/shard: s2\nspec:\n  accountRef:\n    kind: Account\n    name: bench-s2\n") {
		t.Errorf("the second Extension is on the second shard, with its account:\n%s", ext)
	}
	c := shardClient(2)
	if c.ID != 2 || c.Apps[0].ClientID != shardAppID(2) || c.Apps[0].User != c.Users[0].Login || c.ExtensionLen != extensionLen {
		t.Errorf("shard client: %+v", c)
	}
	if metricsPath("out", runSpec{N: 10, Shards: 2}, "s1") != "out/metrics-n10-0ms-2shards-s1.txt" || metricsPath("out", one, "") != "out/metrics-n3-0ms.txt" {
		t.Error("metricsPath")
	}
}

func TestTrackerCurve(t *testing.T) {
	tr := newTracker()
	for i := range 1000 {
		tr.first[string(rune('a'+i%26))+strings.Repeat("x", i)] = time.Duration(i) * time.Millisecond
	}
	c := tr.curve(100)
	if len(c) > 101 || c[0].Ready != 1 || c[len(c)-1].Ready != 1000 || c[len(c)-1].T != 0.999 {
		t.Errorf("curve of %d points from %+v to %+v", len(c), c[0], c[len(c)-1])
	}
}

func TestReportIsMarkdownAndSVG(t *testing.T) {
	r := report{Machine: machineInfo{CPUs: 2, CPUModel: "test", GoVersion: "go", OS: "linux/amd64"}, Command: "make bench"}
	for _, l := range []int64{0, 20} {
		r.Runs = append(r.Runs, result{
			N: 100, LatencyMS: l, Budget: 100_000, ApplySeconds: 1.5, ReadySeconds: 0.2, ReadyFromStartSeconds: 1.7,
			PollIntervalSeconds: 10, DeleteSeconds: 1,
			Create: phase{PBXCalls: map[string]int{"POST": 100, "GET": 1}, Writes: []writeCount{
				{writeKey: writeKey{Verb: "APPLY", Resource: "extensions"}, Count: 100},
				{writeKey: writeKey{Verb: "PATCH", Resource: "extensions"}, Count: 200},
				{writeKey: writeKey{Verb: "PUT", Resource: "leases"}, Count: 1},
			}},
			Steady:       phase{Seconds: 30, PBXCalls: map[string]int{"GET": 9}},
			Curve:        []point{{0.1, 10}, {1.7, 100}},
			CreatedCurve: []point{{0.05, 10}, {1.5, 100}},
		})
	}
	r.Runs = append(r.Runs, result{N: 1000, Error: "waited too long"})
	md := r.markdown()
	lines := strings.Split(md, "\n")
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "|") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 5 {
		t.Fatalf("want a header, a separator and 3 rows, got:\n%s", md)
	}
	cols := strings.Count(rows[0], "|")
	for _, row := range rows {
		if strings.Count(row, "|") != cols {
			t.Errorf("row with another number of columns than the header:\n%s\n%s", rows[0], row)
		}
	}
	if !strings.Contains(rows[2], "3.00 (manager 2.00)") || strings.Contains(rows[2], "leases") {
		t.Errorf("writes per object or the lease filter are wrong: %s", rows[2])
	}
	if !strings.Contains(rows[2], "3.0 (GET 9 in 30 s)") {
		t.Errorf("steady calls per poll: %s", rows[2])
	}

	d := xml.NewDecoder(strings.NewReader(plot(r.Runs)))
	polylines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 4 {
		t.Errorf("want two lines per converged run, got %d", polylines)
	}
	if strings.Contains(md, "managers") || strings.Contains(md, "shard") {
		t.Errorf("a table without a sharded run has no managers column:\n%s", md)
	}
}

func TestReportSharded(t *testing.T) {
	run := func(shards int, mgrs []managerResult) result {
		return result{
			N: 10000, Shards: shards, Budget: 100_000, ApplySeconds: 80, ReadySeconds: 2, ReadyFromStartSeconds: 82,
			PollIntervalSeconds: 10, DeleteSeconds: 70, PeakRSSMiB: 190, SteadyRSSMiB: 170, Managers: mgrs,
			Create: phase{PBXCalls: map[string]int{"POST": 10000}, CPU: cpuUse{Manager: 30}, Writes: []writeCount{
				{writeKey: writeKey{Verb: "APPLY", Resource: "extensions"}, Count: 10000},
				{writeKey: writeKey{Verb: "PATCH", Resource: "extensions"}, Count: 10000},
			}},
			Steady: phase{Seconds: 30, PBXCalls: map[string]int{"GET": 144}},
			Curve:  []point{{1, 5000}, {82, 10000}},
		}
	}
	r := report{Machine: machineInfo{CPUs: 2}, Command: "make bench", Runs: []result{
		run(0, nil),
		run(2, []managerResult{{Shard: "s1", Extensions: 5000, PeakRSSMiB: 110, SteadyRSSMiB: 100, CreateCPUSeconds: 14},
			{Shard: "s2", Extensions: 5000, PeakRSSMiB: 111, SteadyRSSMiB: 101, CreateCPUSeconds: 16}}),
		{N: 10000, Shards: 2, Error: "waited too long"},
	}}
	md := r.markdown()
	var rows []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "|") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 5 || !strings.HasPrefix(rows[0], "| N | managers |") {
		t.Fatalf("want a header with a managers column, a separator and 3 rows, got:\n%s", md)
	}
	for _, row := range rows {
		if strings.Count(row, "|") != strings.Count(rows[0], "|") {
			t.Errorf("row with another number of columns than the header:\n%s\n%s", rows[0], row)
		}
	}
	for i, want := range map[int][]string{
		2: {"| 10,000 | 1 |", "190 / 170 MiB", "| 30.0 s |", "48.0 (GET 144 in 30 s) |"},
		3: {"| 10,000 | 2 shards × 5,000 |", "s1 110 / 100, s2 111 / 101 MiB", "30.0 s (s1 14.0, s2 16.0)", "48.0 (GET 144 in 30 s); 24.0 per account"},
		4: {"| 10,000 | 2 shards × 5,000 |", "failed"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[i], w) {
				t.Errorf("row %d lacks %q: %s", i, w, rows[i])
			}
		}
	}
	if !strings.Contains(md, "Failed: N=10,000 at 0 ms on 2 shards: waited too long") || !strings.Contains(md, "--watch-label-selector=pbx.cloudpbx.dev/shard=s<i>") {
		t.Errorf("notes:\n%s", md)
	}
	if svg := plot(r.Runs); !strings.Contains(svg, "PBX latency 0 ms, 2 shards: all Ready") || strings.Count(svg, "<polyline") != 2 {
		t.Errorf("the plot tells the sharded run apart:\n%s", svg)
	}
}

func TestNiceStep(t *testing.T) {
	for in, want := range map[float64]float64{0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 30: 50, 0: 1} {
		if got := niceStep(in); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if got, want := percentilesOf(d), (percentiles{P50: 51, P90: 91, P99: 100, Max: 100}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := percentilesOf(nil); got != (percentiles{}) {
		t.Errorf("empty: %+v", got)
	}
}
