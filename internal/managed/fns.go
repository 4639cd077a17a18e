package managed

import "context"

// AdapterFns is an Adapter made of functions, for tests of the engine and of the wiring
// (crossplane-runtime's "Fns" pattern). A nil function does nothing and succeeds.
type AdapterFns[O Object] struct {
	ObserveFn func(ctx context.Context, obj O) (Observation, error)
	CreateFn  func(ctx context.Context, obj O) (int64, error)
	UpdateFn  func(ctx context.Context, obj O) error
	DeleteFn  func(ctx context.Context, obj O) error
}

// Observe calls ObserveFn.
func (a AdapterFns[O]) Observe(ctx context.Context, obj O) (Observation, error) {
	if a.ObserveFn == nil {
		return Observation{}, nil
	}
	return a.ObserveFn(ctx, obj)
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
