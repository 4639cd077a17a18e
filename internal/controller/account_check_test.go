package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/internal/account"
)

// TestAccountChecks: a check runs beside the reconciles, which start it and come back for its
// result when it ended; a failed check is not made again with the same settings before its
// backoff, new settings are checked at once, and a check of stale settings is stopped.
func TestAccountChecks(t *testing.T) {
	ctx := t.Context()
	c := newAccountChecks()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	if err := c.source().Start(ctx, q); err != nil {
		t.Fatal(err)
	}
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "pbx"}}
	// ended waits until a check's end brought the account back.
	ended := func() {
		t.Helper()
		got, _ := q.Get()
		q.Done(got)
		if got != req {
			t.Fatalf("the queue got %v, want %v", got, req)
		}
	}
	// last says which check is the account's last: its settings, and whether it ended.
	last := func() string {
		c.mu.Lock()
		defer c.mu.Unlock()
		l := c.checks[req]
		return fmt.Sprintf("%s ended=%t", l.inputs, l.finished)
	}
	answer := make(chan error)
	run := func(ctx context.Context) (*account.Connection, error) {
		select {
		case err := <-answer:
			if err != nil {
				return nil, err
			}
			return &account.Connection{Login: "admin"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	if res, wait := c.take(ctx, req, "a", run); res != nil || wait != 0 {
		t.Fatalf("first take: %v, %v; want a check started", res, wait)
	}
	if res, wait := c.take(ctx, req, "a", run); res != nil || wait != 0 {
		t.Fatalf("take while the check is under way: %v, %v; want nothing yet", res, wait)
	}
	answer <- nil
	ended()
	if res, _ := c.take(ctx, req, "a", run); res == nil || res.err != nil || res.conn.Login != "admin" {
		t.Fatalf("take after the check: %+v, want its connection", res)
	}

	// Many failures before: the backoff is at its longest.
	for range 20 {
		c.backoff.When(req)
	}
	c.take(ctx, req, "a", run)
	boom := errors.New("the PBX did not answer")
	answer <- boom
	ended()
	if res, _ := c.take(ctx, req, "a", run); res == nil || !errors.Is(res.err, boom) {
		t.Fatalf("take after the failed check: %+v, want its error", res)
	}
	if res, wait := c.take(ctx, req, "a", run); res != nil || wait < 50*time.Second || wait > time.Minute || last() != "a ended=true" {
		t.Fatalf("take after the failure was taken: %v, %v, last check %s; want a wait of about a minute and no check started", res, wait, last())
	}

	// New settings are checked at once; settings changed again stop that check.
	if res, wait := c.take(ctx, req, "b", run); res != nil || wait != 0 || last() != "b ended=false" {
		t.Fatalf("take with new settings: %v, %v, last check %s; want a check of them started", res, wait, last())
	}
	c.take(ctx, req, "c", run)
	ended()
	if res, wait := c.take(ctx, req, "c", run); res != nil || wait != 0 || last() != "c ended=false" {
		t.Fatalf("take after the stale check was stopped: %v, %v, last check %s; want a check of the new settings started", res, wait, last())
	}
	c.forget(req)
	if _, ok := c.checks[req]; ok {
		t.Error("the deleted account's check is still kept")
	}
}

// TestAccountChecksBounded: no more than maxRunning checks are under way at once; an account
// that finds no free slot starts none and looks again soon, and gets one when a check ends.
func TestAccountChecksBounded(t *testing.T) {
	ctx := t.Context()
	c := newAccountChecks()
	c.maxRunning = 2
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	if err := c.source().Start(ctx, q); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	run := func(ctx context.Context) (*account.Connection, error) {
		<-release
		return nil, errors.New("the PBX did not answer")
	}
	req := func(i int) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: fmt.Sprint("black-hole-", i)}}
	}
	for i := range 2 {
		if res, wait := c.take(ctx, req(i), "a", run); res != nil || wait != 0 {
			t.Fatalf("account %d: %v, %v; want a check started", i, res, wait)
		}
	}
	if res, wait := c.take(ctx, req(2), "a", run); res != nil || wait != checkSlotWait {
		t.Fatalf("a third account: %v, %v; want no check and a wait of %v", res, wait, checkSlotWait)
	}
	if _, ok := c.checks[req(2)]; ok || c.running != 2 {
		t.Fatalf("%d checks under way, third account's kept: %t", c.running, ok)
	}
	release <- struct{}{}
	got, _ := q.Get()
	q.Done(got)
	if res, wait := c.take(ctx, req(2), "a", run); res != nil || wait != 0 {
		t.Fatalf("the third account once a check ended: %v, %v; want a check started", res, wait)
	}
	close(release)
	for range 2 {
		got, _ := q.Get()
		q.Done(got)
	}
}
