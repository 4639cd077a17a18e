package controller

import (
	"context"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

// accountChecks runs the checks of one account kind against the PBX (account.Registry.Connect)
// in goroutines of their own, so that no reconcile worker waits for a PBX: one that accepts
// connections and never answers holds its own check until the check's deadline, and nothing
// else. A reconcile that needs a check starts it and ends; the check's end brings the account
// back, and that reconcile takes the result. A check that failed is not made again with the same
// inputs before a backoff that doubles up to a minute (retryLimiter), and nothing waits it out:
// the account comes back then. At most one check of an account is under way at a time, at most
// maxRunning of the kind, and at most maxPerNamespace of one namespace: a tenant's thousands of
// accounts on unanswering PBXs hold that many goroutines and sockets, not thousands, and leave
// slots to the other tenants. An account that finds no free slot waits in line, in order, and is
// brought back when a slot frees; it does not poll.
type accountChecks struct {
	backoff workqueue.TypedRateLimiter[reconcile.Request]
	// maxRunning and maxPerNamespace bound the checks under way at once, in all and of one
	// namespace (ClusterAccounts count as one namespace).
	maxRunning, maxPerNamespace int

	mu sync.Mutex
	// ctx lives as long as the controller; the checks run in it.
	ctx context.Context
	// queue is the controller's; a check that ended adds its account.
	queue  workqueue.TypedRateLimitingInterface[reconcile.Request]
	checks map[reconcile.Request]*accountCheck
	// running counts the checks under way, in all and by namespace.
	running     int
	byNamespace map[string]int
	// waiting are the accounts that found no free slot, in the order they came.
	waiting []reconcile.Request
}

// Checks under way at once, per account kind, in all and of one namespace; and how soon an
// account waiting for a slot looks again should no slot's release bring it back first.
const (
	maxRunningChecks   = 64
	maxNamespaceChecks = maxRunningChecks / 4
	checkSlotWait      = 30 * time.Second
)

// accountCheck is the last check of one account.
type accountCheck struct {
	// inputs identify what the check was made from: a check made from others is of no use.
	inputs string
	cancel context.CancelFunc
	// ended is closed when the check ended.
	ended chan struct{}

	// Under accountChecks.mu:
	finished bool
	conn     *account.Connection
	err      error
	// taken says a reconcile took the result; retryAt is when a failed check may be made again.
	taken   bool
	retryAt time.Time
}

func newAccountChecks() *accountChecks {
	return &accountChecks{backoff: retryLimiter(), maxRunning: maxRunningChecks, maxPerNamespace: maxNamespaceChecks,
		checks: map[reconcile.Request]*accountCheck{}, byNamespace: map[string]int{}}
}

// source is the controller's source of ended checks: it only remembers the controller's context
// and workqueue.
func (c *accountChecks) source() source.Source {
	return source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.ctx, c.queue = ctx, q
		return nil
	})
}

// checkResult is what a check found: a connection, or why there is none.
type checkResult struct {
	conn *account.Connection
	err  error
}

// take returns the result of the account's check made from inputs, once. Without one, it starts
// such a check (with run) and returns nil: the check's end brings the account back. After a
// failed check it returns nil and how long until the next may be made, if that is later.
func (c *accountChecks) take(ctx context.Context, req reconcile.Request, inputs string,
	run func(context.Context) (*account.Connection, error)) (*checkResult, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := c.checks[req]
	switch {
	case last != nil && !last.finished:
		if last.inputs != inputs {
			// The account changed (a new URL, a rotated Secret): its end brings the account back
			// for a check of the new settings.
			last.cancel()
		}
		return nil, 0
	case last != nil && last.inputs == inputs && !last.taken:
		last.taken = true
		switch {
		case last.err == nil:
			c.backoff.Forget(req)
		case !managed.Classify(last.err).Quiet:
			last.retryAt = time.Now().Add(c.backoff.When(req))
		}
		return &checkResult{conn: last.conn, err: last.err}, 0
	case last != nil && last.inputs == inputs:
		if wait := time.Until(last.retryAt); wait > 0 {
			return nil, wait
		}
	case last != nil:
		// New settings start with no backoff.
		c.backoff.Forget(req)
	}
	if !c.room(req) {
		if !slices.Contains(c.waiting, req) {
			c.waiting = append(c.waiting, req)
		}
		return nil, checkSlotWait
	}
	c.start(ctx, req, inputs, run)
	return nil, 0
}

// room tells whether a check of the account may start now; c.mu is held.
func (c *accountChecks) room(req reconcile.Request) bool {
	return c.running < c.maxRunning && c.byNamespace[req.Namespace] < c.maxPerNamespace
}

// unwait takes req out of the line of waiting accounts; c.mu is held.
func (c *accountChecks) unwait(req reconcile.Request) {
	c.waiting = slices.DeleteFunc(c.waiting, func(w reconcile.Request) bool { return w == req })
}

// wake brings back the first waiting account that has room now, after a slot freed; c.mu is held.
func (c *accountChecks) wake() {
	for i, req := range c.waiting {
		if c.room(req) {
			c.waiting = slices.Delete(c.waiting, i, i+1)
			if c.queue != nil {
				c.queue.Add(req)
			}
			return
		}
	}
}

// start runs a check in a goroutine; c.mu is held.
func (c *accountChecks) start(ctx context.Context, req reconcile.Request, inputs string, run func(context.Context) (*account.Connection, error)) {
	parent := c.ctx
	if parent == nil {
		parent = ctx
	}
	// The check outlives the reconcile that started it, and logs as it would have.
	checkCtx, cancel := context.WithCancel(log.IntoContext(parent, log.FromContext(ctx)))
	check := &accountCheck{inputs: inputs, cancel: cancel, ended: make(chan struct{})}
	c.checks[req] = check
	c.running++
	c.byNamespace[req.Namespace]++
	c.unwait(req)
	go func() {
		defer close(check.ended)
		conn, err := run(checkCtx)
		cancel()
		c.mu.Lock()
		c.running--
		if c.byNamespace[req.Namespace]--; c.byNamespace[req.Namespace] == 0 {
			delete(c.byNamespace, req.Namespace)
		}
		c.wake()
		check.finished, check.conn, check.err = true, conn, err
		q := c.queue
		c.mu.Unlock()
		if q != nil {
			q.Add(req)
		}
	}()
}

// forget drops an account's checks, for its deletion: it stops a check under way and waits until
// it ended, so that no connection is installed after the account's is dropped.
func (c *accountChecks) forget(req reconcile.Request) {
	c.mu.Lock()
	last := c.checks[req]
	delete(c.checks, req)
	c.unwait(req)
	c.mu.Unlock()
	c.backoff.Forget(req)
	if last != nil {
		last.cancel()
		<-last.ended
	}
}
