package pbxsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// call is one API request of a table case; {x} in its path is the id of the extension the case
// starts with.
type call struct {
	method string
	path   string
	body   any
	// timeout, when set, makes the client give up after it.
	timeout time.Duration
}

// try sends an API request and reports its status and headers, or 0 when no answer came (cut off
// or given up).
func (e *env) try(token string, c call, x string) (int, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if c.body != nil {
		data, err := json.Marshal(c.body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	ctx := context.Background()
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	path := pbxsim.APIPrefix + strings.ReplaceAll(c.path, "{x}", x)
	req, err := http.NewRequestWithContext(ctx, c.method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body) //nolint:errcheck // only the status matters
	return res.StatusCode, res.Header
}

func TestFaultsFired(t *testing.T) {
	const (
		groups = "/api/ver1.0/client/{realm_id}/extension_group/"
		exts   = "/api/ver1.0/client/{realm_id}/extension/"
		ext    = "/api/ver1.0/client/{realm_id}/extension/{id}"
	)
	type args struct {
		fault pbxsim.Fault
		calls []call
	}
	type want struct {
		statuses   []int             // what the client got, 0 for no answer
		header     map[string]string // headers of the first answer
		fired      map[string]int
		requests   map[pbxsim.RequestKey]int
		extensions int // in the world afterwards; the case starts with one
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"InjectedStatus": {
			reason: "An injected 5xx is counted under its status, as fired and as answered.",
			args: args{
				fault: pbxsim.Fault{Method: http.MethodGet, Path: groups, Status: http.StatusServiceUnavailable},
				calls: []call{{method: http.MethodGet, path: "/client/@me/extension_group/"}, {method: http.MethodGet, path: "/client/@me/extension_group/"}},
			},
			want: want{
				statuses:   []int{503, 503},
				fired:      map[string]int{"status:503": 2},
				requests:   map[pbxsim.RequestKey]int{{Method: http.MethodGet, Path: groups, Status: 503}: 2},
				extensions: 1,
			},
		},
		"InjectedRateLimit": {
			reason: "An injected 429 is a fired fault of its own kind.",
			args: args{
				fault: pbxsim.Fault{Status: http.StatusTooManyRequests, Reset: 2 * time.Second, Times: 1},
				calls: []call{{method: http.MethodGet, path: "/client/@me/extension_group/"}, {method: http.MethodGet, path: "/client/@me/extension_group/"}},
			},
			want: want{
				statuses: []int{429, 200},
				// The client's own budget, as in its other answers, and the fault's reset.
				header: map[string]string{"X-RateLimit-Limit": "50000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"},
				fired:  map[string]int{"status:429": 1},
				requests: map[pbxsim.RequestKey]int{
					{Method: http.MethodGet, Path: groups, Status: 429}: 1,
					{Method: http.MethodGet, Path: groups, Status: 200}: 1,
				},
				extensions: 1,
			},
		},
		"Latency": {
			reason: "A latency fault counts as latency; the request is served as usual.",
			args: args{
				fault: pbxsim.Fault{Method: http.MethodGet, Latency: pbxsim.Latency{Fixed: time.Millisecond}},
				calls: []call{{method: http.MethodGet, path: "/client/@me/extension/{x}"}},
			},
			want: want{
				statuses:   []int{200},
				fired:      map[string]int{"latency": 1},
				requests:   map[pbxsim.RequestKey]int{{Method: http.MethodGet, Path: ext, Status: 200}: 1},
				extensions: 1,
			},
		},
		"LatencyThenStatus": {
			reason: "A fault with latency and a status counts once under each kind.",
			args: args{
				fault: pbxsim.Fault{Latency: pbxsim.Latency{Fixed: time.Millisecond}, Status: http.StatusBadGateway},
				calls: []call{{method: http.MethodDelete, path: "/client/@me/extension/{x}"}},
			},
			want: want{
				statuses:   []int{502},
				fired:      map[string]int{"latency": 1, "status:502": 1},
				requests:   map[pbxsim.RequestKey]int{{Method: http.MethodDelete, Path: ext, Status: 502}: 1},
				extensions: 1,
			},
		},
		"ClientGaveUp": {
			reason: "A client that times out during injected latency is counted under 499 and nothing is served.",
			args: args{
				fault: pbxsim.Fault{Method: http.MethodDelete, Latency: pbxsim.Latency{Fixed: 5 * time.Second}},
				calls: []call{{method: http.MethodDelete, path: "/client/@me/extension/{x}", timeout: 50 * time.Millisecond}},
			},
			want: want{
				statuses:   []int{0},
				fired:      map[string]int{"latency": 1},
				requests:   map[pbxsim.RequestKey]int{{Method: http.MethodDelete, Path: "other", Status: pbxsim.StatusClientGone}: 1},
				extensions: 1,
			},
		},
		"SlowCreateCommits": {
			reason: "A create whose client gave up during injected latency is still made, as by a slow server.",
			args: args{
				fault: pbxsim.Fault{Method: http.MethodPost, Latency: pbxsim.Latency{Fixed: 300 * time.Millisecond}},
				calls: []call{{method: http.MethodPost, path: "/client/@me/extension/", body: map[string]any{"name": "102"}, timeout: 50 * time.Millisecond}},
			},
			want: want{
				statuses:   []int{0},
				fired:      map[string]int{"latency": 1},
				requests:   map[pbxsim.RequestKey]int{{Method: http.MethodPost, Path: exts, Status: 201}: 1},
				extensions: 2,
			},
		},
		"DropAfterCommitPost": {
			reason: "A dropped create is made, counted as drop_after_commit, and filed under status 0 instead of 201.",
			args: args{
				fault: pbxsim.Fault{Method: http.MethodPost, Path: exts, DropAfterCommit: true},
				calls: []call{{method: http.MethodPost, path: "/client/@me/extension/", body: map[string]any{"name": "102"}}},
			},
			want: want{
				statuses:   []int{0},
				fired:      map[string]int{"drop_after_commit": 1},
				requests:   map[pbxsim.RequestKey]int{{Method: http.MethodPost, Path: exts, Status: pbxsim.StatusDropped}: 1},
				extensions: 2,
			},
		},
		"DropAfterCommitPut": {
			reason: "A dropped update is filed under status 0 instead of 200.",
			args: args{
				fault: pbxsim.Fault{Method: http.MethodPut, DropAfterCommit: true, Times: 1},
				calls: []call{
					{method: http.MethodPut, path: "/client/@me/extension/{x}", body: map[string]any{"label": "B"}},
					{method: http.MethodPut, path: "/client/@me/extension/{x}", body: map[string]any{"label": "C"}},
				},
			},
			want: want{
				statuses: []int{0, 200},
				fired:    map[string]int{"drop_after_commit": 1},
				requests: map[pbxsim.RequestKey]int{
					{Method: http.MethodPut, Path: ext, Status: pbxsim.StatusDropped}: 1,
					{Method: http.MethodPut, Path: ext, Status: 200}:                  1,
				},
				extensions: 1,
			},
		},
		"DropAfterCommitDelete": {
			reason: "A dropped delete is made and filed under status 0 instead of 204.",
			args: args{
				fault: pbxsim.Fault{Method: http.MethodDelete, DropAfterCommit: true},
				calls: []call{{method: http.MethodDelete, path: "/client/@me/extension/{x}"}},
			},
			want: want{
				statuses:   []int{0},
				fired:      map[string]int{"drop_after_commit": 1},
				requests:   map[pbxsim.RequestKey]int{{Method: http.MethodDelete, Path: ext, Status: pbxsim.StatusDropped}: 1},
				extensions: 0,
			},
		},
		"NoMatch": {
			reason: "A fault that matches nothing fires nothing.",
			args: args{
				fault: pbxsim.Fault{Method: http.MethodDelete, Status: http.StatusInternalServerError},
				calls: []call{{method: http.MethodGet, path: "/client/@me/extension/{x}"}},
			},
			want: want{
				statuses:   []int{200},
				fired:      map[string]int{},
				requests:   map[pbxsim.RequestKey]int{{Method: http.MethodGet, Path: ext, Status: 200}: 1},
				extensions: 1,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := pbxsim.DemoConfig()
			cfg.Clients[0].RateLimitPerHour = 50_000
			e := newEnv(t, cfg, pbxsim.WithStrictSlashes(), pbxsim.WithAdmin())
			c := e.as(pbxsim.DemoTrustedAppID)
			x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "label": "A"}), http.StatusCreated).obj(t)
			e.sim.ResetRequests()
			e.sim.AddFault(tc.args.fault)

			var got []int
			var first http.Header
			for i, cl := range tc.args.calls {
				status, h := e.try(c.token, cl, num(x["id"]))
				got = append(got, status)
				if i == 0 {
					first = h
				}
			}
			if !equalInts(got, tc.want.statuses) {
				t.Errorf("%s\nstatuses: want %v, got %v", tc.reason, tc.want.statuses, got)
			}
			for k, v := range tc.want.header {
				if first.Get(k) != v {
					t.Errorf("%s\n%s: want %q, got %q", tc.reason, k, v, first.Get(k))
				}
			}
			if f := e.sim.FaultsFired(); !maps.Equal(f, tc.want.fired) {
				t.Errorf("%s\nFaultsFired: want %v, got %v", tc.reason, tc.want.fired, f)
			}
			var viaHTTP map[string]int
			must(t, e.raw(http.MethodGet, pbxsim.AdminPrefix+"/faults/fired", "", nil, nil), http.StatusOK).json(t, &viaHTTP)
			if !maps.Equal(viaHTTP, tc.want.fired) {
				t.Errorf("%s\nGET /faults/fired: want %v, got %v", tc.reason, tc.want.fired, viaHTTP)
			}
			// The server counts a request when its handler ends, which for a client that gave up
			// is when the server notices: poll a little.
			requests := map[pbxsim.RequestKey]int{}
			for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				clear(requests)
				for _, rc := range e.sim.Requests() {
					requests[rc.RequestKey] = rc.Count
				}
				if maps.Equal(requests, tc.want.requests) || time.Now().After(deadline) {
					break
				}
			}
			if !maps.Equal(requests, tc.want.requests) {
				t.Errorf("%s\nrequest counters: want %v, got %v", tc.reason, tc.want.requests, requests)
			}
			if n := len(e.sim.Snapshot().Extensions); n != tc.want.extensions {
				t.Errorf("%s\nextensions in the world: want %d, got %d", tc.reason, tc.want.extensions, n)
			}

			// The counts outlive the faults and reset on their own.
			e.sim.ClearFaults()
			if f := e.sim.FaultsFired(); !maps.Equal(f, tc.want.fired) {
				t.Errorf("ClearFaults changed the fired counts: %v", f)
			}
			must(t, e.raw(http.MethodDelete, pbxsim.AdminPrefix+"/faults/fired", "", nil, nil), http.StatusNoContent)
			if f := e.sim.FaultsFired(); len(f) != 0 {
				t.Errorf("DELETE /faults/fired left %v", f)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReset(t *testing.T) {
	withGroup := pbxsim.DemoConfig()
	withGroup.Clients[0].Groups = []pbxsim.GroupConfig{{ID: 7, Name: "Ops"}}
	type args struct {
		cfg       pbxsim.Config
		stateFile bool
	}
	type want struct {
		groups     []string // names after the reset
		dids       int
		newGroupID int64 // of the first group made after the reset
		newExtID   int64 // of the first extension made after the reset
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"DemoTenant": {
			reason: "The world starts over: no groups or extensions, the configured DIDs, ids from the start.",
			args:   args{cfg: pbxsim.DemoConfig()},
			want:   want{dids: 5, newGroupID: 85201, newExtID: 303001},
		},
		"ConfiguredGroupsStay": {
			reason: "Groups of the configuration are part of the start and come back.",
			args:   args{cfg: withGroup},
			want:   want{groups: []string{"Ops"}, dids: 5, newGroupID: 85201, newExtID: 303001},
		},
		"StateFile": {
			reason: "The state file holds the reset world.",
			args:   args{cfg: pbxsim.DemoConfig(), stateFile: true},
			want:   want{dids: 5, newGroupID: 85201, newExtID: 303001},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts := []pbxsim.Option{pbxsim.WithStrictSlashes(), pbxsim.WithAdmin()}
			var path string
			if tc.args.stateFile {
				path = filepath.Join(t.TempDir(), "world.json")
				opts = append(opts, pbxsim.WithStateFile(path))
			}
			e := newEnv(t, tc.args.cfg, opts...)
			c := e.as(pbxsim.DemoTrustedAppID)
			before := map[string]any{}
			for _, n := range []string{"101", "102"} {
				before[n] = must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": n}), http.StatusCreated).obj(t)["id"]
			}
			must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales"}), http.StatusCreated)
			e.sim.AddFault(pbxsim.Fault{Method: http.MethodDelete, Status: http.StatusBadGateway})
			served := e.sim.RequestTotal("", "")

			must(t, e.raw(http.MethodPost, pbxsim.AdminPrefix+"/reset", "", nil, nil), http.StatusNoContent)

			s := e.sim.Snapshot()
			var groups []string
			for _, g := range s.ExtensionGroups {
				groups = append(groups, g["name"].(string))
			}
			if strings.Join(groups, ",") != strings.Join(tc.want.groups, ",") || len(s.Extensions) != 0 || len(s.DIDs) != tc.want.dids || len(s.Clients) != 1 {
				t.Errorf("%s\nafter the reset: groups %v, %d extensions, %d DIDs, %d clients", tc.reason, groups, len(s.Extensions), len(s.DIDs), len(s.Clients))
			}
			if r := c.do(http.MethodGet, "/user/", nil); r.status != http.StatusUnauthorized {
				t.Errorf("%s\na token from before the reset: want 401, got %d", tc.reason, r.status)
			}
			if len(e.sim.Faults()) != 1 || e.sim.RequestTotal("", "") != served+1 {
				t.Errorf("%s\nfaults and counters are controls and stay: %v, %d requests", tc.reason, e.sim.Faults(), e.sim.RequestTotal("", ""))
			}

			c = e.as(pbxsim.DemoTrustedAppID)
			x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102"}), http.StatusCreated).obj(t)
			if num(x["id"]) != strconv.FormatInt(tc.want.newExtID, 10) || x["id"] != before["101"] {
				t.Errorf("%s\nids start over: want %d (the id 101 had), got %v", tc.reason, tc.want.newExtID, x["id"])
			}
			g := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales"}), http.StatusCreated).obj(t)
			if num(g["id"]) != strconv.FormatInt(tc.want.newGroupID, 10) {
				t.Errorf("%s\nnew group id: want %d, got %v", tc.reason, tc.want.newGroupID, g["id"])
			}

			if path != "" {
				// A server started on the file sees the world made after the reset.
				e2 := newEnv(t, pbxsim.Config{}, pbxsim.WithStrictSlashes(), pbxsim.WithStateFile(path))
				got := must(t, e2.as(pbxsim.DemoTrustedAppID).do(http.MethodGet, "/client/@me/extension/", nil), http.StatusOK).list(t)
				if len(got) != 1 || got[0]["name"] != "0003*102" {
					t.Errorf("%s\nthe state file after the reset: %v", tc.reason, got)
				}
			}
		})
	}
}
