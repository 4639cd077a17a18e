package pbx

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// rateWindow is the length of the PBX's request windows: its limits are hourly
// (UPSTREAM-API 2.3). It is the wait after a 429 whose reset time is not known.
const rateWindow = time.Hour

// Budget is the client's view of the PBX's hourly request budget, read from the
// X-RateLimit-Limit, -Remaining and -Reset headers of the last answer that carried them. The
// budget is shared by every application of the PBX client, so another integration's requests
// spend it too. (ASSUMPTION: one counter covers every resource, although the docs describe
// X-RateLimit-Limit as the limit "for this resource".)
type Budget struct {
	// Limit is the hourly request limit; 0 until an answer has reported it.
	Limit int
	// Remaining is the number of requests left in the window, as of the last answer.
	Remaining int
	// Reset is when the window ends; zero when unknown. After Reset, Limit and Remaining describe
	// a window that is over.
	Reset time.Time
	// BlockedUntil is set while every request fails at once with a rate-limited error, after a
	// 429 or once Remaining reached 0; zero when requests may go.
	BlockedUntil time.Time
}

// Turns (docs/pacing.md): a request never holds its caller long, so that one paced or slow
// account cannot keep the reconcile workers from the others.
const (
	// maxWait is the longest a request waits in place for the pace or for a free connection; a
	// request that would wait longer is not sent (DeferredError) and its caller comes back later.
	maxWait = time.Second
	// turnHorizon is how far ahead Turn books; a caller further back in the queue books nothing
	// and is told to come back in a half to a whole horizon, when it books again.
	turnHorizon = time.Minute
)

// budget guards the PBX's hourly budget for one client: it refuses requests while the budget is
// spent (or, for reads, reserved for writes), paces requests with a token-bucket limiter, and books
// writes a slot of that limiter ahead of time (turn).
type budget struct {
	now     func() time.Time
	limiter *rate.Limiter
	// adaptive paces by the budget the PBX announces (pace) instead of a fixed rate; the
	// limiter's first rate is the cautious start until the first answer.
	adaptive bool
	// reservePercent is the part of the hourly limit that only writes may spend.
	reservePercent int

	// reserving guards the limiter's reservations, so that one given back is the last one taken
	// (the limiter can only return the token of that one), and the bookings.
	reserving sync.Mutex
	// booked are the slots booked for later writes, by caller; swept is when stale ones were last
	// dropped.
	booked map[string]booking
	swept  time.Time

	mu    sync.Mutex
	state Budget
}

func newBudget(now func() time.Time, rps float64, burst, reservePercent int, adaptive bool) *budget {
	lim := rate.Limit(rps)
	if rps <= 0 {
		lim = rate.Inf
	}
	return &budget{
		now: now, limiter: rate.NewLimiter(lim, max(burst, 1)),
		reservePercent: reservePercent, adaptive: adaptive, booked: map[string]booking{},
	}
}

// Adaptive pacing (docs/pacing.md): spend the hourly budget knowingly.
const (
	// pollFloorPercent of the hourly limit is never planned for: it stays for polls and for
	// writes that users ask for.
	pollFloorPercent = 5
	// maxAdaptiveRate is the pace while the budget is plentiful; the in-flight bound and the PBX's
	// latency limit a client further.
	maxAdaptiveRate  = 200
	maxAdaptiveBurst = 50
)

// pace returns the request rate and burst for the budget the PBX announced, or ok=false while
// it is unknown (before the first answer). While what can be spent (Remaining above the floor) is
// at least half the limit, requests go as fast as they come; between a half and a quarter the pace
// falls smoothly to the even one, which spreads what is left over the rest of the window and never
// plans past Reset. After the window ended a new one has begun, with the whole limit (ASSUMPTION:
// windows are hourly and start full; the next answer tells), so the pace of a spent window does
// not outlive it.
func pace(s Budget, now time.Time) (r rate.Limit, burst int, ok bool) {
	switch {
	case s.Limit <= 0 || s.Reset.IsZero():
		return 0, 0, false
	case !now.Before(s.Reset.Add(resetMargin)):
		s = Budget{Limit: s.Limit, Remaining: s.Limit, Reset: now.Add(rateWindow)}
	case !now.Before(s.Reset):
		// The window may not have turned over at the PBX yet: the pace stays as it was.
		return 0, 0, false
	}
	left := s.Reset.Sub(now).Seconds()
	spendable := s.Remaining - (s.Limit*pollFloorPercent+99)/100
	if spendable <= 0 {
		// Only the floor is left: one request at a time, spread over the window.
		return rate.Limit(max(float64(s.Remaining), 1) / left), 1, true
	}
	even := float64(spendable) / left
	f := min(max((float64(spendable)/float64(s.Limit)-0.25)/0.25, 0), 1)
	perSecond := even
	if maxAdaptiveRate > even {
		perSecond = even + f*(maxAdaptiveRate-even)
	}
	return rate.Limit(perSecond), min(max(int(perSecond), 1), maxAdaptiveBurst, spendable), true
}

// resetMargin is how long after the reset the client waits before it takes a new window for
// begun: the reset is known to the second (X-RateLimit-Reset counts whole seconds from an answer
// that took its time to arrive), and a request that reached the PBX before its window turned over
// would be refused for the rest of the hour.
const resetMargin = 2 * time.Second

// newWindowIn returns how long until the PBX's request window ends (and resetMargin), when that is
// known and ahead, for a client that paces by the budget.
// A slot of the limiter further away than that is a slot of the old window's pace: the new window
// brings a new budget and pace (see pace), so a caller is told to come back then rather than
// given a slot that the new pace would have given at once.
func (b *budget) newWindowIn() (time.Duration, bool) {
	if !b.adaptive {
		return 0, false
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	end := b.state.Reset.Add(resetMargin)
	if b.state.Reset.IsZero() || !now.Before(end) {
		return 0, false
	}
	return end.Sub(now), true
}

// afterNewWindow is when a caller whose slot falls after the window's end (w away) comes back:
// spread over a second after it, so that a crowd does not return at once.
func afterNewWindow(w time.Duration) time.Duration {
	return w + rand.N(time.Second) //nolint:gosec // spreading callers needs no crypto
}

// snapshot returns the budget state; BlockedUntil is cleared once it has passed.
func (b *budget) snapshot() Budget {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state
	if !now.Before(s.BlockedUntil) {
		s.BlockedUntil = time.Time{}
	}
	return s
}

// admit refuses a request without a network call while the budget is spent, or, for a read,
// while what is left is the part reserved for writes. The error is a 429 APIError whose
// RetryAt is the reset time.
func (b *budget) admit(method, path string) error {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state
	refuse := func(until time.Time, why string) error {
		return &APIError{
			Method: method, Path: path, StatusCode: http.StatusTooManyRequests, Code: "rate_limit_exceeded",
			Message: why + "; refused by the client without calling the PBX", RetryAt: until,
		}
	}
	if now.Before(s.BlockedUntil) {
		return refuse(s.BlockedUntil, "the hourly request budget is spent")
	}
	read := method == http.MethodGet || method == http.MethodHead
	if read && b.reservePercent > 0 && s.Limit > 0 && now.Before(s.Reset) &&
		s.Remaining <= (s.Limit*b.reservePercent+99)/100 {
		return refuse(s.Reset, "the rest of the hourly request budget is reserved for writes")
	}
	return nil
}

// tune sets the limiter to the pace of the budget the PBX announced, when adaptive. The limiter
// keeps the wall clock (it times real waits); the budget's clock reads the windows.
func (b *budget) tune() {
	if !b.adaptive {
		return
	}
	// Under mu, so that concurrent callers cannot set an older pace last.
	b.mu.Lock()
	defer b.mu.Unlock()
	r, burst, ok := pace(b.state, b.now())
	if !ok {
		return
	}
	if b.limiter.Limit() != r {
		b.limiter.SetLimit(r)
	}
	if b.limiter.Burst() != burst {
		b.limiter.SetBurst(burst)
	}
}

// patientKey marks a context whose requests wait for their turn as long as it allows.
type patientKey struct{}

// Patient returns a context whose requests wait for their turn in the pace, and for a free
// connection, as long as ctx allows, instead of being deferred after a second: for work that holds
// no reconcile worker, such as a snapshot's refresh, whose pages must not be cut apart.
func Patient(ctx context.Context) context.Context { return context.WithValue(ctx, patientKey{}, true) }

func patient(ctx context.Context) bool { return ctx.Value(patientKey{}) != nil }

// ticketKey carries a booked slot (Client.Turn) to the request that uses it.
type ticketKey struct{}

// booking is a slot of the limiter booked for a later write, and when it is.
type booking struct {
	r  *rate.Reservation
	at time.Time
}

// ticket is a slot of the limiter booked for one request.
type ticket struct {
	r    *rate.Reservation
	used atomic.Bool
}

// wait paces the request with the client-side limiter: it takes the slot booked for it (a ticket
// of ctx not used yet) or reserves one. A wait longer than maxWait is not taken, unless ctx is
// Patient: the request is not sent and the error is a DeferredError that says when it may go. A
// patient wait that would outlast ctx's deadline is not taken either.
func (b *budget) wait(ctx context.Context, method, path string) error {
	b.tune()
	b.reserving.Lock()
	now := time.Now()
	var r *rate.Reservation
	if t, ok := ctx.Value(ticketKey{}).(*ticket); ok && t.used.CompareAndSwap(false, true) {
		r = t.r
	} else {
		r = b.limiter.ReserveN(now, 1)
	}
	d := r.DelayFrom(now)
	after, why := d, ""
	deadline, hasDeadline := ctx.Deadline()
	if w, ok := b.newWindowIn(); ok && d > maxWait && d > w {
		// The slot is the spent window's pace; the new window's comes sooner.
		after, why = afterNewWindow(w), "a new request window"
		if patient(ctx) && (!hasDeadline || now.Add(after).Before(deadline)) {
			r.CancelAt(now)
			b.reserving.Unlock()
			if err := sleep(ctx, after); err != nil {
				return fmt.Errorf("%s %s: waiting for a new request window: %w", method, path, err)
			}
			return b.wait(ctx, method, path)
		}
	}
	switch {
	case why != "":
	case d > maxWait && !patient(ctx):
		why = "its turn in the account's request pace"
	case hasDeadline && now.Add(d).After(deadline):
		why = "its turn in the account's request pace, which comes after the call's deadline"
	}
	if why != "" {
		r.CancelAt(now)
	}
	b.reserving.Unlock()
	if why != "" {
		return &DeferredError{Method: method, Path: path, After: after, Why: why}
	}
	if d <= 0 {
		return nil
	}
	if err := sleep(ctx, d); err != nil {
		b.reserving.Lock()
		r.Cancel()
		b.reserving.Unlock()
		return fmt.Errorf("%s %s: waiting for the client-side rate limit: %w", method, path, err)
	}
	return nil
}

// turn books a slot of the limiter for one write of key, in line with every other request:
// when it is due (within maxWait) it returns the slot, for the write's request to use; else how
// long until it is, and a caller that comes back then finds its booking. One further back than
// turnHorizon books nothing and comes back in a half to a whole horizon (spread, so that a crowd
// does not return at once).
func (b *budget) turn(key string) (*rate.Reservation, time.Duration) {
	b.tune()
	b.reserving.Lock()
	defer b.reserving.Unlock()
	now := time.Now()
	if now.Sub(b.swept) > turnHorizon {
		// Bookings nobody came back for (the resource went away, or needed no write any more):
		// their slots went by unused.
		for k, bk := range b.booked {
			if now.Sub(bk.at) > turnHorizon {
				delete(b.booked, k)
			}
		}
		b.swept = now
	}
	if bk, ok := b.booked[key]; ok {
		if d := bk.at.Sub(now); d > maxWait {
			return nil, d
		}
		delete(b.booked, key)
		return bk.r, 0
	}
	r := b.limiter.ReserveN(now, 1)
	w, newWindow := b.newWindowIn()
	switch d := r.DelayFrom(now); {
	case d <= maxWait:
		return r, 0
	case newWindow && d > w:
		// A slot of the spent window's pace: the new window's pace gives one sooner.
		r.CancelAt(now)
		return nil, afterNewWindow(w)
	case d <= turnHorizon:
		b.booked[key] = booking{r: r, at: now.Add(d)}
		return nil, d
	default:
		r.CancelAt(now)
		return nil, turnHorizon/2 + rand.N(turnHorizon/2) //nolint:gosec // spreading callers needs no crypto
	}
}

// observe reads the budget headers of an answer. A 429, or an answer that leaves nothing,
// blocks the client until the window resets.
func (b *budget) observe(status int, h http.Header) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if n, ok := headerInt(h, "X-RateLimit-Limit"); ok {
		b.state.Limit = n
	}
	remaining, known := headerInt(h, "X-RateLimit-Remaining")
	if known {
		b.state.Remaining = remaining
	}
	n, resetKnown := headerInt(h, "X-RateLimit-Reset")
	if resetKnown {
		// X-RateLimit-Reset counts seconds until the window resets (UPSTREAM-API 2.3).
		b.state.Reset = now.Add(time.Duration(n) * time.Second)
	}
	// ASSUMPTION: Remaining 0 means the next request would get a 429, and every 429 (not only
	// rate_limit_exceeded) locks the whole client out: the only other 429 seen is on statistics
	// endpoints this client does not call (UPSTREAM-API 2.3).
	if status != http.StatusTooManyRequests && (!known || remaining > 0) {
		return
	}
	// After a 429 "the next request is possible only in the next hour" (UPSTREAM-API 2.3): wait
	// for Retry-After if the PBX sends one (ASSUMPTION: not documented), else for the reset the
	// headers report, else a whole window.
	until := retryAfter(h, now)
	switch {
	case !until.IsZero():
	case resetKnown || b.state.Reset.After(now):
		until = b.state.Reset
	default:
		until = now.Add(rateWindow)
	}
	if until.After(b.state.BlockedUntil) {
		b.state.BlockedUntil = until
	}
}

// headerInt parses a non-negative integer header.
func headerInt(h http.Header, key string) (int, bool) {
	n, err := strconv.Atoi(h.Get(key))
	return n, err == nil && n >= 0
}

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
