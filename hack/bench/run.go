package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/localenv"
)

// result is what one run measured.
type result struct {
	N         int   `json:"n"`
	LatencyMS int64 `json:"pbxLatencyMs"`
	// Shards is the number of shard managers, each with one Account and N/Shards of the
	// Extensions; 0 is one unsharded manager.
	Shards  int     `json:"shards,omitempty"`
	Budget  int     `json:"budgetPerHour"`
	LoadAvg float64 `json:"loadAverageAtStart"`
	// ApplySeconds is how long 'kubectl apply' of all Extensions took.
	ApplySeconds float64 `json:"applySeconds"`
	// ReadyAtApply is how many Extensions were Ready when the apply returned.
	ReadyAtApply int `json:"readyWhenApplyReturned"`
	// ReadySeconds is the time from the apply's return until all Extensions were Ready (0 when
	// they were Ready before it returned); ReadyFromStartSeconds counts from the apply's start.
	ReadySeconds          float64 `json:"readyAfterApplySeconds"`
	ReadyFromStartSeconds float64 `json:"readyAfterApplyStartSeconds"`
	// Create is the create phase: from the apply's start until settle after the last Ready.
	Create phase `json:"create"`
	// Steady is the steady-state window after the create phase.
	Steady phase `json:"steady"`
	// PollIntervalSeconds is the Account's poll interval during the run.
	PollIntervalSeconds int `json:"pollIntervalSeconds"`
	// DeleteSeconds is the time from 'kubectl delete extensions --all' until none is left.
	DeleteSeconds float64 `json:"deleteSeconds"`
	Delete        phase   `json:"delete"`
	// UpdateSeconds is the time from a label change of one Extension, after the steady window,
	// until it is Synced at its new generation.
	UpdateSeconds float64 `json:"updateSeconds"`
	// DeleteSkipped says the delete phase did not run (--keep).
	DeleteSkipped bool `json:"deleteSkipped,omitempty"`
	// Leftovers are the extensions still in the PBX after the delete.
	Leftovers int `json:"leftovers"`
	// SteadyRSSMiB is the manager's resident memory at the end of the steady window, PeakRSSMiB its
	// highest over the whole run (VmHWM).
	// With several managers, they are the highest of them; Managers has each one's.
	SteadyRSSMiB float64 `json:"steadyRSSMiB"`
	PeakRSSMiB   float64 `json:"peakRSSMiB"`
	// Managers are the shard managers of a sharded run, in shard order.
	Managers []managerResult `json:"managers,omitempty"`
	// Curve is the number of Extensions Ready over time since the apply started, CreatedCurve the
	// number that existed (the apply's progress).
	Curve        []point `json:"readyCurve"`
	CreatedCurve []point `json:"createdCurve"`
	// ObjectReady is the time from an Extension's creation to its Ready, over all Extensions.
	ObjectReady percentiles `json:"objectReadyMs"`
	Error       string      `json:"error,omitempty"`
}

// managerResult is what one manager of a sharded run used.
type managerResult struct {
	Shard string `json:"shard"`
	// Extensions is the number of Extensions of the shard's Account.
	Extensions   int     `json:"extensions"`
	PeakRSSMiB   float64 `json:"peakRSSMiB"`
	SteadyRSSMiB float64 `json:"steadyRSSMiB"`
	// CreateCPUSeconds is the manager's CPU time in the create phase.
	CreateCPUSeconds float64 `json:"createCPUSeconds"`
}

// point is one sample of the Ready curve.
type point struct {
	T     float64 `json:"t"`
	Ready int     `json:"ready"`
}

// run makes one run on a fresh pbxsim, manager, namespace and Account.
func (b *bench) run(ctx context.Context, spec runSpec) (res result, err error) {
	res = result{N: spec.N, LatencyMS: spec.Latency.Milliseconds(), Shards: spec.Shards, Budget: b.budget, LoadAvg: loadAvg(),
		PollIntervalSeconds: int(pollInterval.Seconds())}
	if spec.sharded() {
		progress("Run %s: starting pbxsim, %d Accounts and %d shard managers (load average %.2f)", spec, spec.Shards, spec.Shards, res.LoadAvg)
	} else {
		progress("Run %s: starting pbxsim, the Account and the manager (load average %.2f)", spec, res.LoadAvg)
	}
	s, err := b.startStack(ctx, spec)
	defer func() {
		s.stop()
	}()
	// Before the managers stop (deferred calls run last first); res is the result returned.
	defer func() { res.Managers = managerResults(spec, s, res.Create.CPU) }()
	if err != nil {
		return res, err
	}
	ns := spec.name()
	tr := newTracker()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go tr.run(wctx, b.kube, ns)
	if err := b.waitFor(ctx, s, tr, "the first list of Extensions", time.Minute, func(int, int) bool {
		ok, _ := tr.isSynced()
		return ok
	}); err != nil {
		return res, err
	}

	// Create: one kubectl apply of every Extension, then wait until all are Ready.
	m, err := b.begin(ctx, s)
	if err != nil {
		return res, err
	}
	manifest := extensionsManifest(spec)
	progress("Run %s: kubectl apply --server-side -f - (%d Extensions)", spec, spec.N)
	start := time.Now()
	tr.setStart(start)
	if _, err := b.env.KubectlIn(ctx, manifest, "apply", "--server-side", "-f", "-"); err != nil {
		return res, err
	}
	applied := time.Now()
	res.ApplySeconds = round3(applied.Sub(start).Seconds())
	_, res.ReadyAtApply = tr.counts()
	err = b.waitFor(ctx, s, tr, "all Extensions Ready", b.timeout, func(present, ready int) bool {
		return present == spec.N && ready == spec.N
	})
	done := time.Now()
	res.Curve, res.CreatedCurve = tr.curve(400), tr.createdCurve(400)
	res.ObjectReady = percentilesOf(tr.latencies())
	if err != nil {
		return res, err
	}
	res.ReadyFromStartSeconds = round3(done.Sub(start).Seconds())
	res.ReadySeconds = round3(max(0, done.Sub(applied).Seconds()))
	progress("Run %s: all Ready %.2f s after the apply returned (the apply took %.2f s)", spec, res.ReadySeconds, res.ApplySeconds)
	if err := sleep(ctx, settle); err != nil {
		return res, err
	}
	if res.Create, err = b.end(ctx, s, m); err != nil {
		return res, err
	}

	// Steady state: nothing changes; the Account polls every pollInterval.
	progress("Run %s: steady-state window of %s", spec, b.steady)
	if m, err = b.begin(ctx, s); err != nil {
		return res, err
	}
	if err := sleep(ctx, b.steady); err != nil {
		return res, err
	}
	if res.Steady, err = b.end(ctx, s, m); err != nil {
		return res, err
	}
	res.SteadyRSSMiB = s.rss()

	// A user's edit after the batch: how soon it reaches the PBX (a small budget must still serve it).
	if res.UpdateSeconds, err = b.edit(ctx, ns, "ext-10000"); err != nil {
		return res, err
	}
	progress("Run %s: an edit of one Extension was Synced %.2f s after it was written", spec, res.UpdateSeconds)

	if b.keep {
		res.DeleteSkipped = true
		res.PeakRSSMiB = s.peakRSS()
		progress("Run %s: the delete phase is skipped (--keep)", spec)
		return res, nil
	}
	// Delete everything, then count what is left in the PBX.
	progress("Run %s: kubectl delete extensions --all", spec)
	if m, err = b.begin(ctx, s); err != nil {
		return res, err
	}
	start = time.Now()
	if _, err := b.env.Kubectl(ctx, "delete", "extensions", "--all", "-n", ns, "--wait=false"); err != nil {
		return res, err
	}
	if err := b.waitFor(ctx, s, tr, "all Extensions gone", b.timeout, func(present, _ int) bool {
		return present == 0
	}); err != nil {
		return res, err
	}
	res.DeleteSeconds = round3(time.Since(start).Seconds())
	if err := sleep(ctx, settle); err != nil {
		return res, err
	}
	if res.Delete, err = b.end(ctx, s, m); err != nil {
		return res, err
	}
	snap, err := localenv.SimSnapshot(ctx, s.simURL)
	if err != nil {
		return res, err
	}
	res.Leftovers = len(snap.Extensions)
	res.PeakRSSMiB = s.peakRSS()
	who := "manager"
	if spec.sharded() {
		who = "highest shard manager's"
	}
	progress("Run %s: deleted in %.2f s, %d left in the PBX; %s peak RSS %.0f MiB", spec, res.DeleteSeconds, res.Leftovers, who, res.PeakRSSMiB)

	// The Accounts go while the managers still run, so that their finalizers are released; the
	// namespace stays (the local control plane runs no namespace controller to empty it).
	if _, err := b.env.Kubectl(ctx, "delete", "accounts", "--all", "-n", ns, "--timeout=60s"); err != nil {
		progress("Run %s: deleting the Accounts: %v", spec, err)
	}
	return res, nil
}

// managerResults is each shard manager's memory and create CPU, read at the end of a sharded run
// while the managers still run (nil for one unsharded manager, whose figures are the run's).
func managerResults(spec runSpec, s *stack, create cpuUse) []managerResult {
	if !spec.sharded() || s == nil {
		return nil
	}
	var out []managerResult
	for i, m := range s.mgrs {
		r := managerResult{Shard: m.shard, Extensions: spec.N / spec.Shards}
		if i < spec.N%spec.Shards {
			r.Extensions++
		}
		if peak, err := m.proc.PeakRSS(); err == nil {
			r.PeakRSSMiB = mib(peak)
		}
		r.SteadyRSSMiB = m.steadyRSS
		if i < len(create.Managers) {
			r.CreateCPUSeconds = create.Managers[i]
		}
		out = append(out, r)
	}
	return out
}

// edit changes the label of one Extension and returns the seconds until it is Synced at the new
// generation (the label reached the PBX).
func (b *bench) edit(ctx context.Context, ns, name string) (float64, error) {
	var e v1alpha1.Extension
	key := client.ObjectKey{Namespace: ns, Name: name}
	if err := b.kube.Get(ctx, key, &e); err != nil {
		return 0, err
	}
	start := time.Now()
	patch := client.MergeFrom(e.DeepCopy())
	e.Spec.Label = "Edited " + e.Spec.Label
	if err := b.kube.Patch(ctx, &e, patch); err != nil {
		return 0, err
	}
	gen := e.Generation
	deadline := time.Now().Add(b.timeout)
	for time.Now().Before(deadline) {
		if err := b.kube.Get(ctx, key, &e); err != nil {
			return 0, err
		}
		if c := meta.FindStatusCondition(e.Status.Conditions, v1alpha1.ConditionSynced); c != nil &&
			c.Status == metav1.ConditionTrue && c.ObservedGeneration >= gen {
			return round3(time.Since(start).Seconds()), nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("the edit of %s was not Synced within %s", name, b.timeout)
}

// waitFor waits until done(present, ready) holds for the tracked Extensions, printing progress,
// and fails when the manager or pbxsim exits or the timeout passes.
func (b *bench) waitFor(ctx context.Context, s *stack, tr *tracker, what string, timeout time.Duration, done func(present, ready int) bool) error {
	start := time.Now()
	deadline := start.Add(timeout)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		present, ready := tr.counts()
		if done(present, ready) {
			return nil
		}
		if err := s.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			_, werr := tr.isSynced()
			return fmt.Errorf("waited %s for %s: %d Extensions, %d Ready (last watch error: %v)", timeout, what, present, ready, werr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tr.changed:
		case <-tick.C:
			progress("  %d Extensions, %d Ready (%.0f s)", present, ready, time.Since(start).Seconds())
		}
	}
}

// percentiles summarises durations in milliseconds.
type percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// percentilesOf summarises sorted durations.
func percentilesOf(d []time.Duration) percentiles {
	if len(d) == 0 {
		return percentiles{}
	}
	at := func(q float64) float64 {
		return round3(float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds()) / 1000)
	}
	return percentiles{P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: at(1)}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func mib(b int64) float64 { return float64(int64(float64(b)/(1<<20)*10+0.5)) / 10 }
