package snapshot

import (
	"context"
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

	mu      sync.Mutex
	items   map[int64]T
	byKey   map[string]map[int64]struct{}
	owners  map[int64]types.NamespacedName
	loaded  time.Time
	pending chan struct{} // closed when the refresh in flight ends
	err     error         // the error of the last refresh
	// writes made while a refresh is in flight win over what that refresh listed.
	writes map[int64]write[T]
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
	// OnChange receives the owners of objects that changed or vanished in a refresh.
	OnChange func([]types.NamespacedName)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns an empty Store; the first read refreshes it.
func New[T any](o Options[T]) *Store[T] {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store[T]{
		list: o.List, id: o.ID, key: o.Key, maxAge: o.MaxAge, onChange: o.OnChange, now: o.Now,
		items: map[int64]T{}, byKey: map[string]map[int64]struct{}{}, owners: map[int64]types.NamespacedName{},
		writes: map[int64]write[T]{},
	}
}

// MaxAge is how long a refresh stays fresh.
func (s *Store[T]) MaxAge() time.Duration { return s.maxAge }

// Get returns the object with a PBX id from a fresh copy. found is false when a fresh list did not
// show it; the caller may confirm with a GET by id, since the object may be newer than the list.
func (s *Store[T]) Get(ctx context.Context, id int64) (item T, found bool, err error) {
	if err := s.ensureFresh(ctx); err != nil {
		return item, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	item, found = s.items[id]
	return item, found, nil
}

// Find returns the objects with a natural key from a fresh copy, in no particular order.
func (s *Store[T]) Find(ctx context.Context, key string) ([]T, error) {
	if err := s.ensureFresh(ctx); err != nil {
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
	delete(s.owners, id)
	if s.pending != nil {
		s.writes[id] = write[T]{deleted: true}
	}
}

// Invalidate makes the next read list again: after a write whose answer was lost, the copy cannot
// tell whether the write happened.
func (s *Store[T]) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded = time.Time{}
}

// Own records which resource manages a PBX object, so that a refresh can report its drift.
func (s *Store[T]) Own(id int64, owner types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owners[id] = owner
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

// ensureFresh refreshes the copy when it is older than MaxAge. Concurrent callers wait for one
// refresh instead of listing again.
func (s *Store[T]) ensureFresh(ctx context.Context) error {
	s.mu.Lock()
	if !s.loaded.IsZero() && s.now().Sub(s.loaded) < s.maxAge {
		s.mu.Unlock()
		return nil
	}
	if p := s.pending; p != nil {
		s.mu.Unlock()
		select {
		case <-p:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err
	}
	done := make(chan struct{})
	s.pending = done
	started := s.now()
	s.mu.Unlock()

	items, err := s.list(ctx)

	s.mu.Lock()
	var changed []types.NamespacedName
	if err == nil {
		changed = s.replace(items)
		s.loaded = started
	}
	s.err = err
	s.pending = nil
	clear(s.writes)
	close(done)
	s.mu.Unlock()
	if len(changed) > 0 && s.onChange != nil {
		s.onChange(changed)
	}
	return err
}

// replace installs a new list, keeping writes made while it was read, and returns the owners of
// the objects that changed or vanished. The caller holds s.mu.
func (s *Store[T]) replace(items []T) []types.NamespacedName {
	old := s.items
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
	if s.loaded.IsZero() {
		return nil // the first list sets the baseline; every owner reconciles on its own anyway
	}
	var changed []types.NamespacedName
	for id, owner := range s.owners {
		was, had := old[id]
		now, has := s.items[id]
		if had != has || (has && !reflect.DeepEqual(was, now)) {
			changed = append(changed, owner)
		}
	}
	return changed
}
