package managed

import (
	"context"
	"time"
)

// AdapterFns is an Adapter made of functions, for tests of the engine and of the wiring
// (crossplane-runtime's "Fns" pattern). A nil function does nothing and succeeds. Its other
// answers are those of the plainest kind: a key that never changes in place, the account's
// client as the realm, nothing to release, every turn due at once, and the Reconciler's poll
// interval.
type AdapterFns[O Object] struct {
	ObserveFn func(ctx context.Context, obj O, since time.Time) (Observation, error)
	CreateFn  func(ctx context.Context, obj O) (int64, error)
	UpdateFn  func(ctx context.Context, obj O) error
	DeleteFn  func(ctx context.Context, obj O) error
}

var _ Adapter[Object] = AdapterFns[Object]{}

// Observe calls ObserveFn.
func (a AdapterFns[O]) Observe(ctx context.Context, obj O, since time.Time) (Observation, error) {
	if a.ObserveFn == nil {
		return Observation{}, nil
	}
	return a.ObserveFn(ctx, obj, since)
}

// Create calls CreateFn.
func (a AdapterFns[O]) Create(ctx context.Context, obj O) (int64, error) {
	if a.CreateFn == nil {
		return 0, nil
	}
	return a.CreateFn(ctx, obj)
}

// Update calls UpdateFn.
func (a AdapterFns[O]) Update(ctx context.Context, obj O) error {
	if a.UpdateFn == nil {
		return nil
	}
	return a.UpdateFn(ctx, obj)
}

// Delete calls DeleteFn.
func (a AdapterFns[O]) Delete(ctx context.Context, obj O) error {
	if a.DeleteFn == nil {
		return nil
	}
	return a.DeleteFn(ctx, obj)
}

// Key says that the natural key never changes in place.
func (AdapterFns[O]) Key(O) (string, bool) { return "", false }

// Realm is the account's client.
func (AdapterFns[O]) Realm() string { return "" }

// Release does nothing.
func (AdapterFns[O]) Release(O) {}

// Turn is always due.
func (AdapterFns[O]) Turn(ctx context.Context, _ string) (context.Context, time.Duration) {
	return ctx, 0
}

// PollInterval leaves the Reconciler's.
func (AdapterFns[O]) PollInterval() time.Duration { return 0 }
