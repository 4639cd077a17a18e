package pbxsim

import (
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Latency is time added before a request is served: Fixed plus a uniformly random part of up to
// Jitter. In JSON both are Go duration strings ("20ms").
type Latency struct {
	Fixed  time.Duration
	Jitter time.Duration
}

type latencyJSON struct {
	Fixed  string `json:"fixed,omitempty"`
	Jitter string `json:"jitter,omitempty"`
}

// MarshalJSON writes the durations as strings.
func (l Latency) MarshalJSON() ([]byte, error) {
	j := latencyJSON{}
	if l.Fixed != 0 {
		j.Fixed = l.Fixed.String()
	}
	if l.Jitter != 0 {
		j.Jitter = l.Jitter.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads durations written as strings.
func (l *Latency) UnmarshalJSON(b []byte) error {
	var j latencyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*l = Latency{}
	for _, p := range []struct {
		s string
		d *time.Duration
	}{{j.Fixed, &l.Fixed}, {j.Jitter, &l.Jitter}} {
		if p.s == "" {
			continue
		}
		d, err := time.ParseDuration(p.s)
		if err != nil {
			return err
		}
		*p.d = d
	}
	return nil
}

// Fault is an injected misbehaviour for requests that match its method and path.
type Fault struct {
	// ID is assigned by AddFault.
	ID string `json:"id,omitempty"`
	// Method matches the request method; empty matches every method.
	Method string `json:"method,omitempty"`
	// Path matches the request path, written literally (/api/ver1.0/client/1/extension/) or as a
	// template (/api/ver1.0/client/{realm_id}/extension/{id}); a trailing * matches any rest.
	// Empty matches every path.
	Path string `json:"path,omitempty"`
	// Status answers the request with this status and a JSON message instead of serving it; 429
	// answers as the PBX's rate limit does.
	Status int `json:"status,omitempty"`
	// Reset is the X-RateLimit-Reset an injected 429 reports, when the client may call again;
	// 0 means an hour, the PBX's window.
	Reset time.Duration `json:"reset,omitempty"`
	// DropAfterCommit serves the request, so its change is made, then cuts the connection
	// without an answer.
	DropAfterCommit bool `json:"drop_after_commit,omitempty"`
	// StatusAfterCommit serves the request, so its change is made, then answers with this status
	// and a JSON message instead of the real answer: a 500 or 504 from a proxy after the PBX
	// committed. The client is told the change failed when it did not.
	StatusAfterCommit int `json:"status_after_commit,omitempty"`
	// Latency is added before the request is served (a long one makes clients time out). A
	// request without a body whose client gives up meanwhile is not served (counted under
	// StatusClientGone); one with a body (POST, PUT) is still served when the latency ends, as
	// by a slow server: its change is made although nobody reads the answer.
	Latency Latency `json:"latency,omitzero"`
	// Probability is the chance, from 0 to 1, that a matching request is affected; 0 means always.
	Probability float64 `json:"probability,omitempty"`
	// Times is how many matching requests are affected before the fault is removed; 0 means no
	// limit.
	Times int `json:"times,omitempty"`
}

type faultRule struct {
	Fault
	hits int
}

func (f *faultRule) matches(r *http.Request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	if f.Path == "" {
		return true
	}
	for _, p := range []string{r.URL.Path, templateOf(r.URL.Path)} {
		if prefix, ok := strings.CutSuffix(f.Path, "*"); ok && strings.HasPrefix(p, prefix) {
			return true
		}
		if p == f.Path {
			return true
		}
	}
	return false
}

// AddFault installs a fault and returns its id. Faults are checked in the order they were added;
// the first that matches a request and passes its probability applies.
func (s *Server) AddFault(f Fault) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultN++
	f.ID = "f" + strconv.Itoa(s.faultN)
	s.faults = append(s.faults, &faultRule{Fault: f})
	return f.ID
}

// RemoveFault removes one fault; it reports whether the fault was installed.
func (s *Server) RemoveFault(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.ID == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return true
		}
	}
	return false
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Faults returns the installed faults.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, f.Fault)
	}
	return out
}

// SetLatency changes the latency added to every request.
func (s *Server) SetLatency(l Latency) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = l
}

// matchFault returns the delay for a request (the server's latency plus the fault's) and the
// fault that applies to it, if any.
func (s *Server) matchFault(r *http.Request) (time.Duration, *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delay := s.jitter(s.latency)
	for i, f := range s.faults {
		if !f.matches(r) || (f.Probability > 0 && s.rnd.Float64() >= f.Probability) {
			continue
		}
		f.hits++
		if f.Times > 0 && f.hits >= f.Times {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		applied := f.Fault
		if f.Latency != (Latency{}) {
			s.fired[FiredLatency]++
		}
		return delay + s.jitter(f.Latency), &applied
	}
	return delay, nil
}

func (s *Server) jitter(l Latency) time.Duration {
	d := l.Fixed
	if l.Jitter > 0 {
		d += time.Duration(s.rnd.Int64N(int64(l.Jitter)))
	}
	return d
}

// Kinds of fired faults, the keys of FaultsFired. A fault with latency and a status counts once
// under each.
const (
	// FiredLatency counts requests delayed by a fault's Latency (whether or not the client waited).
	FiredLatency = "latency"
	// FiredDropAfterCommit counts answers cut off after the request was served (DropAfterCommit).
	FiredDropAfterCommit = "drop_after_commit"
)

// FiredStatus is the FaultsFired key of requests answered with an injected status code, such as
// "status:503" or "status:429".
func FiredStatus(code int) string { return "status:" + strconv.Itoa(code) }

// FiredStatusAfterCommit is the FaultsFired key of requests served in full and then answered with
// an injected status code (StatusAfterCommit), such as "after_commit:500".
func FiredStatusAfterCommit(code int) string { return "after_commit:" + strconv.Itoa(code) }

// Pseudo status codes of the request counters (RequestKey.Status) for requests that got no answer.
const (
	// StatusDropped is a request served in full whose answer a DropAfterCommit fault discarded:
	// its change (if any) was made, but the client received nothing.
	StatusDropped = 0
	// StatusClientGone is a request the client gave up on (it closed the connection or timed out)
	// while it waited out injected latency; it was not served.
	StatusClientGone = 499
)

// fire counts a fault that fired.
func (s *Server) fire(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fired[kind]++
}

// FaultsFired returns how many times injected faults fired, by kind: FiredStatus(code) for an
// injected answer, FiredDropAfterCommit and FiredLatency. These are separate from the request
// counters, which count what was answered; ResetFaultsFired and ResetRequests are independent,
// and ClearFaults keeps the counts.
func (s *Server) FaultsFired() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.fired)
}

// ResetFaultsFired sets every fired-fault counter to zero.
func (s *Server) ResetFaultsFired() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.fired)
}
