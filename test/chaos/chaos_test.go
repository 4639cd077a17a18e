package chaos

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// size is how big a chaos run is.
type size struct {
	name            string
	groups          int
	extensions      int // in nsMain, spread over the groups
	goneExtensions  int // in nsGone, deleted with their Account
	deleteN         int // Extensions of nsMain deleted with deletionPolicy Delete
	orphanN         int // Extensions of nsMain deleted with deletionPolicy Orphan
	subs            int // EventSubscriptions, on Extensions of nsMain that stay
	subDeleteN      int // of them deleted
	numbers         int // PhoneNumbers (at most the tenant's five DIDs), routed to Extensions that stay
	numberDeleteN   int // of them deleted
	killsCreate     int // SIGKILLs while the objects are created
	killsRecover    int // SIGKILLs while the operator recreates what the PBX lost
	killsDelete     int // SIGKILLs while the deletes run, after the one they are made around
	faultScale      float64
	waitLease       bool          // see manager.waitLease
	timeout         time.Duration // the longest wait for one convergence
	stall           time.Duration // a wait gives up when the problems stop shrinking for this long
	quiet           time.Duration // the window with faults off that must see no PBX write
	firstExtensions int           // the first extension number of nsMain
}

var (
	// shortRun runs in 'make test': it must stay well under two minutes on two cores.
	shortRun = size{
		name: "short", groups: 3, extensions: 60, goneExtensions: 6, deleteN: 6, orphanN: 4,
		subs: 8, subDeleteN: 2, numbers: 3, numberDeleteN: 1,
		killsCreate: 2, killsRecover: 1, killsDelete: 1, faultScale: 0.5,
		timeout: 2 * time.Minute, stall: 30 * time.Second, quiet: 3 * pollInterval, firstExtensions: 1000,
	}
	// longRun is CHAOS_LONG=1 ('make test-chaos'): the fault targets of docs/performance.md and docs/promises.md.
	longRun = size{
		name: "long", groups: 10, extensions: 1000, goneExtensions: 50, deleteN: 100, orphanN: 50,
		subs: 100, subDeleteN: 20, numbers: 5, numberDeleteN: 2,
		killsCreate: 6, killsRecover: 2, killsDelete: 2, faultScale: 1, waitLease: true,
		timeout: 15 * time.Minute, stall: 2 * time.Minute, quiet: 3 * pollInterval, firstExtensions: 1000,
	}
)

// faultMix is the PBX's misbehaviour on every method and path (the token endpoint included): at
// scale 1 a fifth of the reads and a quarter of the writes meet a fault (about 22% of all calls).
// Each request meets at most one; pbxsim tries the faults in this order.
func faultMix(scale float64) []pbxsim.Fault {
	p := func(x float64) float64 { return x * scale }
	var mix []pbxsim.Fault
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		mix = append(mix,
			// The change is made and the answer lost: lost creates, updates and deletes.
			pbxsim.Fault{Method: m, DropAfterCommit: true, Probability: p(0.05)},
			// The change is made and a proxy answers 5xx: the client is told it failed.
			pbxsim.Fault{Method: m, StatusAfterCommit: http.StatusGatewayTimeout, Probability: p(0.03)})
	}
	return append(mix,
		pbxsim.Fault{Status: http.StatusInternalServerError, Probability: p(0.05)},
		pbxsim.Fault{Status: http.StatusBadGateway, Probability: p(0.03)},
		pbxsim.Fault{Status: http.StatusServiceUnavailable, Probability: p(0.04)},
		// The account pauses until the reset, so a short one, and rare.
		pbxsim.Fault{Status: http.StatusTooManyRequests, Reset: time.Second, Probability: p(0.01)},
		// Past --pbx-timeout: the client gives up; a POST or PUT is still made (see pbxsim.Fault).
		pbxsim.Fault{Latency: pbxsim.Latency{Fixed: pbxTimeout + time.Second, Jitter: 2 * time.Second}, Probability: p(0.03)},
		pbxsim.Fault{Latency: pbxsim.Latency{Fixed: 200 * time.Millisecond, Jitter: 800 * time.Millisecond}, Probability: p(0.06)},
	)
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	sz := shortRun
	if os.Getenv("CHAOS_LONG") == "1" {
		sz = longRun
	}
	scenario(t, sz)
}

// chaos is one run of the scenario.
type chaos struct {
	t   *testing.T
	sz  size
	p   *plan
	m   *manager
	rnd *rand.Rand
}

// newPlan declares the groups, the Extensions, the EventSubscriptions and the PhoneNumbers of a
// run, and picks, with the run's random numbers, the Extensions to delete with each policy.
func newPlan(sz size, rnd *rand.Rand) *plan {
	p := &plan{groupByName: map[string]string{}}
	for i := range sz.groups {
		g := groupDecl{cr: fmt.Sprintf("g-%02d", i), pbxName: fmt.Sprintf("chaos-group-%02d", i)}
		p.groups = append(p.groups, g)
		p.groupByName[g.cr] = g.pbxName
	}
	perm := rnd.Perm(sz.extensions)
	role := map[int]string{}
	for _, i := range perm[:sz.deleteN] {
		role[i] = "Delete"
	}
	for _, i := range perm[sz.deleteN : sz.deleteN+sz.orphanN] {
		role[i] = "Orphan"
	}
	for i := range sz.extensions {
		p.exts = append(p.exts, extDecl{
			ns: nsMain, cr: fmt.Sprintf("e-%04d", i), number: fmt.Sprintf("%04d", sz.firstExtensions+i),
			group: p.groups[i%sz.groups].cr, orphan: role[i] == "Orphan", remove: role[i] != "",
		})
	}
	var staying []extDecl
	for _, x := range p.exts {
		if !x.remove {
			staying = append(staying, x)
		}
	}
	for i, x := range staying[:sz.subs] {
		p.subs = append(p.subs, subDecl{cr: "s-" + x.number, ext: x.cr, full: x.fullName(),
			url: "https://hooks.chaos.example/" + x.number, remove: i < sz.subDeleteN})
	}
	for i, x := range staying[len(staying)-sz.numbers:] {
		p.numbers = append(p.numbers, numberDecl{cr: fmt.Sprintf("n-%d", i+1), number: fmt.Sprintf("7495000000%d", i+1),
			ext: x.cr, full: x.fullName(), remove: i < sz.numberDeleteN})
	}
	for i := range sz.goneExtensions {
		p.exts = append(p.exts, extDecl{ns: nsGone, cr: fmt.Sprintf("x-%03d", i), number: fmt.Sprintf("%04d", 9000+i), remove: true})
	}
	return p
}

// scenario is the chaos run: creates, PBX data loss and deletes under faults and SIGKILLs, then
// the exact end state with faults off.
func scenario(t *testing.T, sz size) {
	began := time.Now()
	rnd := rand.New(rand.NewPCG(20261126, uint64(len(sz.name))))
	c := &chaos{t: t, sz: sz, p: newPlan(sz, rnd), m: &manager{t: t, waitLease: sz.waitLease}, rnd: rnd}
	c.m.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log (every restart, kills and phases marked with ===): %s", c.m.proc.Log)
			t.Log(logSummary(c.m.proc.Log))
		}
	})
	kubectl(t, "create", "namespace", nsMain)
	kubectl(t, "create", "namespace", nsGone)
	for _, f := range faultMix(sz.faultScale) {
		admin(t, http.MethodPost, "/faults", f, nil)
	}
	admin(t, http.MethodDelete, "/requests", nil, nil)
	admin(t, http.MethodDelete, "/faults/fired", nil, nil)
	total := c.p.objects()
	pbxObjects := func() int { s := snapshot(t); return len(s.Extensions) + len(s.ExtensionGroups) + len(s.Events) }

	c.phase("1: %d ExtensionGroups, %d Extensions in two accounts, %d EventSubscriptions and %d PhoneNumbers, faults on, %d SIGKILLs",
		sz.groups, len(c.p.exts), sz.subs, sz.numbers, sz.killsCreate)
	start := time.Now()
	kubectlIn(t, c.p.manifests(), "apply", "--server-side", "-f", "-")
	c.killsDuring("creates", sz.killsCreate, total, pbxObjects)
	tCreate := c.converge("1-creates", "1: every resource Ready with its own PBX object (faults on)", false, start)

	c.phase("2: the PBX loses its data (POST /_pbxsim/reset), faults on, %d SIGKILLs", sz.killsRecover)
	start = time.Now()
	admin(t, http.MethodPost, "/reset", nil, nil)
	c.killsDuring("recreating after the data loss", sz.killsRecover, total, pbxObjects)
	tRecover := c.converge("2-data-loss", "2: everything recreated, each resource with the id of its own PBX object (faults on)", false, start)

	c.phase("3: delete account %s/%s with its %d Extensions, and %d (Delete) + %d (Orphan) Extensions, %d EventSubscriptions and %d PhoneNumbers of %s, while the manager is down, faults on, then %d more SIGKILLs",
		nsGone, accountName, sz.goneExtensions, sz.deleteN, sz.orphanN, sz.subDeleteN, sz.numberDeleteN, nsMain, sz.killsDelete)
	c.p.deleted = true
	var names, subs, numbers []string
	for _, x := range c.p.exts {
		if x.remove && x.ns == nsMain {
			names = append(names, x.cr)
		}
	}
	for _, s := range c.p.subs {
		if s.remove {
			subs = append(subs, s.cr)
		}
	}
	for _, n := range c.p.numbers {
		if n.remove {
			numbers = append(numbers, n.cr)
		}
	}
	// The deletes happen while no manager runs, so the next one starts with an Account being
	// deleted whose Extensions still use it (issue 9's deadlock), whatever the timing.
	c.m.down("the deletes are made while no manager runs")
	kubectl(t, "delete", "-n", nsGone, "account", accountName, "--wait=false")
	kubectl(t, "delete", "-n", nsGone, "extensions", "--all", "--wait=false")
	kubectl(t, append([]string{"delete", "-n", nsMain, "extensions", "--wait=false"}, names...)...)
	kubectl(t, append([]string{"delete", "-n", nsMain, "eventsubscriptions", "--wait=false"}, subs...)...)
	kubectl(t, append([]string{"delete", "-n", nsMain, "phonenumbers", "--wait=false"}, numbers...)...)
	c.m.start()
	removed := len(names) + len(subs) + len(numbers) + sz.goneExtensions + 1
	c.killsDuring("deletes", sz.killsDelete, removed, func() int { return removed - c.remaining() })

	c.phase("4: faults off (DELETE /_pbxsim/faults)")
	admin(t, http.MethodDelete, "/faults", nil, nil)
	start = time.Now()
	tFinal := c.converge("4-faults-off", "4: exactly the declared world, every resource Ready and Synced (faults off)", true, start)

	c.phase("5: a quiet window of %v", sz.quiet)
	before := requestCounts(t)
	time.Sleep(sz.quiet)
	after := requestCounts(t)
	writes, reads := delta(before, after)
	if len(writes) > 0 {
		t.Errorf("quiet window: %d PBX writes in %v with everything in sync (want 0): %s\n%s",
			sum(writes), sz.quiet, describeCounts(writes), eventsSince(t, time.Now().Add(-sz.quiet)))
	}
	if o, err := observe(func() pbxsim.Snapshot { return snapshot(t) }); err != nil {
		t.Error(err)
	} else if problems := c.p.check(o, true); len(problems) > 0 && tFinal > 0 {
		t.Errorf("after the quiet window the world is no longer as declared:\n%s", report(problems))
	}

	c.numbers(began, tCreate, tRecover, tFinal, sum(reads))
}

// save writes every problem of a phase to a file in the logs' folder and returns its path.
func (c *chaos) save(id string, problems []string) string {
	path := filepath.Join(env.Dir, "problems-"+id+".txt")
	if err := os.WriteFile(path, []byte(strings.Join(problems, "\n")+"\n"), 0o600); err != nil {
		return err.Error()
	}
	return path
}

// eventsSince summarises the events of the test namespaces seen since a time: what the manager
// says it did, such as the fields an update changed.
func eventsSince(t *testing.T, since time.Time) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	count := map[string]int{}
	for _, ns := range []string{nsMain, nsGone} {
		var list eventsv1.EventList
		if err := kube.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return "listing events: " + err.Error()
		}
		for _, e := range list.Items {
			last, n := e.EventTime.Time, 1
			if last.IsZero() { // recorded through the core/v1 API
				last, n = e.DeprecatedLastTimestamp.Time, max(int(e.DeprecatedCount), 1)
			}
			if e.Series != nil {
				last, n = e.Series.LastObservedTime.Time, int(e.Series.Count)
			}
			if last.Before(since) {
				continue
			}
			count[fmt.Sprintf("%s %s/%s: %s %s", e.Regarding.Kind, e.Regarding.Namespace, e.Regarding.Name, e.Reason, e.Note)] += n
		}
	}
	keys := slices.SortedFunc(maps.Keys(count), func(a, b string) int { return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b)) })
	var b strings.Builder
	fmt.Fprintf(&b, "events since %s (%d kinds):", since.Format(time.TimeOnly), len(keys))
	for i, k := range keys {
		if i == 30 {
			b.WriteString("\n  ...")
			break
		}
		fmt.Fprintf(&b, "\n  %4d  %s", count[k], k)
	}
	return b.String()
}

// phase logs the start of a phase, in the test's output and in the manager's log.
func (c *chaos) phase(format string, a ...any) {
	line := "phase " + fmt.Sprintf(format, a...)
	c.t.Log(line)
	c.m.note(line)
}

// killsDuring kills and restarts the manager n times while something progresses towards total:
// the k-th kill comes at a random point of the k-th n-th of the way (or when progress stalls).
func (c *chaos) killsDuring(what string, n, total int, progress func() int) {
	for k := range n {
		target := int(float64(total) * (float64(k) + 0.3 + 0.5*c.rnd.Float64()) / float64(n))
		deadline := time.Now().Add(c.sz.stall)
		for progress() < target && time.Now().Before(deadline) {
			select {
			case <-c.m.proc.Done():
				c.t.Fatalf("the manager exited by itself (%v) during the %s; see %s", c.m.proc.Err(), what, c.m.proc.Log)
			case <-time.After(100 * time.Millisecond):
			}
		}
		time.Sleep(time.Duration(c.rnd.IntN(500)) * time.Millisecond)
		c.m.kill(fmt.Sprintf("during the %s, %d of %d done", what, progress(), total))
	}
}

// remaining counts the deleted resources still in the cluster.
func (c *chaos) remaining() int {
	o, err := observe(func() pbxsim.Snapshot { return pbxsim.Snapshot{} })
	if err != nil {
		c.t.Fatal(err)
	}
	n := 0
	for _, x := range c.p.exts {
		if x.remove && o.exts[x.key()] != nil {
			n++
		}
	}
	for _, s := range c.p.subs {
		if s.remove && o.subs[nsMain+"/"+s.cr] != nil {
			n++
		}
	}
	for _, x := range c.p.numbers {
		if x.remove && o.numbers[nsMain+"/"+x.cr] != nil {
			n++
		}
	}
	if o.accounts[nsGone+"/"+accountName] != nil {
		n++
	}
	return n
}

// converge waits until the world is as the plan says, and returns how long it took from start.
// It gives up at the size's timeout, or sooner when the problems stop shrinking, and then fails the
// test with every problem (the run goes on, to find what else breaks); it returns 0 then.
func (c *chaos) converge(id, what string, strict bool, start time.Time) time.Duration {
	c.t.Helper()
	best, bestAt := -1, time.Now()
	for {
		var problems []string
		o, err := observe(func() pbxsim.Snapshot { return snapshot(c.t) })
		if err != nil {
			problems = []string{"cluster: " + err.Error()}
		} else {
			problems = c.p.check(o, strict)
		}
		if len(problems) == 0 {
			d := time.Since(start)
			c.t.Logf("phase %s: converged in %v", what, d.Round(100*time.Millisecond))
			return d
		}
		if best < 0 || len(problems) < best {
			best, bestAt = len(problems), time.Now()
		}
		if time.Since(start) > c.sz.timeout || time.Since(bestAt) > c.sz.stall {
			c.t.Errorf("phase %s: not converged after %v (no fewer problems for %v); %s\nevery problem: %s",
				what, time.Since(start).Round(time.Second), time.Since(bestAt).Round(time.Second), report(problems), c.save(id, problems))
			return 0
		}
		select {
		case <-c.m.proc.Done():
			c.t.Fatalf("the manager exited by itself (%v) in phase %s; see %s", c.m.proc.Err(), what, c.m.proc.Log)
		case <-time.After(time.Second):
		}
	}
}

// numbers logs what the run did: objects, faults that fired, kills, POSTs per object and times.
func (c *chaos) numbers(began time.Time, tCreate, tRecover, tFinal time.Duration, quietReads int) {
	t := c.t
	fired := faultsFired(t)
	counts := requestCounts(t)
	requests, posts, dropped := 0, 0, 0
	for _, rc := range counts {
		requests += rc.Count
		if rc.Method == http.MethodPost && (rc.Path == pbxsim.APIPrefix+"/client/{realm_id}/extension/" || rc.Path == pbxsim.APIPrefix+"/client/{realm_id}/extension_group/" ||
			rc.Path == pbxsim.APIPrefix+"/extension/{realm_id}/event/") {
			posts += rc.Count
		}
		if rc.Status == pbxsim.StatusDropped {
			dropped += rc.Count
		}
	}
	firedTotal := 0
	kinds := slices.Sorted(maps.Keys(fired))
	var fk []string
	for _, k := range kinds {
		firedTotal += fired[k]
		fk = append(fk, fmt.Sprintf("%s=%d", k, fired[k]))
	}
	creates := 2 * c.p.objects() // everything is made twice: before and after the data loss
	round := func(d time.Duration) string {
		if d == 0 {
			return "never"
		}
		return d.Round(100 * time.Millisecond).String()
	}
	t.Logf("objects: %d ExtensionGroups, %d Extensions in %s and %d in %s (deleted with their Account); deleted %d (Delete) and %d (Orphan); %d EventSubscriptions (%d deleted), %d PhoneNumbers (%d deleted)",
		c.sz.groups, c.sz.extensions, nsMain, c.sz.goneExtensions, nsGone, c.sz.deleteN, c.sz.orphanN, c.sz.subs, c.sz.subDeleteN, c.sz.numbers, c.sz.numberDeleteN)
	t.Logf("faults fired: %d of %d PBX requests (%.1f%%): %s; answers dropped after commit: %d",
		firedTotal, requests, 100*float64(firedTotal)/float64(max(requests, 1)), strings.Join(fk, " "), dropped)
	t.Logf("SIGKILLs: %d; PBX data loss: 1; create POSTs: %d for %d objects made twice (%.2f per create)",
		c.m.kills, posts, c.p.objects(), float64(posts)/float64(creates))
	t.Logf("converged: creates %s, after the data loss %s, after faults stopped %s; reads in the quiet window: %d; whole run %v",
		round(tCreate), round(tRecover), round(tFinal), quietReads, time.Since(began).Round(time.Second))
	if c.sz.name == "long" {
		line := fmt.Sprintf("chaos summary: %d extensions + %d groups + %d subscriptions + %d numbers + %d in a deleted account, %d SIGKILLs, faults %d/%d (%.1f%%) [%s], POSTs per create %.2f, converge %s / %s / %s, pass=%v",
			c.sz.extensions, c.sz.groups, c.sz.subs, c.sz.numbers, c.sz.goneExtensions, c.m.kills, firedTotal, requests, 100*float64(firedTotal)/float64(max(requests, 1)),
			strings.Join(fk, " "), float64(posts)/float64(creates), round(tCreate), round(tRecover), round(tFinal), !t.Failed())
		t.Log(line)
		fmt.Println(line)
	}
}

// delta returns the requests made between two readings of the counters: writes (POST, PUT and
// DELETE of the API, not the token endpoint) and the number of the rest.
func delta(before, after []pbxsim.RequestCount) (writes map[pbxsim.RequestKey]int, reads map[pbxsim.RequestKey]int) {
	was := map[pbxsim.RequestKey]int{}
	for _, rc := range before {
		was[rc.RequestKey] = rc.Count
	}
	writes, reads = map[pbxsim.RequestKey]int{}, map[pbxsim.RequestKey]int{}
	for _, rc := range after {
		d := rc.Count - was[rc.RequestKey]
		if d <= 0 {
			continue
		}
		if rc.Path != pbxsim.TokenPath && (rc.Method == http.MethodPost || rc.Method == http.MethodPut || rc.Method == http.MethodDelete) {
			writes[rc.RequestKey] = d
		} else {
			reads[rc.RequestKey] = d
		}
	}
	return writes, reads
}

func sum(m map[pbxsim.RequestKey]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func describeCounts(m map[pbxsim.RequestKey]int) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b pbxsim.RequestKey) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method), cmp.Compare(a.Status, b.Status))
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s %d: %d", k.Method, k.Path, k.Status, m[k]))
	}
	return strings.Join(parts, ", ")
}

// logSummary counts the manager's error lines by message, for a first look at a failure.
func logSummary(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close() //nolint:errcheck // read only
	count := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Level, Msg, Controller, Error string
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Level != "error" {
			continue
		}
		e := line.Error
		if len(e) > 160 {
			e = e[:160] + "..."
		}
		count[fmt.Sprintf("%s [%s] %s", line.Msg, line.Controller, e)]++
	}
	keys := slices.SortedFunc(maps.Keys(count), func(a, b string) int { return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b)) })
	var b strings.Builder
	fmt.Fprintf(&b, "manager errors by message (%d kinds):", len(keys))
	for i, k := range keys {
		if i == 15 {
			b.WriteString("\n  ...")
			break
		}
		fmt.Fprintf(&b, "\n  %5d  %s", count[k], k)
	}
	return b.String()
}
