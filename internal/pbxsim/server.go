package pbxsim

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIPrefix is the path of the PBX API on the server; TokenPath is the OAuth2 token endpoint.
const (
	APIPrefix = "/api/ver1.0"
	TokenPath = "/oauth/token"
	// AdminPrefix is the reserved path of the test and chaos controls, served with WithAdmin.
	AdminPrefix = "/_pbxsim"
)

// Server is a simulated PBX. It is an http.Handler and safe for concurrent use.
type Server struct {
	strictSlashes bool
	admin         bool
	statePath     string
	now           func() time.Time
	cfg           Config // the start configuration, for Reset
	assume        Assumptions
	hooks         *http.Client  // delivers events to subscribers (SimulateCall)
	eventTimeout  time.Duration // bounds each delivery

	mu       sync.Mutex // guards everything below
	w        *world
	tokens   map[string]token
	windows  map[int64]*window
	faults   []*faultRule
	faultN   int
	latency  Latency
	rnd      *rand.Rand
	counts   map[RequestKey]int
	agents   map[AgentKey]int
	fired    map[string]int // injected faults that fired, by kind (FaultsFired)
	tokenTTL time.Duration
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock used for token expiry, rate-limit windows and create dates.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithSeed makes tokens, latency jitter and fault probabilities repeatable.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.rnd = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithStrictSlashes answers a URL with the wrong trailing slash with 404: collections and
// singletons end with "/", single objects do not. By default both forms are served, as the live
// API does in places (UPSTREAM-API 2.1).
func WithStrictSlashes() Option { return func(s *Server) { s.strictSlashes = true } }

// WithAdmin serves the test and chaos controls over HTTP under AdminPrefix.
func WithAdmin() Option { return func(s *Server) { s.admin = true } }

// WithEventTimeout bounds each delivery of an event to a subscriber (SimulateCall); the default,
// also for d <= 0, is 2 s.
func WithEventTimeout(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.eventTimeout = d
		}
	}
}

// WithLatency adds latency to every request.
func WithLatency(l Latency) Option { return func(s *Server) { s.latency = l } }

// WithStateFile keeps the world in path: it is loaded by New when the file exists, and written
// atomically after every change.
func WithStateFile(path string) Option { return func(s *Server) { s.statePath = path } }

// New returns a Server whose world is cfg, or the world saved in the state file if there is one.
func New(cfg Config, opts ...Option) (*Server, error) {
	s := &Server{
		now:     time.Now,
		tokens:  map[string]token{},
		windows: map[int64]*window{},
		counts:  map[RequestKey]int{},
		agents:  map[AgentKey]int{},
		fired:   map[string]int{},
		rnd:     rand.New(rand.NewPCG(1, 2)),
		cfg:     cfg,
		assume:  cfg.Assumptions,
		hooks: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // report the subscriber's own answer
		}},
		eventTimeout: defaultEventTimeout,
	}
	for _, o := range opts {
		o(s)
	}
	s.tokenTTL = time.Duration(cfg.TokenLifetimeSeconds) * time.Second
	if s.tokenTTL <= 0 {
		s.tokenTTL = defaultTokenExpiry * time.Second
	}
	if s.statePath != "" {
		data, err := os.ReadFile(s.statePath)
		switch {
		case err == nil:
			if s.w, err = loadWorld(data); err != nil {
				return nil, fmt.Errorf("loading state %s: %w", s.statePath, err)
			}
			return s, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("reading state: %w", err)
		}
	}
	w, err := buildWorld(cfg, s.now())
	if err != nil {
		return nil, err
	}
	s.w = w
	if s.statePath != "" {
		if err := s.w.save(s.statePath); err != nil {
			return nil, fmt.Errorf("writing state: %w", err)
		}
	}
	return s, nil
}

// Reset makes the PBX lose its data, as a PBX restored from an empty or older backup does: the
// world is rebuilt from the Config given to New (the same clients, users, apps, DIDs and groups,
// and none of the objects made since), not from the state file, and ids start over, so new
// objects get the ids that lost ones had. Every token is revoked: the token store is lost with the
// data (a restored PBX knows no token issued after its backup), so clients must log in again and
// see a 401 first. Rate-limit budgets return to the Config's. Faults, latency, the hourly windows
// and the counters are controls of the simulator, not PBX data, and stay. With WithStateFile the
// file is rewritten with the new world.
func (s *Server) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := buildWorld(s.cfg, s.now())
	if err != nil {
		return err
	}
	s.w = w
	clear(s.tokens)
	if s.statePath != "" {
		if err := s.w.save(s.statePath); err != nil {
			return fmt.Errorf("writing state: %w", err)
		}
	}
	return nil
}

// ServeHTTP serves the PBX API, the token endpoint and, with WithAdmin, the controls.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if s.admin && strings.HasPrefix(r.URL.Path, AdminPrefix+"/") {
		s.serveAdmin(rw, r)
		return
	}
	rec := &recorder{ResponseWriter: rw, status: http.StatusOK}
	template := "other"
	defer func() {
		s.mu.Lock()
		s.counts[RequestKey{Method: r.Method, Path: template, Status: rec.status}]++
		s.mu.Unlock()
	}()

	delay, f := s.matchFault(r)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			rec.status = StatusClientGone // the client gave up; nothing is sent
			return
		}
	}
	if f != nil && f.Status != 0 {
		template = templateOf(r.URL.Path)
		s.fire(FiredStatus(f.Status))
		if f.Status == http.StatusTooManyRequests {
			// An injected 429 looks like the PBX's own: a spent budget that resets after Reset.
			reset := f.Reset
			if reset <= 0 {
				reset = rateWindow
			}
			h := rec.Header()
			h.Set("X-RateLimit-Limit", strconv.Itoa(s.limitOf(r)))
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.Itoa(int((reset+time.Second-1)/time.Second)))
			writeJSON(rec, r, f.Status, apiError{Message: "Rate limit exceeded", Status: "rate_limit_exceeded"})
			return
		}
		writeJSON(rec, r, f.Status, apiError{Message: http.StatusText(f.Status) + " (injected fault)"})
		return
	}
	if f != nil && f.DropAfterCommit {
		// The request is served in full, its answer discarded and the connection cut: the client
		// cannot tell whether the change happened (the lost-response case).
		rec.ResponseWriter = discard{header: http.Header{}}
		defer func() {
			// The counter runs after this (defers run in reverse order, also while panicking):
			// it files the request under StatusDropped, not under the status nobody received.
			rec.status = StatusDropped
			s.fire(FiredDropAfterCommit)
			panic(http.ErrAbortHandler)
		}()
	}

	if f != nil && f.StatusAfterCommit != 0 {
		// The request is served in full and its answer replaced by an error: the change happened,
		// and the client hears that it failed.
		real := rec.ResponseWriter
		rec.ResponseWriter = discard{header: http.Header{}}
		defer func() {
			rec.ResponseWriter = real
			s.fire(FiredStatusAfterCommit(f.StatusAfterCommit))
			writeJSON(rec, r, f.StatusAfterCommit, apiError{Message: http.StatusText(f.StatusAfterCommit) + " (injected fault after the change was made)"})
		}()
	}
	switch {
	case r.URL.Path == TokenPath || r.URL.Path == TokenPath+"/":
		template = TokenPath
		s.handleToken(rec, r)
	case strings.HasPrefix(r.URL.Path, APIPrefix+"/"):
		template = s.serveAPI(rec, r)
	default:
		writeJSON(rec, r, http.StatusNotFound, apiError{Message: "Not found"})
	}
}

// limitOf is the hourly budget an injected 429 reports: that of the client whose bearer token the
// request carries, so that it agrees with the client's other answers, or the default.
func (s *Server) limitOf(r *http.Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if t, ok := s.tokens[raw]; ok {
			return s.rateLimit(t.client)
		}
	}
	return defaultRateLimit
}

// apiError is the PBX's error body: a message, and for some errors a machine-readable status.
type apiError struct {
	Message string `json:"message"`
	Status  string `json:"status,omitempty"`
}

// writeJSON writes v as the JSON answer, gzip-compressed when the client accepts it.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// Small answers are not worth compressing; the PBX asks clients to accept gzip to save traffic
	// on the large ones (lists).
	if len(data) >= gzipMinSize && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		w.WriteHeader(status)
		gz := gzipWriters.Get().(*gzip.Writer)
		gz.Reset(w)
		gz.Write(data) //nolint:errcheck,gosec // nothing to do for a client that went away
		gz.Close()     //nolint:errcheck,gosec // as above
		gzipWriters.Put(gz)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	w.Write(data) //nolint:errcheck,gosec // nothing to do for a client that went away
}

// gzipMinSize is the smallest answer sent compressed.
const gzipMinSize = 1024

// gzipWriters reuses compressors, which are large to allocate.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// recorder remembers the status code of an answer, for the request counters.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// discard is a ResponseWriter that throws the answer away.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
