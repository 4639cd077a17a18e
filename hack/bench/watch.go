package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// tracker follows the Extensions of one namespace through a watch: which exist, which are Ready,
// and when each was first seen and first seen Ready. A watch costs the API server one stream instead of a list of
// every object per poll, and sees each change as it happens.
type tracker struct {
	mu      sync.Mutex
	start   time.Time
	ready   map[string]bool
	nReady  int
	first   map[string]time.Duration
	created map[string]time.Duration
	synced  bool
	lastErr error
	// changed gets a value (without blocking) after every change.
	changed chan struct{}
}

func newTracker() *tracker {
	return &tracker{ready: map[string]bool{}, first: map[string]time.Duration{}, created: map[string]time.Duration{},
		changed: make(chan struct{}, 1)}
}

// setStart sets the moment first-Ready times are measured from.
func (t *tracker) setStart(at time.Time) {
	t.mu.Lock()
	t.start = at
	t.mu.Unlock()
}

// counts returns how many Extensions exist and how many of them are Ready.
func (t *tracker) counts() (present, ready int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ready), t.nReady
}

// isSynced tells whether the first list is in, and the last error of the watch, if any.
func (t *tracker) isSynced() (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.synced, t.lastErr
}

// curve returns the number of Extensions Ready over time, as points (seconds since start,
// count) at each first-Ready time, thinned to at most maxPoints.
func (t *tracker) curve(maxPoints int) []point { return t.times(t.first, maxPoints) }

// createdCurve is curve for the first sight of each Extension: how the apply progressed.
func (t *tracker) createdCurve(maxPoints int) []point { return t.times(t.created, maxPoints) }

func (t *tracker) times(m map[string]time.Duration, maxPoints int) []point {
	t.mu.Lock()
	times := make([]time.Duration, 0, len(m))
	for _, d := range m {
		times = append(times, d)
	}
	t.mu.Unlock()
	slices.Sort(times)
	step := max(1, (len(times)+maxPoints-1)/maxPoints)
	pts := make([]point, 0, len(times)/step+2)
	for i := 0; i < len(times); i += step {
		pts = append(pts, point{T: round3(times[i].Seconds()), Ready: i + 1})
	}
	if n := len(times); n > 0 && pts[len(pts)-1].Ready != n {
		pts = append(pts, point{T: round3(times[n-1].Seconds()), Ready: n})
	}
	return pts
}

// latencies returns the time from its first sight to its first Ready of every Extension seen
// both ways, sorted.
func (t *tracker) latencies() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]time.Duration, 0, len(t.first))
	for name, r := range t.first {
		if c, ok := t.created[name]; ok {
			out = append(out, r-c)
		}
	}
	slices.Sort(out)
	return out
}

// run lists and then watches the Extensions of ns until ctx ends, listing again whenever the watch
// breaks.
func (t *tracker) run(ctx context.Context, kube client.WithWatch, ns string) {
	for ctx.Err() == nil {
		err := t.listAndWatch(ctx, kube, ns)
		t.mu.Lock()
		t.lastErr = err
		t.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (t *tracker) listAndWatch(ctx context.Context, kube client.WithWatch, ns string) error {
	var list v1alpha1.ExtensionList
	if err := kube.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return err
	}
	t.mu.Lock()
	clear(t.ready)
	t.nReady = 0
	for i := range list.Items {
		t.observe(&list.Items[i])
	}
	t.synced = true
	t.mu.Unlock()
	t.notify()

	w, err := kube.Watch(ctx, &v1alpha1.ExtensionList{}, client.InNamespace(ns),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			x, isExt := ev.Object.(*v1alpha1.Extension)
			switch {
			case ev.Type == watch.Error || !isExt:
				// An expired resource version or a broken stream: list again.
				return nil
			case ev.Type == watch.Deleted:
				t.mu.Lock()
				if t.ready[x.Name] {
					t.nReady--
				}
				delete(t.ready, x.Name)
				t.mu.Unlock()
			case ev.Type == watch.Added || ev.Type == watch.Modified:
				t.mu.Lock()
				t.observe(x)
				t.mu.Unlock()
			}
			t.notify()
		}
	}
}

// observe records one Extension; t.mu is held.
func (t *tracker) observe(x *v1alpha1.Extension) {
	r := meta.IsStatusConditionTrue(x.Status.Conditions, v1alpha1.ConditionReady)
	if r && !t.ready[x.Name] {
		t.nReady++
	} else if !r && t.ready[x.Name] {
		t.nReady--
	}
	t.ready[x.Name] = r
	if t.start.IsZero() {
		return
	}
	now := time.Since(t.start)
	if _, seen := t.created[x.Name]; !seen {
		t.created[x.Name] = now
	}
	if _, seen := t.first[x.Name]; r && !seen {
		t.first[x.Name] = now
	}
}

func (t *tracker) notify() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
