package pbxsim

import (
	"net/http"
	"strconv"
	"time"
)

// window is a client's current hourly request window.
type window struct {
	start time.Time
	used  int
}

// rateWindow is the length of the PBX's request windows: limits are hourly (UPSTREAM-API 2.3).
const rateWindow = time.Hour

func (s *Server) rateLimit(client int64) int {
	if t := s.w.tenants[client]; t != nil && t.RateLimitPerHour > 0 {
		return t.RateLimitPerHour
	}
	return defaultRateLimit
}

// spend counts one request against the client's hourly budget and sets the X-RateLimit headers.
// It returns false when the budget is spent: the request gets 429 until the window resets. The
// caller holds s.mu.
func (s *Server) spend(w http.ResponseWriter, client int64) bool {
	now := s.now()
	win := s.windows[client]
	if win == nil || !now.Before(win.start.Add(rateWindow)) {
		win = &window{start: now}
		s.windows[client] = win
	}
	limit := s.rateLimit(client)
	allowed := win.used < limit
	if allowed {
		win.used++
	}
	reset := win.start.Add(rateWindow).Sub(now)
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(limit-win.used))
	h.Set("X-RateLimit-Reset", strconv.Itoa(int((reset+time.Second-1)/time.Second)))
	return allowed
}

// SetRateLimit changes a client's hourly request budget; it applies to the current window.
func (s *Server) SetRateLimit(client int64, perHour int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.w.tenants[client]; t != nil {
		t.RateLimitPerHour = perHour
	}
}

// ResetRateLimits starts a new request window for every client, as if the hour had rolled over.
func (s *Server) ResetRateLimits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.windows)
}
