package pbx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// retryAt returns the RetryAt of the APIError in err, or the zero time.
func retryAt(err error) time.Time {
	var e *APIError
	if errors.As(err, &e) {
		return e.RetryAt
	}
	return time.Time{}
}

// count429 is the number of 429 answers the simulator sent.
func (f *fixture) count429() int {
	n := 0
	for _, rc := range f.sim.Requests() {
		if rc.Status == http.StatusTooManyRequests {
			n += rc.Count
		}
	}
	return n
}

func TestBudgetReadFromHeaders(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	if diff := cmp.Diff(Budget{}, c.Budget()); diff != "" {
		t.Errorf("budget before any answer: -want, +got:\n%s", diff)
	}
	if _, err := c.Users.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := Budget{Limit: 10000, Remaining: 9999, Reset: f.clock.Now().Add(time.Hour)}
	if diff := cmp.Diff(want, c.Budget()); diff != "" {
		t.Errorf("budget after one request: -want, +got:\n%s", diff)
	}
}

func TestBudgetSpentFailsFast(t *testing.T) {
	f := newFixture(t)
	f.sim.SetRateLimit(pbxsim.DemoClientID, 3)
	c := f.client(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.Users.Me(ctx); err != nil {
			t.Fatalf("request %d of 3: %v", i+1, err)
		}
	}
	reset := f.clock.Now().Add(time.Hour)
	if diff := cmp.Diff(Budget{Limit: 3, Remaining: 0, Reset: reset, BlockedUntil: reset}, c.Budget()); diff != "" {
		t.Errorf("budget once spent: -want, +got:\n%s", diff)
	}
	before := f.sim.RequestTotal("", "")
	_, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "late"})
	if !IsRateLimited(err) || !retryAt(err).Equal(reset) {
		t.Errorf("a write once the budget is spent: got %v (retry at %v), want rate-limited until %v", err, retryAt(err), reset)
	}
	if after := f.sim.RequestTotal("", ""); after != before {
		t.Errorf("requests sent with a spent budget: %d, want 0", after-before)
	}

	f.clock.Step(time.Hour)
	if _, err := c.Users.Me(ctx); err != nil {
		t.Errorf("a request after the reset: %v", err)
	}
	if n := f.count429(); n != 0 {
		t.Errorf("429 answers: got %d, want 0: the client must stop before the PBX refuses", n)
	}
}

func TestBudgetAfter429NoNetworkUntilReset(t *testing.T) {
	f := newFixture(t)
	f.sim.SetRateLimit(pbxsim.DemoClientID, 2)
	ctx := context.Background()
	// Another application of the same PBX client spends the shared budget.
	other := f.client(t)
	for range 2 {
		if _, err := other.Users.Me(ctx); err != nil {
			t.Fatal(err)
		}
	}

	c := f.client(t)
	reset := f.clock.Now().Add(time.Hour)
	_, err := c.Users.Me(ctx)
	if !IsRateLimited(err) || !retryAt(err).Equal(reset) {
		t.Fatalf("first request: got %v (retry at %v), want a 429 until %v", err, retryAt(err), reset)
	}
	if n := f.count429(); n != 1 {
		t.Fatalf("429 answers: got %d, want 1", n)
	}

	before := f.sim.RequestTotal("", "")
	calls := map[string]func() error{
		"Get":    func() error { _, err := c.Extensions.Get(ctx, demo, 1001); return err },
		"List":   func() error { _, err := c.Extensions.ListAll(ctx, demo, ExtensionFilter{}); return err },
		"Create": func() error { _, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "g"}); return err },
		"Delete": func() error { return c.Groups.Delete(ctx, demo, 101) },
	}
	f.clock.Step(time.Hour - time.Second)
	for name, call := range calls {
		if err := call(); !IsRateLimited(err) || !retryAt(err).Equal(reset) {
			t.Errorf("%s before the reset: got %v (retry at %v), want rate-limited until %v", name, err, retryAt(err), reset)
		}
	}
	if after := f.sim.RequestTotal("", ""); after != before {
		t.Errorf("requests sent before the reset: %d, want 0", after-before)
	}
	if got := c.Budget().BlockedUntil; !got.Equal(reset) {
		t.Errorf("Budget().BlockedUntil: got %v, want %v", got, reset)
	}

	f.clock.Step(time.Second)
	if _, err := c.Users.Me(ctx); err != nil {
		t.Errorf("a request at the reset: %v", err)
	}
	if got := c.Budget().BlockedUntil; !got.IsZero() {
		t.Errorf("Budget().BlockedUntil after the reset: got %v, want zero", got)
	}
}

func TestBudget429WithoutHeaders(t *testing.T) {
	cases := map[string]struct {
		reason string
		// known makes one successful request first, so the reset time is known.
		known bool
		want  time.Duration // RetryAt, from the time of the 429
	}{
		"ResetKnown": {
			reason: "A 429 without headers waits for the reset reported by earlier answers.",
			known:  true,
			want:   time.Hour - 10*time.Minute,
		},
		"ResetUnknown": {
			reason: "A 429 with no reset known waits a whole window: the next request is possible only in the next hour.",
			want:   time.Hour,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{wrap: headerless429})
			c := f.client(t)
			ctx := context.Background()
			if tc.known {
				if _, err := c.Users.Me(ctx); err != nil {
					t.Fatal(err)
				}
			}
			f.clock.Step(10 * time.Minute)
			f.sim.AddFault(pbxsim.Fault{Path: "/api/ver1.0/user/", Status: http.StatusTooManyRequests, Times: 1})
			_, err := c.Users.Me(ctx)
			if got, want := retryAt(err), f.clock.Now().Add(tc.want); !IsRateLimited(err) || !got.Equal(want) {
				t.Errorf("%s\ngot %v (retry at %v), want rate-limited until %v", tc.reason, err, got, want)
			}
		})
	}
}

// headerless429 drops the rate-limit headers from 429 answers, as a PBX that leaves them out would.
func headerless429(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&stripper{ResponseWriter: w}, r)
	})
}

type stripper struct{ http.ResponseWriter }

func (s *stripper) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			s.Header().Del(h)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func TestBudgetInjected429(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	f.sim.AddFault(pbxsim.Fault{Path: "/api/ver1.0/user/", Status: http.StatusTooManyRequests, Reset: 5 * time.Minute, Times: 1})
	_, err := c.Users.Me(context.Background())
	if got, want := retryAt(err), f.clock.Now().Add(5*time.Minute); !IsRateLimited(err) || !got.Equal(want) {
		t.Errorf("a 429 with headers waits for its X-RateLimit-Reset: got %v (retry at %v), want %v", err, got, want)
	}
}

func TestBudgetWriteReserve(t *testing.T) {
	f := newFixture(t)
	f.sim.SetRateLimit(pbxsim.DemoClientID, 10)
	c := f.client(t, WithWriteReserve(30))
	ctx := context.Background()
	for i := range 7 {
		if _, err := c.Users.Me(ctx); err != nil {
			t.Fatalf("read %d: %v", i+1, err)
		}
	}
	// 3 of 10 remain: the reserve. Reads stop, writes go on.
	if _, err := c.Users.Me(ctx); !IsRateLimited(err) {
		t.Errorf("a read inside the reserve: got %v, want rate-limited", err)
	}
	for i := range 3 {
		if _, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "g"}); err != nil {
			t.Errorf("write %d inside the reserve: %v", i+1, err)
		}
	}
	if _, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "g"}); !IsRateLimited(err) {
		t.Errorf("a write once the budget is spent: got %v, want rate-limited", err)
	}
	if got := f.sim.RequestTotal("", ""); got != 10+1 {
		t.Errorf("requests: got %d, want 11 (one token request and the ten the budget allows)", got)
	}
}

func TestRateLimiter(t *testing.T) {
	t.Run("DefersALongWait", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t, WithRateLimit(0.001, 1))
		if _, err := c.Users.Me(context.Background()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := c.Users.Me(context.Background())
		var de *DeferredError
		if !errors.As(err, &de) || de.After < 900*time.Second {
			t.Errorf("a request whose turn is 1,000 s away: got %v, want a DeferredError of about 1,000 s", err)
		}
		if d := time.Since(start); d > maxWait {
			t.Errorf("the deferred request held its caller %v", d)
		}
		if n := f.count(http.MethodGet, "/user/"); n != 1 {
			t.Errorf("requests: got %d, want 1", n)
		}
	})
	t.Run("PatientWaits", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t, WithRateLimit(0.5, 1))
		if _, err := c.Users.Me(context.Background()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := c.Users.Me(Patient(context.Background())); err != nil {
			t.Errorf("a patient request 2 s from its turn: %v, want it sent", err)
		}
		if d := time.Since(start); d < 1500*time.Millisecond {
			t.Errorf("it went after %v, want about 2 s", d)
		}
	})
	t.Run("DefersPastTheDeadline", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t, WithRateLimit(2, 1))
		if _, err := c.Users.Me(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var de *DeferredError
		if _, err := c.Users.Me(ctx); !errors.As(err, &de) {
			t.Errorf("a request waiting 500 ms for its turn with 50 ms left: got %v, want a DeferredError (it was not sent)", err)
		}
		if n := f.count(http.MethodGet, "/user/"); n != 1 {
			t.Errorf("requests: got %d, want 1", n)
		}
	})
	t.Run("RespectsCancel", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t, WithRateLimit(0.5, 1))
		if _, err := c.Users.Me(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(Patient(context.Background()))
		time.AfterFunc(100*time.Millisecond, cancel)
		if _, err := c.Users.Me(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("a patient request cancelled while it waits: got %v, want context.Canceled", err)
		}
		if n := f.count(http.MethodGet, "/user/"); n != 1 {
			t.Errorf("requests: got %d, want 1 (the cancelled one was not sent)", n)
		}
		// The cancelled wait gave its turn back: the next request's turn is the one it had, about
		// 2 s after the first, not a turn after it.
		start := time.Now()
		if _, err := c.Users.Me(Patient(context.Background())); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("the next request waited %v, want under 2 s (the cancelled turn was given back)", d)
		}
	})
	t.Run("Paces", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t, WithRateLimit(50, 1))
		start := time.Now()
		for range 6 {
			if _, err := c.Users.Me(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		// Six requests at 50 per second with no burst take at least five intervals of 20 ms.
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("six requests at 50/s took %v, want at least 100ms", d)
		}
	})
}

func TestBudgetObserve(t *testing.T) {
	now := simStart
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	cases := map[string]struct {
		reason string
		status int
		header http.Header
		want   Budget
	}{
		"Headers": {
			reason: "The three headers give the limit, what remains and when the window resets.",
			status: 200, header: h("X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "40", "X-RateLimit-Reset", "600"),
			want: Budget{Limit: 100, Remaining: 40, Reset: now.Add(10 * time.Minute)},
		},
		"NoHeaders": {
			reason: "An answer without the headers (a proxy's error) changes nothing.",
			status: 502,
			want:   Budget{},
		},
		"Spent": {
			reason: "Nothing remaining blocks until the reset.",
			status: 200, header: h("X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "600"),
			want: Budget{Limit: 100, Reset: now.Add(10 * time.Minute), BlockedUntil: now.Add(10 * time.Minute)},
		},
		"SpentAtTheReset": {
			reason: "Nothing remaining in a window that resets now blocks nothing.",
			status: 200, header: h("X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "0"),
			want: Budget{Limit: 100, Reset: now},
		},
		"RetryAfterWins": {
			reason: "A Retry-After on a 429 says when to try again.",
			status: 429, header: h("Retry-After", "30", "X-RateLimit-Reset", "600"),
			want: Budget{Reset: now.Add(10 * time.Minute), BlockedUntil: now.Add(30 * time.Second)},
		},
		"BadHeaders": {
			reason: "Headers that are not counts are ignored.",
			status: 200, header: h("X-RateLimit-Limit", "many", "X-RateLimit-Remaining", "-1"),
			want: Budget{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBudget(func() time.Time { return now }, 0, 0, 0, false)
			b.observe(tc.status, tc.header)
			if diff := cmp.Diff(tc.want, b.snapshot()); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestPace(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	hour := now.Add(time.Hour)
	type want struct {
		rate  rate.Limit
		burst int
		ok    bool
	}
	cases := map[string]struct {
		reason string
		budget Budget
		want   want
	}{
		"Unknown": {
			reason: "Before the PBX announced a budget, the cautious start applies.",
			budget: Budget{}, want: want{},
		},
		"WindowOver": {
			reason: "After the window has ended a new one has begun with the whole limit: the spent window's pace does not outlive it.",
			budget: Budget{Limit: 1000, Remaining: 0, Reset: now.Add(-resetMargin)}, want: want{rate: maxAdaptiveRate, burst: maxAdaptiveBurst, ok: true},
		},
		"JustAfterTheReset": {
			reason: "Right after the reset the PBX's window may not have turned over yet: the pace is left as it was.",
			budget: Budget{Limit: 1000, Remaining: 0, Reset: now.Add(-time.Second)}, want: want{},
		},
		"Plenty": {
			reason: "With most of a large budget left, requests go as fast as they come.",
			budget: Budget{Limit: 100000, Remaining: 99000, Reset: hour}, want: want{rate: maxAdaptiveRate, burst: maxAdaptiveBurst, ok: true},
		},
		"HalfwayDown": {
			reason: "Between a half and a quarter spendable, the pace falls smoothly towards the even one.",
			budget: Budget{Limit: 2000, Remaining: 100 + 750, Reset: hour},
			want:   want{rate: rate.Limit(750.0/3600 + 0.5*(maxAdaptiveRate-750.0/3600)), burst: 50, ok: true},
		},
		"Low": {
			reason: "Below a quarter, what is left is spread evenly over the rest of the window.",
			budget: Budget{Limit: 2000, Remaining: 100 + 360, Reset: hour}, want: want{rate: rate.Limit(360.0 / 3600), burst: 1, ok: true},
		},
		"OnlyTheFloor": {
			reason: "The floor kept for polls and users' writes is spread over the window, one at a time.",
			budget: Budget{Limit: 2000, Remaining: 36, Reset: hour}, want: want{rate: rate.Limit(36.0 / 3600), burst: 1, ok: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, burst, ok := pace(tc.budget, now)
			got := want{rate: r, burst: burst, ok: ok}
			if math.Abs(float64(got.rate-tc.want.rate)) > 1e-9 || got.burst != tc.want.burst || got.ok != tc.want.ok {
				t.Errorf("%s\nwant %+v, got %+v", tc.reason, tc.want, got)
			}
		})
	}
}

// TestSmallBudgetNeverOverspends: 1,000 creates against a 2,000/h budget, paced adaptively, never
// draw a 429 and leave the floor for polls.
// TestSmallBudgetNeverOverspends: a client asked for more writes than its hourly budget holds
// spends it down to the floor kept for polls and users, and then defers what is left: no 429.
// Without the pacing the last create would draw one.
func TestSmallBudgetNeverOverspends(t *testing.T) {
	const limit = 300
	f := newFixture(t)
	f.sim.SetRateLimit(pbxsim.DemoClientID, limit)
	c, err := New(f.srv.URL, WithCredentials(pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret), withClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sent, deferred := 0, false
	for i := range limit { // with the token request, one more than the budget
		_, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: fmt.Sprintf("g%d", i)})
		var de *DeferredError
		if errors.As(err, &de) {
			deferred = true
			break
		}
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		sent++
	}
	b := c.Budget()
	t.Logf("%d creates sent, %d of %d left", sent, b.Remaining, limit)
	if !deferred || f.count429() != 0 || b.Remaining < limit*pollFloorPercent/100 {
		t.Errorf("want the pace to defer the rest before the floor (%d) and no 429: deferred %t, %d remaining, %d 429s",
			limit*pollFloorPercent/100, deferred, b.Remaining, f.count429())
	}
}

// waitFor is how long key waits for its turn in b.
func waitFor(b *budget, key string) time.Duration {
	_, d := b.turn(key)
	return d
}

func TestTurns(t *testing.T) {
	t.Run("BookedOneAfterTheOther", func(t *testing.T) {
		b := newBudget(time.Now, 0.1, 1, 0, false) // a slot every 10 s
		if r, d := b.turn("a"); d != 0 || r == nil {
			t.Fatalf("the first turn (the burst): got %v, want 0 and its slot", d)
		}
		b1, c1 := waitFor(b, "b"), waitFor(b, "c")
		if b1 < 9*time.Second || b1 > 10*time.Second || c1 < 19*time.Second || c1 > 20*time.Second {
			t.Errorf("b and c book the next two slots: got %v and %v, want about 10 s and 20 s", b1, c1)
		}
		if again := waitFor(b, "b"); again > b1 || again < b1-time.Second {
			t.Errorf("b asking again keeps its booking: got %v, want about %v", again, b1)
		}
		if d := waitFor(b, "d"); d < 29*time.Second || d > 30*time.Second {
			t.Errorf("d books after c (b's second ask took no slot): got %v, want about 30 s", d)
		}
	})
	t.Run("DueBookingGoes", func(t *testing.T) {
		b := newBudget(time.Now, 0.1, 1, 0, false)
		b.turn("first") // the burst: the next slot is 10 s away
		waitFor(b, "a")
		booked := b.booked["a"]
		booked.at = time.Now().Add(maxWait / 2) // as if 9.5 s had passed
		b.booked["a"] = booked
		if r, d := b.turn("a"); d != 0 || r != booked.r {
			t.Errorf("a booking due within maxWait: got %v, want 0 and the booked slot", d)
		}
		if _, ok := b.booked["a"]; ok {
			t.Error("the booking is used up")
		}
	})
	t.Run("BeyondTheHorizonBooksNothing", func(t *testing.T) {
		b := newBudget(time.Now, 1.0/50, 1, 0, false) // a slot every 50 s
		b.turn("a")
		if d := waitFor(b, "b"); d < 49*time.Second || d > 50*time.Second {
			t.Fatalf("b: got %v, want about 50 s", d)
		}
		for _, k := range []string{"c", "d"} {
			if d := waitFor(b, k); d < turnHorizon/2 || d >= turnHorizon {
				t.Errorf("%s, 100 s back: got %v, want between a half and a whole horizon", k, d)
			}
			if _, ok := b.booked[k]; ok {
				t.Errorf("%s booked a turn beyond the horizon", k)
			}
		}
		// c and d gave their slots back: only a's and b's are taken.
		if tokens := b.limiter.Tokens(); tokens < -1.1 {
			t.Errorf("limiter at %.2f tokens, want about -1 (c's and d's slots given back)", tokens)
		}
	})
	t.Run("StaleBookingsSwept", func(t *testing.T) {
		b := newBudget(time.Now, 10, 1, 0, false)
		b.booked["gone"] = booking{at: time.Now().Add(-2 * turnHorizon)}
		b.booked["later"] = booking{at: time.Now().Add(10 * time.Second)}
		b.turn("a")
		if _, ok := b.booked["gone"]; ok {
			t.Error("a booking nobody came back for stays")
		}
		if _, ok := b.booked["later"]; !ok {
			t.Error("a booking still to come was swept")
		}
		b.booked["gone"] = booking{at: time.Now().Add(-2 * turnHorizon)}
		b.turn("a")
		if _, ok := b.booked["gone"]; !ok {
			t.Error("swept again before a horizon passed: the sweep is meant once a horizon")
		}
	})
	t.Run("NoSlotsOfASpentWindowAfterItEnds", func(t *testing.T) {
		// A 429 with a short reset leaves a spent window: its pace is one request until the reset.
		// Turns beyond the reset are not booked at that pace (they would hold their callers up to
		// a horizon after the new window's pace came back): the callers come back at the reset.
		now := time.Now()
		clock := func() time.Time { return now }
		b := newBudget(clock, 10, 1, 0, true)
		b.state = Budget{Limit: 100000, Remaining: 0, Reset: now.Add(3 * time.Second)}
		b.turn("a") // the burst
		waitFor(b, "b")
		for _, k := range []string{"c", "d"} {
			if d := waitFor(b, k); d < 3*time.Second+resetMargin || d > 4*time.Second+resetMargin {
				t.Errorf("%s: got %v, want to come back within a second after the reset, 3 s away, and its margin", k, d)
			}
			if _, ok := b.booked[k]; ok {
				t.Errorf("%s booked a slot of the spent window's pace", k)
			}
		}
		now = now.Add(4*time.Second + resetMargin) // the window has ended; no answer has told the new one yet
		for i := range 20 {
			if d := waitFor(b, fmt.Sprint("new-", i)); d != 0 {
				t.Fatalf("turn %d in the new window: got %v, want 0 (its pace is the full budget's)", i, d)
			}
		}
	})
	t.Run("Unpaced", func(t *testing.T) {
		b := newBudget(time.Now, 0, 0, 0, false)
		for i := range 100 {
			if d := waitFor(b, fmt.Sprint(i)); d != 0 {
				t.Fatalf("turn %d without a pace: got %v, want 0", i, d)
			}
		}
	})
	t.Run("TheWriteTakesItsSlot", func(t *testing.T) {
		f := newFixture(t)
		c := f.client(t, WithRateLimit(0.1, 1)) // a slot every 10 s; the token request takes none
		ctx, d := c.Turn(context.Background(), "a")
		if d != 0 {
			t.Fatalf("a's turn: %v, want 0 (the burst)", d)
		}
		if d := waitFor(c.budget, "b"); d < 9*time.Second {
			t.Fatalf("b books the next slot: got %v, want about 10 s", d)
		}
		if _, err := c.Users.Me(ctx); err != nil {
			t.Errorf("the write with its turn: %v, want it sent in its slot", err)
		}
		var de *DeferredError
		if _, err := c.Users.Me(ctx); !errors.As(err, &de) || de.After < 15*time.Second {
			t.Errorf("a second request of the same pass: got %v, want it deferred behind b's booking (about 20 s)", err)
		}
	})
}

func TestBusyConnectionsDefer(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	f := newFixture(t, fixtureOptions{wrap: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/ver1.0/user/" {
				arrived <- struct{}{}
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}})
	t.Cleanup(unblock) // before the server's Close, which waits for the handler
	c := f.client(t, WithMaxInFlight(1))
	if _, err := c.ClientInfo.Get(context.Background(), demo); err != nil { // the token, before the block
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Users.Me(context.Background()); done <- err }()
	<-arrived // the first request holds the only connection
	start := time.Now()
	_, err := c.Users.Me(context.Background())
	var de *DeferredError
	if !errors.As(err, &de) || !strings.Contains(de.Error(), "free connection") {
		t.Errorf("a request with every connection busy: got %v, want a DeferredError naming the connections", err)
	}
	if d := time.Since(start); d < maxWait || d > 2*maxWait {
		t.Errorf("it waited %v, want about maxWait (%v)", d, maxWait)
	}
	unblock()
	if err := <-done; err != nil {
		t.Errorf("the first request: %v", err)
	}
}

// TestClientPace: Pace reports the pace in force: a fixed rate, none, or the pace of the budget the PBX
// announced once an answer brought it.
func TestClientPace(t *testing.T) {
	f := newFixture(t)
	f.sim.SetRateLimit(pbxsim.DemoClientID, 3600)
	fixed, off := f.client(t, WithRateLimit(7, 1)), f.client(t)
	if got := fixed.Pace(); got != 7 {
		t.Errorf("a fixed pace of 7/s: Pace() = %v", got)
	}
	if got := off.Pace(); !math.IsInf(got, 1) {
		t.Errorf("no pacing: Pace() = %v, want +Inf", got)
	}
	adaptive, err := New(f.srv.URL, WithCredentials(pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret), withClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if got := adaptive.Pace(); got != DefaultRequestsPerSecond {
		t.Errorf("adaptive, before any answer: Pace() = %v, want the cautious start %v", got, float64(DefaultRequestsPerSecond))
	}
	ctx := context.Background()
	if _, err := adaptive.Users.Me(ctx); err != nil {
		t.Fatal(err)
	}
	// The next request sets the pace of the budget the first answer announced.
	if _, err := adaptive.Users.Me(ctx); err != nil {
		t.Fatal(err)
	}
	want, _, _ := pace(adaptive.Budget(), f.clock.Now())
	if got := adaptive.Pace(); got != float64(want) || got == DefaultRequestsPerSecond {
		t.Errorf("adaptive, after an answer announced 3600/h: Pace() = %v, want %v", got, float64(want))
	}
}
