package pbxsim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestRateLimit(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	cfg.Clients[0].RateLimitPerHour = 3
	e := newEnv(t, cfg, pbxsim.WithStrictSlashes())
	c := e.as(pbxsim.DemoTrustedAppID)

	for i := range 3 {
		r := must(t, c.do(http.MethodGet, "/client/@me/extension/", nil), http.StatusOK)
		if got := r.header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(2-i) {
			t.Errorf("request %d: want X-RateLimit-Remaining %d, got %q", i+1, 2-i, got)
		}
		if r.header.Get("X-RateLimit-Limit") != "3" || r.header.Get("X-RateLimit-Reset") != "3600" {
			t.Errorf("request %d: want limit 3 and reset 3600, got %v", i+1, r.header)
		}
	}
	e.clock.Step(10 * time.Minute)
	r := c.do(http.MethodGet, "/client/@me/extension/", nil)
	if r.status != http.StatusTooManyRequests || r.obj(t)["status"] != "rate_limit_exceeded" {
		t.Fatalf("over the budget: want 429 rate_limit_exceeded, got %d %s", r.status, r.body)
	}
	if r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") != "3000" {
		t.Errorf("429 headers: want remaining 0 and reset 3000, got %v", r.header)
	}
	// Writes are refused as well, and nothing is applied.
	must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "G"}), http.StatusTooManyRequests)
	if n := len(e.sim.Snapshot().ExtensionGroups); n != 0 {
		t.Errorf("a refused write applied: %d groups", n)
	}
	e.clock.Step(50 * time.Minute)
	c = e.as(pbxsim.DemoTrustedAppID) // the hour also expired the token
	must(t, c.do(http.MethodGet, "/client/@me/extension/", nil), http.StatusOK)

	// The budget is per client: SetRateLimit and ResetRateLimits are the controls.
	e.sim.SetRateLimit(pbxsim.DemoClientID, 1)
	must(t, c.do(http.MethodGet, "/client/@me/extension/", nil), http.StatusTooManyRequests)
	e.sim.ResetRateLimits()
	must(t, c.do(http.MethodGet, "/client/@me/extension/", nil), http.StatusOK)
}

func TestFaults(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	const groups = "/api/ver1.0/client/{realm_id}/extension_group/"

	id := e.sim.AddFault(pbxsim.Fault{Method: http.MethodGet, Path: groups, Status: http.StatusServiceUnavailable, Times: 2})
	for range 2 {
		must(t, c.do(http.MethodGet, "/client/@me/extension_group/", nil), http.StatusServiceUnavailable)
	}
	must(t, c.do(http.MethodGet, "/client/@me/extension_group/", nil), http.StatusOK)
	if e.sim.RemoveFault(id) {
		t.Errorf("a fault with Times is removed once used up")
	}

	e.sim.AddFault(pbxsim.Fault{Path: "/api/ver1.0/client/1/*", Status: http.StatusTooManyRequests, Reset: 90 * time.Second})
	r := c.do(http.MethodGet, "/client/1/did/", nil)
	if r.status != http.StatusTooManyRequests || r.obj(t)["status"] != "rate_limit_exceeded" {
		t.Errorf("a 429 storm answers like the rate limit: got %d %s", r.status, r.body)
	}
	if r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") != "90" {
		t.Errorf("an injected 429 carries the rate-limit headers: %v", r.header)
	}
	must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusOK) // another literal path
	e.sim.ClearFaults()

	e.sim.AddFault(pbxsim.Fault{Method: http.MethodGet, Path: groups, Latency: pbxsim.Latency{Fixed: 50 * time.Millisecond}})
	start := time.Now()
	must(t, c.do(http.MethodGet, "/client/@me/extension_group/", nil), http.StatusOK)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("latency: want at least 50ms, took %v", d)
	}
	e.sim.ClearFaults()

	// Probability with a seed is repeatable: count how many of 200 requests fail.
	e.sim.AddFault(pbxsim.Fault{Path: groups, Status: http.StatusInternalServerError, Probability: 0.25})
	failed := 0
	for range 200 {
		if c.do(http.MethodGet, "/client/@me/extension_group/", nil).status == http.StatusInternalServerError {
			failed++
		}
	}
	if failed < 25 || failed > 75 {
		t.Errorf("probability 0.25: %d of 200 failed", failed)
	}
	e.sim.ClearFaults()
	if len(e.sim.Faults()) != 0 {
		t.Errorf("ClearFaults left %v", e.sim.Faults())
	}
}

func TestDropAfterCommit(t *testing.T) {
	e := strictDemo(t)
	tok := e.login(pbxsim.DemoTrustedAppID)
	e.sim.AddFault(pbxsim.Fault{Method: http.MethodPost, Path: "/api/ver1.0/client/{realm_id}/extension/", DropAfterCommit: true, Times: 1})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+pbxsim.APIPrefix+"/client/@me/extension/", bytes.NewReader([]byte(`{"name":"101"}`)))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := e.srv.Client().Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("want the connection cut without an answer, got %d", res.StatusCode)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("want the connection closed (EOF), got %v", err)
	}
	if snap := e.sim.Snapshot(); len(snap.Extensions) != 1 || snap.Extensions[0]["name"] != "0003*101" {
		t.Errorf("the write is applied although its answer is lost: %v", snap.Extensions)
	}
	if n := e.sim.RequestTotal(http.MethodPost, "/api/ver1.0/client/{realm_id}/extension/"); n != 1 {
		t.Errorf("the dropped request is counted: got %d", n)
	}
}

func TestStatusAfterCommit(t *testing.T) {
	e := strictDemo(t)
	tok := e.login(pbxsim.DemoTrustedAppID)
	e.sim.AddFault(pbxsim.Fault{Method: http.MethodPost, Path: "/api/ver1.0/client/{realm_id}/extension/", StatusAfterCommit: 500, Times: 1})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+pbxsim.APIPrefix+"/client/@me/extension/", bytes.NewReader([]byte(`{"name":"101"}`)))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError {
		t.Errorf("want the injected 500, got %d", res.StatusCode)
	}
	if snap := e.sim.Snapshot(); len(snap.Extensions) != 1 || snap.Extensions[0]["name"] != "0003*101" {
		t.Errorf("the write is applied although the answer says it failed: %v", snap.Extensions)
	}
	if n := e.sim.FaultsFired()[pbxsim.FiredStatusAfterCommit(500)]; n != 1 {
		t.Errorf("the fault is counted as fired: %d", n)
	}
}

func TestRequestCounters(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated).obj(t)
	must(t, c.do(http.MethodGet, "/client/1/extension/"+num(x["id"]), nil), http.StatusOK)
	must(t, c.do(http.MethodGet, "/client/@me/extension/999", nil), http.StatusNotFound)
	got := e.sim.Requests()
	want := map[pbxsim.RequestKey]int{
		{Method: http.MethodPost, Path: pbxsim.TokenPath, Status: 200}:                              1,
		{Method: http.MethodPost, Path: "/api/ver1.0/client/{realm_id}/extension/", Status: 201}:    1,
		{Method: http.MethodGet, Path: "/api/ver1.0/client/{realm_id}/extension/{id}", Status: 200}: 1,
		{Method: http.MethodGet, Path: "/api/ver1.0/client/{realm_id}/extension/{id}", Status: 404}: 1,
	}
	if len(got) != len(want) {
		t.Fatalf("want %d counters, got %v", len(want), got)
	}
	for _, rc := range got {
		if want[rc.RequestKey] != rc.Count {
			t.Errorf("counter %v: want %d, got %d", rc.RequestKey, want[rc.RequestKey], rc.Count)
		}
	}
	if n := e.sim.RequestTotal(http.MethodGet, ""); n != 2 {
		t.Errorf("RequestTotal(GET): want 2, got %d", n)
	}
	e.sim.ResetRequests()
	if n := e.sim.RequestTotal("", ""); n != 0 {
		t.Errorf("after ResetRequests: want 0, got %d", n)
	}
}

func TestRequestsByAgent(t *testing.T) {
	e := strictDemo(t)
	token := e.login(pbxsim.DemoTrustedAppID)
	for _, agent := range []string{"pbx-operator/v1 shard/a", "pbx-operator/v1 shard/a", "pbx-operator/v1"} {
		must(t, e.raw(http.MethodGet, "/api/ver1.0/user/", token, nil, http.Header{"User-Agent": {agent}}), http.StatusOK)
	}
	// Not authenticated: not counted by agent.
	must(t, e.raw(http.MethodGet, "/api/ver1.0/user/", "", nil, http.Header{"User-Agent": {"stranger"}}), http.StatusUnauthorized)
	want := []pbxsim.AgentCount{
		{AgentKey: pbxsim.AgentKey{Agent: "pbx-operator/v1", Client: pbxsim.DemoClientID}, Count: 1},
		{AgentKey: pbxsim.AgentKey{Agent: "pbx-operator/v1 shard/a", Client: pbxsim.DemoClientID}, Count: 2},
	}
	if diff := cmp.Diff(want, e.sim.RequestsByAgent()); diff != "" {
		t.Errorf("requests by agent (-want +got):\n%s", diff)
	}
	e.sim.ResetRequests()
	if got := e.sim.RequestsByAgent(); len(got) != 0 {
		t.Errorf("after ResetRequests: want none, got %v", got)
	}
}

func TestStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "world.json")
	e := newEnv(t, pbxsim.DemoConfig(), pbxsim.WithStrictSlashes(), pbxsim.WithStateFile(path))
	c := e.as(pbxsim.DemoTrustedAppID)
	g := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales"}), http.StatusCreated).obj(t)
	must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "extension_group_id": g["id"], "label": "Alice"}), http.StatusCreated)

	// A new server on the same file sees the same world, and ids continue where they stopped.
	e2 := newEnv(t, pbxsim.Config{}, pbxsim.WithStrictSlashes(), pbxsim.WithStateFile(path))
	c2 := e2.as(pbxsim.DemoTrustedAppID)
	got := must(t, c2.do(http.MethodGet, "/client/@me/extension/", nil), http.StatusOK).list(t)
	if len(got) != 1 || got[0]["label"] != "Alice" || got[0]["extension_group_id"] != g["id"] {
		t.Fatalf("after a restart: got %v", got)
	}
	x := must(t, c2.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102"}), http.StatusCreated).obj(t)
	if x["id"] == got[0]["id"] {
		t.Errorf("ids continue after a restart: both are %v", x["id"])
	}
	if _, err := pbxsim.New(pbxsim.DemoConfig(), pbxsim.WithStateFile(filepath.Join(t.TempDir(), "missing", "w.json"))); err == nil {
		t.Errorf("an unwritable state file is an error at start-up")
	}
}

func TestAdminHTTP(t *testing.T) {
	e := strictDemo(t, pbxsim.WithAdmin())
	c := e.as(pbxsim.DemoTrustedAppID)
	admin := func(method, path string, body any) reply {
		t.Helper()
		return e.raw(method, pbxsim.AdminPrefix+path, "", body, nil)
	}
	f := must(t, admin(http.MethodPost, "/faults", pbxsim.Fault{Method: "GET", Path: "/api/ver1.0/client/{realm_id}/did/", Status: 502, Latency: pbxsim.Latency{Fixed: time.Millisecond}}), http.StatusCreated).obj(t)
	if f["id"] == "" || f["latency"].(map[string]any)["fixed"] != "1ms" {
		t.Errorf("POST /faults: got %v", f)
	}
	must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusBadGateway)
	if l := must(t, admin(http.MethodGet, "/faults", nil), http.StatusOK).list(t); len(l) != 1 {
		t.Errorf("GET /faults: got %v", l)
	}
	must(t, admin(http.MethodDelete, "/faults/"+f["id"].(string), nil), http.StatusNoContent)
	must(t, admin(http.MethodDelete, "/faults/"+f["id"].(string), nil), http.StatusNotFound)
	must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusOK)

	var snap pbxsim.Snapshot
	must(t, admin(http.MethodGet, "/snapshot", nil), http.StatusOK).json(t, &snap)
	if len(snap.DIDs) != 5 || len(snap.Clients) != 1 {
		t.Errorf("GET /snapshot: got %+v", snap)
	}
	for _, u := range snap.Users {
		if _, shown := u["password"]; shown {
			t.Errorf("the snapshot leaks a password: %v", u)
		}
	}
	var counts []pbxsim.RequestCount
	must(t, admin(http.MethodGet, "/requests", nil), http.StatusOK).json(t, &counts)
	if len(counts) == 0 {
		t.Errorf("GET /requests: empty")
	}
	must(t, admin(http.MethodDelete, "/requests", nil), http.StatusNoContent)
	if e.sim.RequestTotal("", "") != 0 {
		t.Errorf("DELETE /requests did not reset the counters")
	}

	must(t, admin(http.MethodPut, "/clients/1/rate-limit", map[string]int{"per_hour": 1}), http.StatusOK)
	must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusTooManyRequests)
	must(t, admin(http.MethodPost, "/rate-limits/reset", nil), http.StatusNoContent)
	must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusOK)

	must(t, admin(http.MethodPost, "/tokens/invalidate", nil), http.StatusNoContent)
	must(t, c.do(http.MethodGet, "/user/", nil), http.StatusUnauthorized)

	must(t, admin(http.MethodPut, "/latency", map[string]string{"fixed": "2ms", "jitter": "1ms"}), http.StatusOK)
	must(t, admin(http.MethodPut, "/latency", map[string]string{"fixed": "soon"}), http.StatusBadRequest)
	must(t, admin(http.MethodGet, "/nothing", nil), http.StatusNotFound)

	// Without WithAdmin the prefix is not served.
	plain := strictDemo(t)
	must(t, plain.raw(http.MethodGet, pbxsim.AdminPrefix+"/snapshot", "", nil, nil), http.StatusNotFound)
}

func TestGzip(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	for _, n := range []string{"101", "102", "103"} {
		must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": n}), http.StatusCreated)
	}
	gz := http.Header{"Accept-Encoding": {"gzip"}}
	r := e.raw(http.MethodGet, pbxsim.APIPrefix+"/client/@me/extension/", c.token, nil, gz)
	if r.status != http.StatusOK || r.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("want a gzip answer, got %d %v", r.status, r.header)
	}
	var exts []map[string]any
	if err := json.Unmarshal(r.body, &exts); err != nil || len(exts) != 3 {
		t.Errorf("gzip body: %v, %d extensions", err, len(exts))
	}
	if r := e.raw(http.MethodGet, pbxsim.APIPrefix+"/user/", c.token, nil, gz); r.header.Get("Content-Encoding") != "" {
		t.Errorf("small answers go uncompressed, got %v", r.header)
	}
}

func TestRegisterSIP(t *testing.T) {
	e := newEnv(t, pbxsim.DemoConfig(), pbxsim.WithAdmin())
	c := e.as(pbxsim.DemoTrustedAppID)
	x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "150", "type": "phone", "status": "active"}), http.StatusCreated).obj(t)
	must(t, c.do(http.MethodPut, "/extension/"+strconv.FormatInt(int64(x["id"].(float64)), 10)+"/phone/", map[string]any{"password": "s3cret-sip"}), http.StatusOK)
	cases := map[string]struct {
		reason   string
		username string
		password string
		want     int
	}{
		"Works":         {reason: "The password set through the API registers.", username: "0003*150", password: "s3cret-sip", want: http.StatusNoContent},
		"WrongPassword": {reason: "Another password does not.", username: "0003*150", password: "guess", want: http.StatusUnauthorized},
		"UnknownUser":   {reason: "Nor does an unknown extension.", username: "0003*999", password: "s3cret-sip", want: http.StatusUnauthorized},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			body := map[string]any{"client_id": pbxsim.DemoClientID, "username": tc.username, "password": tc.password}
			if r := e.raw(http.MethodPost, pbxsim.AdminPrefix+"/sip/register", "", body, nil); r.status != tc.want {
				t.Errorf("%s\nwant %d, got %d %s", tc.reason, tc.want, r.status, r.body)
			}
		})
	}
}
