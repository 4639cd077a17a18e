package controller

import (
	"context"
	"errors"
	"slices"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/snapshot"
)

// objects is an account's snapshot of one kind of PBX object, with the read and write path every
// adapter shares: what a write answers goes into the snapshot, and what a failed write may have
// done is not trusted.
type objects[T any] struct{ *snapshot.Store[T] }

// snapshotPart registers, for every account connection, a snapshot of one kind of PBX object
// listed by list, whose changes made outside the operator reach the kind's controller through
// drift.
func snapshotPart[T any](reg *account.Registry, drift *driftQueue, list func(context.Context, *account.Connection) ([]T, error),
	id func(T) int64, key func(T) string) account.Part[objects[T]] {
	return account.AddPart(reg, func(c *account.Connection) objects[T] {
		return newObjects(snapshot.Options[T]{
			List:     func(ctx context.Context) ([]T, error) { return list(ctx, c) },
			ID:       id,
			Key:      key,
			MaxAge:   c.PollInterval(),
			OnChange: drift.notify,
		})
	})
}

// newObjects makes the snapshot of one collection. Its refreshes run on their own, holding no
// reconcile worker, so their pages wait for their turn in the account's pace (pbx.Patient) and are
// never cut apart.
func newObjects[T any](o snapshot.Options[T]) objects[T] {
	list := o.List
	o.List = func(ctx context.Context) ([]T, error) { return list(pbx.Patient(ctx)) }
	return objects[T]{snapshot.New(o)}
}

// one returns the only object of found (a look by natural key), nil for none, or the error that
// conflict makes of how many there are and their ids, sorted: the engine must not guess.
func (s objects[T]) one(found []T, conflict func(n int, ids []int64) error) (*T, error) {
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	}
	ids := make([]int64, 0, len(found))
	for _, f := range found {
		ids = append(ids, s.ID(f))
	}
	slices.Sort(ids)
	return nil, conflict(len(found), ids)
}

// byID reads an object by id from the snapshot, or with a GET when the snapshot does not show it
// (it may be newer than the list) or the read asks for a look after since (one GET is cheaper than
// a list). Not found is nil, not an error.
func (s objects[T]) byID(ctx context.Context, id int64, since time.Time, get func(context.Context) (*T, error)) (*T, error) {
	if since.IsZero() {
		x, found, err := s.Get(ctx, id, since)
		if err != nil {
			return nil, err
		}
		if found {
			return &x, nil
		}
	}
	y, err := get(ctx)
	if pbx.IsNotFound(err) {
		s.Delete(id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.Put(*y)
	return y, nil
}

// create records the answer of a create, owned by owner. After a failed create the snapshot is
// stale: unless the PBX made nothing, which no answer proves (a 5xx may come after the commit, and
// "already exists" may answer our own earlier create), it may lack the object.
func (s objects[T]) create(ctx context.Context, owner client.Object, do func(context.Context) (*T, error)) (*T, error) {
	x, err := do(ctx)
	if err != nil {
		if !errors.As(err, new(*pbx.DeferredError)) {
			// The answer may be lost after the object was made: the next read lists again. A
			// create that was never sent changed nothing.
			s.Invalidate()
		}
		return nil, err
	}
	s.Put(*x)
	s.Own(s.ID(*x), client.ObjectKeyFromObject(owner))
	return x, nil
}

// update records the answer of an update of the object id; an object the PBX no longer has leaves
// the snapshot.
func (s objects[T]) update(ctx context.Context, id int64, do func(context.Context) (*T, error)) (*T, error) {
	x, err := do(ctx)
	if err != nil {
		if pbx.IsNotFound(err) {
			s.Delete(id)
		}
		return nil, err
	}
	s.Put(*x)
	return x, nil
}

// remove deletes the object id; one already gone is not an error.
func (s objects[T]) remove(ctx context.Context, id int64, do func(context.Context) error) error {
	if err := do(ctx); err != nil && !pbx.IsNotFound(err) {
		return err
	}
	s.Delete(id)
	return nil
}

// release forgets that owner owns an object.
func (s objects[T]) release(owner client.Object) { s.Disown(client.ObjectKeyFromObject(owner)) }

// poller is what the adapters take from their account (managed.Adapter's Turn and PollInterval):
// its poll interval, and turns in its request pace for their writes.
type poller struct{ conn *account.Connection }

// PollInterval is the account's poll interval.
func (p poller) PollInterval() time.Duration { return p.conn.PollInterval() }

// Turn books a turn for a write of the resource with this uid in the account's request pace.
func (p poller) Turn(ctx context.Context, uid string) (context.Context, time.Duration) {
	return p.conn.Client.Turn(ctx, uid)
}
