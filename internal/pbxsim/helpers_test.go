package pbxsim_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// env is a simulator behind a real HTTP server.
type env struct {
	t     testing.TB
	sim   *pbxsim.Server
	srv   *httptest.Server
	clock *clocktesting.FakeClock
}

func newEnv(t testing.TB, cfg pbxsim.Config, opts ...pbxsim.Option) *env {
	t.Helper()
	c := clocktesting.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	sim, err := pbxsim.New(cfg, append([]pbxsim.Option{pbxsim.WithClock(c.Now), pbxsim.WithSeed(7)}, opts...)...)
	if err != nil {
		t.Fatalf("pbxsim.New: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{t: t, sim: sim, srv: srv, clock: c}
}

// strictDemo is the demo tenant with strict slashes, the mode every client test uses.
func strictDemo(t *testing.T, opts ...pbxsim.Option) *env {
	return newEnv(t, pbxsim.DemoConfig(), append([]pbxsim.Option{pbxsim.WithStrictSlashes()}, opts...)...)
}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

// obj decodes an object answer.
func (r reply) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// list decodes a list answer.
func (r reply) list(t testing.TB) []map[string]any {
	t.Helper()
	var l []map[string]any
	r.json(t, &l)
	return l
}

// message is the "message" of an error answer.
func (r reply) message(t testing.TB) string {
	t.Helper()
	return r.obj(t)["message"].(string)
}

// raw sends a request; body is sent as is when it is a string, as JSON otherwise.
func (e *env) raw(method, path, token string, body any, header http.Header) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(res.Body)
		if err != nil {
			e.t.Fatal(err)
		}
		r = gz
	}
	data, err := io.ReadAll(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: data}
}

// tokenFor runs the client_credentials grant for an app and returns the token answer.
func (e *env) tokenFor(appID, secret string) reply {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret}}
	return e.form(form)
}

func (e *env) form(form url.Values) reply {
	e.t.Helper()
	res, err := e.srv.Client().PostForm(e.srv.URL+pbxsim.TokenPath, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: data}
}

// login returns a bearer token of a trusted app of the demo tenant.
func (e *env) login(appID string) string {
	e.t.Helper()
	r := e.tokenFor(appID, pbxsim.DemoAppSecret)
	if r.status != http.StatusOK {
		e.t.Fatalf("token for %s: %d %s", appID, r.status, r.body)
	}
	return r.obj(e.t)["access_token"].(string)
}

// api calls the API as the demo trusted app.
type caller struct {
	e     *env
	token string
}

func (e *env) as(appID string) caller { return caller{e: e, token: e.login(appID)} }

func (c caller) do(method, path string, body any) reply {
	c.e.t.Helper()
	return c.e.raw(method, pbxsim.APIPrefix+path, c.token, body, nil)
}

// must fails the test unless the answer has the wanted status.
func must(t testing.TB, r reply, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("want status %d, got %d: %s", status, r.status, r.body)
	}
	return r
}
