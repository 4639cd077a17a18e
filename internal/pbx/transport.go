package pbx

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudpbx/pbx-operator/internal/telemetry"
)

// templateKey is the context key of a request's path template.
type templateKey struct{}

// withTemplate records the path template of the request made with ctx, for metrics.
func withTemplate(ctx context.Context, template string) context.Context {
	return context.WithValue(ctx, templateKey{}, template)
}

// templateOf returns the path template recorded in ctx; "other" for a request the client did not
// build, so that no raw path ever becomes a label.
func templateOf(ctx context.Context) string {
	if t, ok := ctx.Value(templateKey{}).(string); ok {
		return t
	}
	return "other"
}

// metrics are the client's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics registers the client's collectors with reg. Collectors already registered there,
// by an earlier client for the same account, are reused.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	requests, err := register(reg, telemetry.ClientRequests.CounterVec())
	if err != nil {
		return nil, err
	}
	duration, err := register(reg, telemetry.ClientRequestDuration.HistogramVec())
	if err != nil {
		return nil, err
	}
	return &metrics{requests: requests, duration: duration}, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// metricsTransport counts requests and measures their latency, labelled by the path template so
// that ids and names never become label values.
type metricsTransport struct {
	next http.RoundTripper
	m    *metrics
}

// RoundTrip sends req and records it.
func (t *metricsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	resource := templateOf(req.Context())
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	// The failures the alerts watch for exist at 0 from the first request of their method and
	// resource, so that the first 429 or unanswered request is an increase, not a new series
	// that rate() cannot see.
	for _, watched := range [...]string{"429", "error"} {
		t.m.requests.WithLabelValues(req.Method, resource, watched)
	}
	t.m.requests.WithLabelValues(req.Method, resource, code).Inc()
	t.m.duration.WithLabelValues(req.Method, resource).Observe(time.Since(start).Seconds())
	return resp, err
}

// logTransport logs every request at V(2): method, URL, headers and body, with secrets redacted.
// Answer bodies are not logged: the token endpoint's holds the access token.
type logTransport struct {
	next http.RoundTripper
	log  logr.Logger
}

// maxLoggedBody is how much of a request body is logged.
const maxLoggedBody = 4 << 10

// redacted replaces secret values in logs.
const redacted = "[REDACTED]"

// RoundTrip sends req and logs it.
func (t *logTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	log := t.log.V(2)
	if !log.Enabled() {
		return t.next.RoundTrip(req)
	}
	kv := []any{"method", req.Method, "url", redactURL(req.URL), "headers", redactHeaders(req.Header)}
	if body, ok := loggedBody(req); ok {
		kv = append(kv, "body", body)
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	kv = append(kv, "duration", time.Since(start).String())
	if err != nil {
		log.Info("Sent PBX request", append(kv, "error", err.Error())...)
		return resp, err
	}
	log.Info("Sent PBX request", append(kv, "status", resp.StatusCode)...)
	return resp, err
}

// isSecret reports whether a field or parameter holds a secret: a client secret, a token, or any
// password (user passwords, the phone's SIP password).
func isSecret(key string) bool {
	k := strings.ToLower(key)
	return k == "client_secret" || k == "access_token" || k == "refresh_token" || strings.Contains(k, "password")
}

func redactHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Proxy-Authorization", "Cookie":
			out[k] = redacted
		default:
			out[k] = strings.Join(v, ", ")
		}
	}
	return out
}

func redactValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vals := range v {
		if isSecret(k) {
			vals = []string{redacted}
		}
		out[k] = vals
	}
	return out
}

func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		c.RawQuery = redactValues(c.Query()).Encode()
	}
	return c.String()
}

// loggedBody returns the request body for the log, with secrets redacted: JSON fields and form
// parameters by name; other bodies by size only. It reads a copy through GetBody, so the request
// is untouched.
func loggedBody(req *http.Request) (any, bool) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody == nil {
		return nil, false
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	defer rc.Close() //nolint:errcheck // a copy of an in-memory body
	data, err := io.ReadAll(io.LimitReader(rc, maxLoggedBody+1))
	if err != nil || len(data) > maxLoggedBody {
		return strconv.Itoa(len(data)) + " bytes or more", true
	}
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(data))
		if err != nil {
			break
		}
		return redactValues(v), true
	case "application/json":
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			break
		}
		redactJSON(v)
		return v, true
	}
	return strconv.Itoa(len(data)) + " bytes", true
}

// redactJSON replaces the values of secret fields, at any depth, in a decoded JSON value.
func redactJSON(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if isSecret(k) {
				t[k] = redacted
				continue
			}
			redactJSON(e)
		}
	case []any:
		for _, e := range t {
			redactJSON(e)
		}
	}
}
