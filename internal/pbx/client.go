package pbx

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
)

// Defaults of the options.
const (
	// DefaultUserAgent is sent when WithUserAgent is not given.
	DefaultUserAgent = "pbx-operator"
	// DefaultRequestsPerSecond and DefaultBurst are the cautious pace before the PBX has announced
	// its budget (and the fixed pace of WithRateLimit's callers that pass them).
	DefaultRequestsPerSecond = 10
	DefaultBurst             = 10
	// DefaultMaxInFlight is how many requests of one client may be under way at once when
	// WithMaxInFlight is not given.
	DefaultMaxInFlight = 8
	// DefaultPageSize is the per_page of list requests when WithPageSize is not given: the
	// largest value third-party clients are seen to send (UPSTREAM-API 2.6).
	DefaultPageSize = 200
	// DefaultTimeout bounds each request when WithHTTPClient is not given.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxAnswerBytes bounds what the client reads of one answer (a page of a list, the
	// token endpoint's answer, an error), counted after decompression, when WithMaxAnswerBytes is
	// not given: a list page of 500 extensions is about 350 KiB.
	DefaultMaxAnswerBytes = 8 << 20
	// DefaultMaxPages bounds the pages of one list, and its objects to that many full pages, when
	// the PBX has not reported a limit on the collection's objects (see ClientInfoService.Limits).
	DefaultMaxPages = 100
)

// maxErrorRead is how much of an error answer is read to find its message.
const maxErrorRead = 64 << 10

// A Client speaks to one PBX account. It holds the account's token and its request budget, so
// create one per account and share it between every caller; it is safe for concurrent use.
type Client struct {
	base   string
	http   *http.Client
	budget *budget
	// inFlight holds a token per request under way.
	inFlight  chan struct{}
	userAgent string
	pageSize  int
	// maxAnswerBytes bounds the bytes read of one answer, after decompression.
	maxAnswerBytes int64
	// limits are the client's limits as the PBX last reported them (ClientInfoService.Limits), to
	// bound lists by; nil until then.
	limits atomic.Pointer[Limits]
	now    func() time.Time

	// Users is the current user (who am I).
	Users *UsersService
	// ClientInfo is the client's information and limits.
	ClientInfo *ClientInfoService
	// Groups are the extension groups.
	Groups *GroupsService
	// Extensions are the extensions (internal numbers).
	Extensions *ExtensionsService
	// Phones are the phone terminal settings of phone extensions.
	Phones *PhonesService
	// Events are the event subscriptions (webhooks) of extensions.
	Events *EventsService
	// DIDs are the external numbers and their routing to extensions.
	DIDs *DIDsService
	// Timezones is the list of time zone names.
	Timezones *TimezonesService
}

// service is the common part of the services: the client they speak through.
type service struct{ c *Client }

// An Option configures a Client.
type Option func(*options)

type options struct {
	httpClient     *http.Client
	clientID       string
	clientSecret   string
	tokenSource    oauth2.TokenSource
	userAgent      string
	rps            float64
	burst          int
	adaptive       bool
	maxInFlight    int
	writeReserve   int
	registerer     prometheus.Registerer
	log            logr.Logger
	pageSize       int
	now            func() time.Time
	credentialsSet bool
	caBundle       []byte
	maxAnswerBytes int64
}

// WithHTTPClient sends requests through hc's transport, with its timeout. The client never
// follows redirects, whatever hc says: a redirected POST would arrive as a GET.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithCABundle trusts the PEM-encoded CA certificates in bundle for the PBX's TLS certificate, on
// top of the system's roots: for a PBX API behind a proxy with a private CA. TLS is verified
// either way; New fails when bundle holds no certificate, or when the transport of WithHTTPClient
// is not an *http.Transport (whose copy gets the roots).
func WithCABundle(bundle []byte) Option { return func(o *options) { o.caBundle = bundle } }

// WithCredentials authenticates with the OAuth2 client_credentials grant of a trusted
// application (UPSTREAM-API 1.2); its token acts for the user who registered the application.
func WithCredentials(clientID, clientSecret string) Option {
	return func(o *options) {
		o.clientID, o.clientSecret, o.credentialsSet = clientID, clientSecret, true
	}
}

// WithTokenSource authenticates with tokens from ts instead of client credentials (it wins when
// both are given). After a 401 the client asks ts again, so ts must hand out a new token once the
// PBX refused the old one.
func WithTokenSource(ts oauth2.TokenSource) Option { return func(o *options) { o.tokenSource = ts } }

// WithUserAgent sets the User-Agent header, e.g. "pbx-operator/v0.3.0".
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithRateLimit paces requests at a fixed rps per second with bursts of burst, instead of the
// default adaptive pacing; rps <= 0 turns pacing off. Requests wait for their turn (within their
// context's deadline); pacing never drops a request.
func WithRateLimit(rps float64, burst int) Option {
	return func(o *options) { o.rps, o.burst, o.adaptive = rps, burst, false }
}

// WithMaxInFlight bounds the requests of the client under way at once (at least 1). The PBX
// documents a limit of simultaneous connections on its token endpoint; a small bound keeps a
// burst from opening many.
func WithMaxInFlight(n int) Option { return func(o *options) { o.maxInFlight = max(n, 1) } }

// WithWriteReserve keeps the last percent of the hourly budget for writes: once the PBX reports
// that many requests or fewer remaining, reads (drift checks) fail at once as rate-limited until
// the window resets, while creates, updates and deletes still go.
func WithWriteReserve(percent int) Option {
	return func(o *options) { o.writeReserve = min(max(percent, 0), 100) }
}

// WithMetrics registers the request metrics (pbx_client_requests_total and
// pbx_client_request_duration_seconds, defined in internal/telemetry) with reg. To tell accounts
// apart, pass a registerer that adds the account's labels, such as
// prometheus.WrapRegistererWith(prometheus.Labels{"kind": "Account", "namespace": ns, "name": name}, reg),
// as the account registry does; clients built later for the same labels reuse the collectors.
func WithMetrics(reg prometheus.Registerer) Option { return func(o *options) { o.registerer = reg } }

// WithLogger logs every request at V(2), with the Authorization header, client_secret, tokens and
// every password field redacted.
func WithLogger(log logr.Logger) Option { return func(o *options) { o.log = log } }

// WithPageSize sets the per_page of list requests (at least 1).
func WithPageSize(n int) Option { return func(o *options) { o.pageSize = max(n, 1) } }

// WithMaxAnswerBytes bounds what the client reads of one answer, after decompression (at least 1;
// DefaultMaxAnswerBytes when not given): an answer past it fails with a *TooLargeError, so that a
// PBX that answers endlessly, or with a gzip bomb, costs at most that much memory per request.
// The manager sets it with --max-pbx-answer-bytes.
func WithMaxAnswerBytes(n int64) Option { return func(o *options) { o.maxAnswerBytes = max(n, 1) } }

// New returns a Client for the PBX at baseURL (such as https://apiproxy.telphin.ru), which needs
// WithCredentials or WithTokenSource. The API lives under baseURL + /api/ver1.0 and the token
// endpoint at baseURL + /oauth/token.
func New(baseURL string, opts ...Option) (*Client, error) {
	o := options{
		userAgent:   DefaultUserAgent,
		rps:         DefaultRequestsPerSecond,
		burst:       DefaultBurst,
		adaptive:    true,
		maxInFlight: DefaultMaxInFlight,
		log:         logr.Discard(),
		pageSize:    DefaultPageSize,
		now:         time.Now,

		maxAnswerBytes: DefaultMaxAnswerBytes,
	}
	for _, opt := range opts {
		opt(&o)
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: must be an absolute http or https URL", baseURL)
	}
	if o.tokenSource == nil && !o.credentialsSet {
		return nil, errors.New("no credentials: use WithCredentials or WithTokenSource")
	}
	hc := o.httpClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	// Every request, the token requests included, is measured and logged.
	wire := hc.Transport
	if wire == nil {
		wire = http.DefaultTransport
	}
	if o.caBundle != nil {
		var err error
		if wire, err = trusting(wire, o.caBundle); err != nil {
			return nil, err
		}
	}
	if o.registerer != nil {
		m, err := newMetrics(o.registerer)
		if err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
		wire = &metricsTransport{next: wire, m: m}
	}
	wire = &logTransport{next: wire, log: o.log}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	base := strings.TrimSuffix(u.String(), "/")
	var fetch func(context.Context) (*oauth2.Token, error)
	if o.tokenSource != nil {
		fetch = fromTokenSource(o.tokenSource)
	} else {
		tokenHTTP := &http.Client{Transport: wire, Timeout: hc.Timeout, CheckRedirect: noRedirect}
		fetch = clientCredentials(base+tokenPath, o.clientID, o.clientSecret, tokenHTTP, o.maxAnswerBytes)
	}
	c := &Client{
		base: base,
		http: &http.Client{
			Transport:     &authTransport{next: wire, tokens: newTokenCache(fetch, o.now)},
			Timeout:       hc.Timeout,
			CheckRedirect: noRedirect,
		},
		budget:    newBudget(o.now, o.rps, o.burst, o.writeReserve, o.adaptive),
		inFlight:  make(chan struct{}, o.maxInFlight),
		userAgent: o.userAgent,
		pageSize:  o.pageSize,
		now:       o.now,

		maxAnswerBytes: o.maxAnswerBytes,
	}
	s := service{c: c}
	c.Users = (*UsersService)(&s)
	c.ClientInfo = (*ClientInfoService)(&s)
	c.Groups = (*GroupsService)(&s)
	c.Extensions = (*ExtensionsService)(&s)
	c.Phones = (*PhonesService)(&s)
	c.Events = (*EventsService)(&s)
	c.DIDs = (*DIDsService)(&s)
	c.Timezones = (*TimezonesService)(&s)
	return c, nil
}

// trusting returns a copy of base that verifies the PBX's certificate against the system's roots
// plus the certificates of bundle.
func trusting(base http.RoundTripper, bundle []byte) (http.RoundTripper, error) {
	t, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("CA bundle: the HTTP client's transport is a %T, not an *http.Transport", base)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		// No system roots (a platform without them): the bundle alone is trusted, and TLS is still verified.
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(bundle) {
		return nil, errors.New("CA bundle: no PEM-encoded certificate found")
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	t.TLSClientConfig.RootCAs = roots
	t.TLSClientConfig.InsecureSkipVerify = false
	return t, nil
}

// Budget returns the PBX's hourly request budget as the client last saw it, for status and
// metrics.
func (c *Client) Budget() Budget { return c.budget.snapshot() }

// Pace returns the rate of requests per second the client paces itself to now: the fixed rate of
// WithRateLimit, or the pace of the budget the PBX announced (its cautious start until the first
// answer), as the last request set it; +Inf when pacing is off.
func (c *Client) Pace() float64 {
	if l := c.budget.limiter.Limit(); l != rate.Inf {
		return float64(l)
	}
	return math.Inf(1)
}

// connection takes one of the requests in flight the client allows, waiting at most maxWait for
// one to end (a Patient ctx waits as long as it allows): a request that would wait longer is not
// sent (DeferredError).
func (c *Client) connection(ctx context.Context, method, path string) error {
	select {
	case c.inFlight <- struct{}{}:
		return nil
	default:
	}
	var expired <-chan time.Time // never, for a patient ctx
	if !patient(ctx) {
		t := time.NewTimer(maxWait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case c.inFlight <- struct{}{}:
		return nil
	case <-expired:
		return &DeferredError{Method: method, Path: path, After: maxWait,
			Why: fmt.Sprintf("a free connection (all %d the account allows are busy)", cap(c.inFlight))}
	case <-ctx.Done():
		return transportError(ctx, method, path, fmt.Errorf("waiting for a free connection: %w", ctx.Err()))
	}
}

// Turn books a slot in the account's pace for one write of the caller key (a resource's uid), in
// line with every other request: 0 when it is due, with the context for the write's request, which
// then takes that slot; else how long until it is. A reconcile that is told to wait ends and comes
// back then, and Turn finds its booking: a paced account never holds a worker, and its writes
// come back one after the other.
func (c *Client) Turn(ctx context.Context, key string) (context.Context, time.Duration) {
	r, d := c.budget.turn(key)
	if r == nil {
		return ctx, d
	}
	return context.WithValue(ctx, ticketKey{}, &ticket{r: r}), 0
}

// do sends one request and decodes its answer into out (unless out is nil). It checks the
// request budget first, so a spent budget costs no network call, and it never retries: the only
// second attempt is authTransport's after a 401.
func (c *Client) do(ctx context.Context, method string, ep endpoint, query url.Values, in, out any) error {
	if ep.err != nil {
		return ep.err
	}
	if err := c.budget.admit(method, ep.path); err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding the request: %w", method, ep.path, err)
		}
		body = bytes.NewReader(data)
	}
	target := c.base + ep.path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(withTemplate(ctx, ep.template), method, target, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, ep.path, err)
	}
	req.Header.Set("Accept", "application/json")
	// The PBX asks clients to accept gzip (UPSTREAM-API 2.2). Setting the header ourselves turns
	// off net/http's transparent decoding, so the answer is decoded below.
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.budget.wait(ctx, method, ep.path); err != nil {
		return err
	}
	if err := c.connection(ctx, method, ep.path); err != nil {
		return err
	}
	defer func() { <-c.inFlight }()
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the method and the full URL
		}
		return transportError(ctx, method, ep.path, err)
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorRead)) //nolint:errcheck,gosec // draining lets the connection be reused
		resp.Body.Close()                                            //nolint:errcheck,gosec // the body was read
	}()
	c.budget.observe(resp.StatusCode, resp.Header)

	rd := io.Reader(resp.Body)
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		gz, err := gzip.NewReader(resp.Body)
		switch {
		case errors.Is(err, io.EOF):
			rd = http.NoBody // no body at all, as with 204
		case err != nil:
			return transportError(ctx, method, ep.path, fmt.Errorf("reading the gzip answer: %w", err))
		default:
			rd = gz
		}
	}
	// Whatever the PBX says, no more than the bound is read, counted after decompression: a tenant
	// controls its account's url, so the PBX may be a hostile server.
	rd = newBoundedReader(rd, method, ep.path, c.maxAnswerBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(rd, maxErrorRead)) // a partial body still has a status
		e := newAPIError(method, ep.path, resp.StatusCode, resp.Header, data, c.now())
		if e.StatusCode == http.StatusTooManyRequests && e.RetryAt.IsZero() {
			e.RetryAt = c.budget.snapshot().BlockedUntil
		}
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	dec := json.NewDecoder(rd)
	if s, ok := out.(streamDecoder); ok {
		err = s.decodeFrom(dec)
	} else {
		err = dec.Decode(out)
	}
	if err != nil {
		var tooLarge *TooLargeError
		if errors.As(err, &tooLarge) {
			return tooLarge // it names the request
		}
		return transportError(ctx, method, ep.path, fmt.Errorf("decoding the answer: %w", err))
	}
	return nil
}

// A streamDecoder is an answer that decodes itself from the stream, as a list page does to count
// its objects as they come.
type streamDecoder interface{ decodeFrom(*json.Decoder) error }

// transportError wraps a failure to get an answer with the request, keeping a context error in
// the chain (a body read cut by a deadline does not always say so).
func transportError(ctx context.Context, method, path string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s %s: %w: %w", method, path, cerr, err)
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

// get fetches one object.
func get[T any](ctx context.Context, c *Client, ep endpoint) (*T, error) {
	var out T
	if err := c.do(ctx, http.MethodGet, ep, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// send sends a body with POST (create) or PUT (update) and returns the object the PBX answers.
func send[T any](ctx context.Context, c *Client, method string, ep endpoint, in any) (*T, error) {
	var out T
	if err := c.do(ctx, method, ep, nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// remove deletes one object.
func remove(ctx context.Context, c *Client, ep endpoint) error {
	return c.do(ctx, http.MethodDelete, ep, nil, nil, nil)
}
