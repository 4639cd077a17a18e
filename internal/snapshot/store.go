package snapshot

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Store is one account's copy of one PBX collection. It is safe for concurrent use.
type Store[T any] struct {
	list     func(ctx context.Context) ([]T, error)
	id       func(T) int64
	key      func(T) string
	maxAge   time.Duration
	onChange func([]types.NamespacedName)
	now      func() time.Time

	mu    sync.Mutex
	items map[int64]T
	byKey map[string]map[int64]struct{}
	// owners and owned map PBX ids to the resources that manage them and back.
	owners map[int64]types.NamespacedName
	owned  map[types.NamespacedName]int64
	// loaded is when the list of the current copy started; zero before the first.
	loaded time.Time
	// seq numbers the refreshes; loadedSeq is the one of the current copy, and only a refresh
	// numbered validSeq or later shows what Invalidate asked for.
	seq, loadedSeq, validSeq uint64
	pending                  *refresh
	// failures counts the refreshes that failed in a row; retryAt is when the next may start.
	failures int
	lastErr  error
	retryAt  time.Time
	// writes made while a refresh is in flight win over what that refresh listed.
	writes map[int64]write[T]
}

// refresh is one list in flight; done is closed when it ends, with err its outcome.
type refresh struct {
	seq     uint64
	started time.Time
	done    chan struct{}
	err     error
}

type write[T any] struct {
	item    T
	deleted bool
}

// Options are the parts of a Store that depend on its kind.
type Options[T any] struct {
	// List reads the whole collection (every page).
	List func(ctx context.Context) ([]T, error)
	// ID and Key return an object's PBX id and natural key.
	ID  func(T) int64
	Key func(T) string
	// MaxAge is how long a refresh is fresh: the poll interval.
	MaxAge time.Duration
	// OnChange receives the owners of objects that changed or vanished in a refresh. It must not
	// block.
	OnChange func([]types.NamespacedName)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Backoff of the refreshes after a failed list: readers get the last error until it passes,
// instead of every reader listing again at once.
const (
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// refreshTimeout bounds one refresh (every page). A refresh runs on a context of its own, so a
// reader that gives up does not fail the others waiting for the same list.
const refreshTimeout = 2 * time.Minute

// readerWait is how long a read waits for a refresh under way (a slow PBX, a paced account) before
// it gives up with a stillReading error, so that a reconcile does not hold its worker for it. A read
// that finds a refresh under way for longer does not wait at all, and is told to come back after
// about as long as the refresh has taken so far (at most maxReaderBackoff): the resources of an
// account whose list is slow then hold no worker and do not spin.
const (
	readerWait       = time.Second
	maxReaderBackoff = 30 * time.Second
)

// stillReading is the error of a read whose refresh is still under way.
type stillReading struct{ after time.Duration }

func (*stillReading) Error() string { return "the PBX list is still being read" }

// Deferred says when to read again, for callers that classify errors by this method (the engine
// requeues the reconcile quietly).
func (e *stillReading) Deferred() time.Duration { return e.after }

// New returns an empty Store; the first read refreshes it.
func New[T any](o Options[T]) *Store[T] {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store[T]{
		list: o.List, id: o.ID, key: o.Key, maxAge: o.MaxAge, onChange: o.OnChange, now: o.Now,
		items: map[int64]T{}, byKey: map[string]map[int64]struct{}{},
		owners: map[int64]types.NamespacedName{}, owned: map[types.NamespacedName]int64{},
		writes: map[int64]write[T]{},
	}
}

// Fresh tells whether a copy read at read may serve, at now, a read that asks for a copy listed
// after since (zero: any): it is younger than maxAge (the poll interval) and not older than since.
// A read that must not trust what was listed before a given moment (a create whose answer was
// lost, a user's request to look again) passes that moment. A Store's list and any other cache of
// PBX reads (an extension's phone settings) follow this one rule.
func Fresh(read, now time.Time, maxAge time.Duration, since time.Time) bool {
	return !read.IsZero() && now.Sub(read) < maxAge && !read.Before(since)
}

// ID returns an object's PBX id.
func (s *Store[T]) ID(item T) int64 { return s.id(item) }

// Get returns the object with a PBX id from a fresh copy, listed after since (zero: any copy
// younger than MaxAge). found is false when a fresh list did not show it; the caller may confirm
// with a GET by id, since the object may be newer than the list.
func (s *Store[T]) Get(ctx context.Context, id int64, since time.Time) (item T, found bool, err error) {
	if err := s.ensureFresh(ctx, since); err != nil {
		return item, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	item, found = s.items[id]
	return item, found, nil
}

// Find returns the objects with a natural key from a fresh copy, listed after since (zero: any
// copy younger than MaxAge), in no particular order.
func (s *Store[T]) Find(ctx context.Context, key string, since time.Time) ([]T, error) {
	if err := s.ensureFresh(ctx, since); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []T
	for id := range s.byKey[key] {
		out = append(out, s.items[id])
	}
	return out, nil
}

// Put records an object as a write answer (or a GET) showed it.
func (s *Store[T]) Put(item T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.id(item)
	s.set(id, item)
	if s.pending != nil {
		s.writes[id] = write[T]{item: item}
	}
}

// Delete records that an object is gone.
func (s *Store[T]) Delete(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unset(id)
	s.disown(id)
	if s.pending != nil {
		s.writes[id] = write[T]{deleted: true}
	}
}

// Invalidate makes the next read list again, with a list that starts after this call (one
// already in flight does not count): after a write whose answer was lost, the copy cannot tell
// whether the write happened.
func (s *Store[T]) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validSeq = s.seq + 1
}

// Own records which resource manages a PBX object, so that a refresh can report its drift. A
// resource owns one object: owning another forgets the first.
func (s *Store[T]) Own(id int64, owner types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.owned[owner]; ok && old != id {
		s.disown(old)
	}
	if prev, ok := s.owners[id]; ok && prev != owner {
		delete(s.owned, prev)
	}
	s.owners[id] = owner
	s.owned[owner] = id
}

// Disown forgets what a resource manages: it was deleted, orphaned, or lost its object.
func (s *Store[T]) Disown(owner types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.owned[owner]; ok {
		s.disown(id)
	}
}

// Owners is the number of PBX objects with a known owner.
func (s *Store[T]) Owners() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.owners)
}

func (s *Store[T]) disown(id int64) {
	if owner, ok := s.owners[id]; ok {
		delete(s.owned, owner)
		delete(s.owners, id)
	}
}

func (s *Store[T]) set(id int64, item T) {
	s.unset(id)
	s.items[id] = item
	k := s.key(item)
	if s.byKey[k] == nil {
		s.byKey[k] = map[int64]struct{}{}
	}
	s.byKey[k][id] = struct{}{}
}

func (s *Store[T]) unset(id int64) {
	old, ok := s.items[id]
	if !ok {
		return
	}
	k := s.key(old)
	delete(s.byKey[k], id)
	if len(s.byKey[k]) == 0 {
		delete(s.byKey, k)
	}
	delete(s.items, id)
}

// ensureFresh refreshes the copy when it is older than MaxAge, or than since, or than the last
// Invalidate. Concurrent callers share one refresh instead of listing again.
func (s *Store[T]) ensureFresh(ctx context.Context, since time.Time) error {
	for {
		s.mu.Lock()
		valid := s.validSeq
		if s.loadedSeq >= valid && Fresh(s.loaded, s.now(), s.maxAge, since) {
			s.mu.Unlock()
			return nil
		}
		r := s.pending
		switch {
		case r != nil:
		case s.lastErr != nil && s.now().Before(s.retryAt):
			err := s.lastErr
			s.mu.Unlock()
			return fmt.Errorf("the last list failed, not trying again before the backoff passes: %w", err)
		default:
			r = s.start()
		}
		s.mu.Unlock()
		if err := s.await(ctx, r); err != nil {
			return err
		}
		if r.seq >= valid && !r.started.Before(since) {
			return r.err
		}
		// The refresh started too early to show what this read asks for: start another.
	}
}

// await waits for refresh r to end, for what is left of readerWait since it started.
func (s *Store[T]) await(ctx context.Context, r *refresh) error {
	elapsed := s.now().Sub(r.started)
	if elapsed >= readerWait {
		select {
		case <-r.done:
			return nil
		default:
			return &stillReading{after: min(elapsed, maxReaderBackoff)}
		}
	}
	t := time.NewTimer(readerWait - elapsed)
	defer t.Stop()
	select {
	case <-r.done:
		return nil
	case <-t.C:
		return &stillReading{after: readerWait}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start begins a refresh on a context of its own. The caller holds s.mu.
func (s *Store[T]) start() *refresh {
	s.seq++
	r := &refresh{seq: s.seq, started: s.now(), done: make(chan struct{})}
	s.pending = r
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		items, err := s.list(ctx)
		cancel()

		s.mu.Lock()
		var changed []types.NamespacedName
		if err == nil {
			changed = s.replace(items)
			s.loaded, s.loadedSeq = r.started, r.seq
			s.failures, s.lastErr = 0, nil
		} else {
			s.failures++
			s.lastErr = err
			s.retryAt = s.now().Add(min(minBackoff<<min(s.failures-1, 10), maxBackoff))
		}
		r.err = err
		s.pending = nil
		clear(s.writes)
		s.mu.Unlock()
		// The drift is reported before the waiters go on, so a reader that saw this refresh end
		// knows its report was made.
		if len(changed) > 0 && s.onChange != nil {
			s.onChange(changed)
		}
		close(r.done)
	}()
	return r
}

// replace installs a new list, keeping writes made while it was read, and returns the owners of
// the objects that changed or vanished. An owner whose object vanished is forgotten: it is told
// once and owns whatever it makes next. The caller holds s.mu.
func (s *Store[T]) replace(items []T) []types.NamespacedName {
	old := s.items
	first := s.loaded.IsZero()
	s.items, s.byKey = map[int64]T{}, map[string]map[int64]struct{}{}
	for _, it := range items {
		s.set(s.id(it), it)
	}
	for id, w := range s.writes {
		if w.deleted {
			s.unset(id)
		} else {
			s.set(id, w.item)
		}
	}
	var changed []types.NamespacedName
	for id, owner := range s.owners {
		was, had := old[id]
		now, has := s.items[id]
		if !has {
			s.disown(id)
		}
		// The first list sets the baseline, but an owned object that is not in it is reported:
		// its owner saw it before (a write answer, a GET), and it is gone.
		if (first && !has) || (!first && (had != has || (has && !reflect.DeepEqual(was, now)))) {
			changed = append(changed, owner)
		}
	}
	return changed
}
