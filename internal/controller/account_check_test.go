package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// TestAccountChecksBounded: no more than maxRunning checks are under way at once, nor more than
// maxPerNamespace of one namespace; an account that finds no free slot starts none, waits in
// line, and is brought back when a slot frees.
func TestAccountChecksBounded(t *testing.T) {
	ctx := t.Context()
	c := newAccountChecks()
	c.maxRunning, c.maxPerNamespace = 3, 2
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
	req := func(ns string, i int) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: fmt.Sprint("pbx-", i)}}
	}
	take := func(r reconcile.Request) time.Duration {
		t.Helper()
		res, wait := c.take(ctx, r, "a", run)
		if res != nil {
			t.Fatalf("%v: a result before any check ended: %+v", r, res)
		}
		return wait
	}
	// Two of tenant a's black holes take its share; its third waits, tenant b's first does not.
	for i := range 2 {
		if wait := take(req("a", i)); wait != 0 {
			t.Fatalf("a/pbx-%d: want a check started, got a wait of %v", i, wait)
		}
	}
	if wait := take(req("a", 2)); wait != checkSlotWait {
		t.Fatalf("a/pbx-2 beyond its namespace's share: want a wait of %v, got %v", checkSlotWait, wait)
	}
	if wait := take(req("b", 0)); wait != 0 {
		t.Fatalf("b/pbx-0: want a check started beside tenant a's, got a wait of %v", wait)
	}
	// All slots are taken: tenant c waits too, after a/pbx-2.
	if wait := take(req("c", 0)); wait != checkSlotWait {
		t.Fatalf("c/pbx-0 with every slot taken: want a wait of %v, got %v", checkSlotWait, wait)
	}
	c.mu.Lock()
	running, waiting := c.running, slices.Clone(c.waiting)
	c.mu.Unlock()
	if want := []reconcile.Request{req("a", 2), req("c", 0)}; running != 3 || !slices.Equal(waiting, want) {
		t.Fatalf("%d checks under way, waiting %v; want 3 and %v", running, waiting, want)
	}

	// One check ends: its account comes back for the result, and the first waiting account that
	// has room now (a/pbx-2 if tenant a's check ended, else c/pbx-0) for its check.
	release <- struct{}{}
	got := map[reconcile.Request]bool{}
	for range 2 {
		r, _ := q.Get()
		q.Done(r)
		got[r] = true
	}
	woken := req("c", 0)
	if got[req("a", 0)] || got[req("a", 1)] {
		woken = req("a", 2)
	}
	if !got[woken] {
		t.Fatalf("the queue got %v: want the ended check's account and %v", got, woken)
	}
	if wait := take(woken); wait != 0 {
		t.Fatalf("%v brought back: want its check started, got a wait of %v", woken, wait)
	}
	close(release)
	for range 3 {
		r, _ := q.Get()
		q.Done(r)
	}
}
