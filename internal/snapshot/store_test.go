package snapshot_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/cloudpbx/pbx-operator/internal/snapshot"
)

type item struct {
	ID    int64
	Name  string
	Label string
}

// upstream is a fake PBX collection whose list calls are counted.
type upstream struct {
	mu    sync.Mutex
	items []item
	lists atomic.Int32
	// gate, when set, holds a list until it is closed.
	gate chan struct{}
}

func (u *upstream) list(ctx context.Context) ([]item, error) {
	u.lists.Add(1)
	if u.gate != nil {
		select {
		case <-u.gate:
		case <-ctx.Done(): // a refresh must not run on a reader's context
			return nil, ctx.Err()
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]item(nil), u.items...), nil
}

func newStore(u *upstream, c *clocktesting.FakeClock, changed *[]types.NamespacedName) *snapshot.Store[item] {
	var mu sync.Mutex
	return snapshot.New(snapshot.Options[item]{
		List:   u.list,
		ID:     func(i item) int64 { return i.ID },
		Key:    func(i item) string { return i.Name },
		MaxAge: time.Minute,
		Now:    c.Now,
		OnChange: func(n []types.NamespacedName) {
			mu.Lock()
			defer mu.Unlock()
			*changed = append(*changed, n...)
		},
	})
}

func TestOneListPerInterval(t *testing.T) {
	u := &upstream{items: []item{{ID: 1, Name: "101"}, {ID: 2, Name: "102"}}}
	c := clocktesting.NewFakeClock(time.Unix(0, 0))
	var changed []types.NamespacedName
	s := newStore(u, c, &changed)

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, found, err := s.Get(context.Background(), int64(i%2+1), time.Time{}); err != nil || !found {
				t.Errorf("Get: found=%t err=%v", found, err)
			}
		})
	}
	wg.Wait()
	if n := u.lists.Load(); n != 1 {
		t.Errorf("50 concurrent reads of a cold store: want 1 list, got %d", n)
	}
	c.Step(59 * time.Second)
	if got, _ := s.Find(context.Background(), "102", time.Time{}); len(got) != 1 || got[0].ID != 2 {
		t.Errorf("Find: got %v", got)
	}
	if n := u.lists.Load(); n != 1 {
		t.Errorf("within the interval: want no new list, got %d", n)
	}
	c.Step(2 * time.Second)
	if _, _, err := s.Get(context.Background(), 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := u.lists.Load(); n != 2 {
		t.Errorf("after the interval: want a second list, got %d", n)
	}
}

func TestReadYourWritesAndDrift(t *testing.T) {
	u := &upstream{items: []item{{ID: 1, Name: "101"}, {ID: 2, Name: "102"}, {ID: 3, Name: "103"}}}
	c := clocktesting.NewFakeClock(time.Unix(0, 0))
	var changed []types.NamespacedName
	s := newStore(u, c, &changed)
	ctx := context.Background()
	if _, _, err := s.Get(ctx, 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	s.Own(1, a)
	s.Own(2, b)

	// Our own write is visible at once, before any list.
	s.Put(item{ID: 4, Name: "104", Label: "new"})
	if got, _ := s.Find(ctx, "104", time.Time{}); len(got) != 1 || got[0].Label != "new" {
		t.Errorf("read-your-writes: got %v", got)
	}

	// Upstream, 1 changes and 2 vanishes; 3 (owned by nobody) changes too.
	u.mu.Lock()
	u.items = []item{{ID: 1, Name: "101", Label: "edited"}, {ID: 3, Name: "103", Label: "x"}, {ID: 4, Name: "104", Label: "new"}}
	u.mu.Unlock()
	c.Step(2 * time.Minute)
	if _, found, _ := s.Get(ctx, 2, time.Time{}); found {
		t.Errorf("a vanished object is not found after the refresh")
	}
	if diff := cmp.Diff([]types.NamespacedName{a, b}, changed, sortNames); diff != "" {
		t.Errorf("owners to reconcile: -want +got:\n%s", diff)
	}
}

var sortNames = cmp.Transformer("sort", func(in []types.NamespacedName) map[types.NamespacedName]bool {
	out := map[types.NamespacedName]bool{}
	for _, n := range in {
		out[n] = true
	}
	return out
})

// readWhileListing starts a read whose list u holds at its gate, and returns once that list is
// under way; done closes when the read has returned.
func readWhileListing(t *testing.T, s *snapshot.Store[item], u *upstream) (done <-chan struct{}) {
	t.Helper()
	u.gate = make(chan struct{})
	d := make(chan struct{})
	go func() {
		defer close(d)
		if _, _, err := s.Get(context.Background(), 1, time.Time{}); err != nil {
			t.Error(err)
		}
	}()
	for u.lists.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	return d
}

func TestWriteDuringRefreshWins(t *testing.T) {
	u := &upstream{items: []item{{ID: 1, Name: "101", Label: "old"}}}
	c := clocktesting.NewFakeClock(time.Unix(0, 0))
	var changed []types.NamespacedName
	s := newStore(u, c, &changed)
	done := readWhileListing(t, s, u)
	// The list is in flight and will show the old label; our update lands meanwhile.
	s.Put(item{ID: 1, Name: "101", Label: "new"})
	s.Put(item{ID: 2, Name: "102"})
	close(u.gate)
	<-done
	got, _, _ := s.Get(context.Background(), 1, time.Time{})
	if got.Label != "new" {
		t.Errorf("a write made during a refresh wins over the list: got %q", got.Label)
	}
	if _, found, _ := s.Get(context.Background(), 2, time.Time{}); !found {
		t.Errorf("an object created during a refresh stays known")
	}
}

// failing is a collection whose lists fail while err is set.
type failing struct {
	upstream
	err error
}

func (f *failing) list(ctx context.Context) ([]item, error) {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		f.lists.Add(1)
		return nil, err
	}
	return f.upstream.list(ctx)
}

func TestInvalidateDuringRefreshListsAgain(t *testing.T) {
	u := &upstream{items: []item{{ID: 1, Name: "101"}}}
	c := clocktesting.NewFakeClock(time.Unix(0, 0))
	var changed []types.NamespacedName
	s := newStore(u, c, &changed)
	done := readWhileListing(t, s, u)
	// A create's answer is lost while the list is in flight: that list may not show the object.
	c.Step(time.Millisecond)
	s.Invalidate()
	u.mu.Lock()
	u.items = append(u.items, item{ID: 2, Name: "102"})
	u.mu.Unlock()
	close(u.gate)
	<-done
	u.gate = nil
	if got, _ := s.Find(context.Background(), "102", time.Time{}); len(got) != 1 {
		t.Errorf("after an Invalidate during a refresh, the next read lists again and finds the object: got %v", got)
	}
	if n := u.lists.Load(); n != 2 {
		t.Errorf("want 2 lists, got %d", n)
	}
}

func TestFreshnessAsked(t *testing.T) {
	u := &upstream{items: []item{{ID: 1, Name: "101"}}}
	c := clocktesting.NewFakeClock(time.Unix(0, 0))
	var changed []types.NamespacedName
	s := newStore(u, c, &changed)
	ctx := context.Background()
	if _, err := s.Find(ctx, "101", time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.Step(time.Second)
	u.mu.Lock()
	u.items = append(u.items, item{ID: 2, Name: "102"})
	u.mu.Unlock()
	if got, _ := s.Find(ctx, "102", time.Time{}); len(got) != 0 {
		t.Errorf("a plain read within the interval uses the copy: got %v", got)
	}
	since := c.Now()
	c.Step(time.Millisecond)
	if got, _ := s.Find(ctx, "102", since); len(got) != 1 {
		t.Errorf("a read that asks for a copy listed after now lists again: got %v", got)
	}
	if _, err := s.Find(ctx, "102", since); err != nil || u.lists.Load() != 2 {
		t.Errorf("a copy listed after the asked moment serves later reads: lists=%d err=%v", u.lists.Load(), err)
	}
}

func TestCancelledReaderDoesNotFailOthers(t *testing.T) {
	u := &upstream{items: []item{{ID: 1, Name: "101"}}, gate: make(chan struct{})}
	c := clocktesting.NewFakeClock(time.Unix(0, 0))
	var changed []types.NamespacedName
	s := newStore(u, c, &changed)
	first, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, _, err := s.Get(first, 1, time.Time{}); errs <- err }()
	for u.lists.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	go func() { _, _, err := s.Get(context.Background(), 1, time.Time{}); errs <- err }()
	cancel()
	if err := <-errs; err == nil {
		t.Errorf("the cancelled reader returns its context's error")
	}
	close(u.gate)
	if err := <-errs; err != nil {
		t.Errorf("the other reader gets the list that the cancelled one started: %v", err)
	}
	if n := u.lists.Load(); n != 1 {
		t.Errorf("lists: %d, want 1", n)
	}
}

// TestSlowRefreshDefersReaders: a reader waits about a second for a refresh under way, then gives
// up with an error that says when to come back (a reconcile does not hold its worker for a slow
// list), and one that finds it long under way does not wait at all; the refresh goes on and the
// next read gets it without listing again.
func TestSlowRefreshDefersReaders(t *testing.T) {
	u := &upstream{items: []item{{ID: 1, Name: "101"}}, gate: make(chan struct{})}
	c := clocktesting.NewFakeClock(time.Unix(0, 0))
	var changed []types.NamespacedName
	s := newStore(u, c, &changed)
	start := time.Now()
	_, _, err := s.Get(context.Background(), 1, time.Time{})
	var d interface{ Deferred() time.Duration }
	if !errors.As(err, &d) || d.Deferred() <= 0 {
		t.Fatalf("a read of a refresh still under way: got %v, want an error that says when to come back", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("the reader waited %v, want about a second", took)
	}
	// The refresh has been under way for 5 s: a reader does not wait at all, and comes back after
	// about that long.
	c.Step(5 * time.Second)
	start = time.Now()
	_, _, err = s.Get(context.Background(), 1, time.Time{})
	if !errors.As(err, &d) || d.Deferred() != 5*time.Second {
		t.Errorf("a read of a refresh 5 s under way: got %v, want an error that says to come back in 5 s", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("that reader waited %v, want no wait", took)
	}
	close(u.gate)
	// The refresh ends a moment after the gate opens; a read until then is told to come back.
	deadline := time.Now().Add(5 * time.Second)
	found := false
	for err = errors.New("not read yet"); err != nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, found, err = s.Get(context.Background(), 1, time.Time{})
	}
	if err != nil || !found {
		t.Errorf("the next read: found %t, %v", found, err)
	}
	if n := u.lists.Load(); n != 1 {
		t.Errorf("lists: %d, want 1 (the refresh went on)", n)
	}
}

func TestFailedRefreshBacksOff(t *testing.T) {
	f := &failing{upstream: upstream{items: []item{{ID: 1, Name: "101"}}}, err: context.DeadlineExceeded}
	c := clocktesting.NewFakeClock(time.Unix(0, 0))
	s := snapshot.New(snapshot.Options[item]{
		List: f.list, ID: func(i item) int64 { return i.ID }, Key: func(i item) string { return i.Name },
		MaxAge: time.Minute, Now: c.Now,
	})
	for range 10 {
		if _, _, err := s.Get(context.Background(), 1, time.Time{}); err == nil {
			t.Fatal("a failed list is an error")
		}
	}
	if n := f.lists.Load(); n != 1 {
		t.Errorf("reads during the backoff do not list again: want 1 list, got %d", n)
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	c.Step(2 * time.Second)
	if _, found, err := s.Get(context.Background(), 1, time.Time{}); err != nil || !found {
		t.Errorf("after the backoff the next read lists again: found=%t err=%v", found, err)
	}
}

func TestOwnersArePruned(t *testing.T) {
	u := &upstream{items: []item{{ID: 1, Name: "101"}, {ID: 2, Name: "102"}}}
	c := clocktesting.NewFakeClock(time.Unix(0, 0))
	var changed []types.NamespacedName
	s := newStore(u, c, &changed)
	if _, _, err := s.Get(context.Background(), 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	s.Own(1, a)
	s.Own(2, a) // a lost 1 and made 2
	s.Own(2, b) // b took 2 over (a resolved conflict)
	if n := s.Owners(); n != 1 {
		t.Errorf("one owner per object and one object per owner: want 1, got %d", n)
	}
	s.Disown(b)
	s.Own(1, a)
	s.Delete(1)
	if n := s.Owners(); n != 0 {
		t.Errorf("disowned and deleted objects are forgotten: want 0, got %d", n)
	}
	s.Own(2, b)
	u.mu.Lock()
	u.items = u.items[:1]
	u.mu.Unlock()
	c.Step(2 * time.Minute)
	if _, _, err := s.Get(context.Background(), 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := s.Owners(); n != 0 {
		t.Errorf("an owner whose object vanished is told once and forgotten: want 0 owners, got %d", n)
	}
	if diff := cmp.Diff([]types.NamespacedName{b}, changed); diff != "" {
		t.Errorf("drift: -want +got:\n%s", diff)
	}
}
