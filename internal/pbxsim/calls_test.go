package pbxsim_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// hook is a subscriber's endpoint: it records every event it is sent and answers with status.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []received
}

// received is one event as a subscriber saw it.
type received struct {
	method, contentType string
	data                map[string]string
}

// eventKeys are the documented keys of an event (UPSTREAM-API 3.5).
var eventKeys = []string{"EventType", "CallID", "CallerIDNum", "CallerIDName", "CalledDID", "CalledExtension",
	"CalledNumber", "CallerExtension", "SubCallID", "Bridged"}

func newHook(t *testing.T, status int) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := received{method: r.Method, contentType: r.Header.Get("Content-Type"), data: map[string]string{}}
		if err := r.ParseForm(); err != nil {
			t.Errorf("the hook got a body that is not a form: %v", err)
		}
		for _, k := range eventKeys {
			if r.Method == http.MethodGet {
				got.data[k] = r.Header.Get(k)
			} else {
				got.data[k] = r.PostForm.Get(k)
			}
		}
		h.mu.Lock()
		h.events = append(h.events, got)
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) received() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.events...)
}

// callFixture is the demo tenant with admin controls and a short delivery timeout, phone extension
// 101 with the first DID routed to it, and phone extension 102.
type callFixture struct {
	e         *env
	c         caller
	ext, ext2 map[string]any
	did       string
}

func newCallFixture(t *testing.T) callFixture {
	e := strictDemo(t, pbxsim.WithAdmin(), pbxsim.WithEventTimeout(300*time.Millisecond))
	c := e.as(pbxsim.DemoTrustedAppID)
	x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "status": "active"}), http.StatusCreated).obj(t)
	y := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102", "status": "active"}), http.StatusCreated).obj(t)
	did := must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusOK).list(t)[0]
	must(t, c.do(http.MethodPut, "/client/@me/did/"+num(did["id"]), map[string]any{"extension_id": x["id"]}), http.StatusOK)
	return callFixture{e: e, c: c, ext: x, ext2: y, did: did["name"].(string)}
}

func (f callFixture) subscribe(t *testing.T, ext map[string]any, eventType, method, url string) float64 {
	t.Helper()
	return must(t, f.c.do(http.MethodPost, "/extension/"+num(ext["id"])+"/event/",
		map[string]any{"url": url, "event_type": eventType, "method": method}), http.StatusCreated).obj(t)["id"].(float64)
}

func (f callFixture) call(t *testing.T, c pbxsim.Call) reply {
	t.Helper()
	return f.e.raw(http.MethodPost, pbxsim.AdminPrefix+"/calls", "", c, nil)
}

func TestSimulateCallDelivers(t *testing.T) {
	f := newCallFixture(t)
	a, b := newHook(t, http.StatusOK), newHook(t, http.StatusNoContent)
	dialIn := f.subscribe(t, f.ext, "dial-in", http.MethodPost, a.srv.URL+"/calls")
	answer := f.subscribe(t, f.ext, "answer", http.MethodGet, b.srv.URL+"/calls")
	hangup := f.subscribe(t, f.ext, "hangup", http.MethodPost, a.srv.URL+"/calls")
	f.subscribe(t, f.ext, "dial-out", http.MethodPost, a.srv.URL+"/calls")  // not an event of this call
	f.subscribe(t, f.ext2, "dial-in", http.MethodPost, a.srv.URL+"/others") // another extension

	r := must(t, f.call(t, pbxsim.Call{Extension: "101", CallerIDNum: "79161234567", CallerIDName: "Ivan"}), http.StatusOK)
	var res pbxsim.CallResult
	r.json(t, &res)
	if len(res.CallID) != 32 || res.ExtensionID != int64(f.ext["id"].(float64)) || res.Extension != "0003*101" {
		t.Errorf("the call: got %+v", res)
	}
	type sent struct {
		EventID   float64
		EventType string
		Method    string
		URL       string
		Status    int
		Bridged   string
	}
	var got []sent
	for _, d := range res.Deliveries {
		got = append(got, sent{float64(d.EventID), d.EventType, d.Method, d.URL, d.Status, d.Data["Bridged"]})
		if d.Error != "" {
			t.Errorf("delivery %d: %s", d.EventID, d.Error)
		}
	}
	want := []sent{
		{dialIn, "dial-in", http.MethodPost, a.srv.URL + "/calls", http.StatusOK, "no"},
		{answer, "answer", http.MethodGet, b.srv.URL + "/calls", http.StatusNoContent, "yes"},
		{hangup, "hangup", http.MethodPost, a.srv.URL + "/calls", http.StatusOK, "yes"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deliveries: dial-in, answer, hangup to the subscriptions of those types (-want +got):\n%s", diff)
	}

	common := map[string]string{
		"CallID": res.CallID, "CallerIDNum": "79161234567", "CallerIDName": "Ivan", "CalledDID": f.did,
		"CalledExtension": "0003*101@demo.sip.pbxsim.local", "CalledNumber": f.did, "CallerExtension": "",
	}
	event := func(typ, bridged string) map[string]string {
		m := map[string]string{"EventType": typ, "Bridged": bridged}
		for k, v := range common {
			m[k] = v
		}
		return m
	}
	for _, got := range [][]received{a.received(), b.received()} {
		for _, ev := range got {
			if ev.data["SubCallID"] == "" {
				t.Errorf("every event has a SubCallID: %v", ev.data)
			}
			delete(ev.data, "SubCallID")
		}
	}
	wantA := []received{
		{method: http.MethodPost, contentType: "application/x-www-form-urlencoded", data: event("dial-in", "no")},
		{method: http.MethodPost, contentType: "application/x-www-form-urlencoded", data: event("hangup", "yes")},
	}
	if diff := cmp.Diff(wantA, a.received(), cmp.AllowUnexported(received{})); diff != "" {
		t.Errorf("POST subscriptions get the event as a form body (-want +got):\n%s", diff)
	}
	wantB := []received{{method: http.MethodGet, data: event("answer", "yes")}}
	if diff := cmp.Diff(wantB, b.received(), cmp.AllowUnexported(received{})); diff != "" {
		t.Errorf("GET subscriptions get the event in request headers (-want +got):\n%s", diff)
	}
}

func TestSimulateCallFailures(t *testing.T) {
	f := newCallFixture(t)
	failing := newHook(t, http.StatusInternalServerError)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// With the body read, the server notices the client hanging up and ends the context.
		io.Copy(io.Discard, r.Body) //nolint:errcheck // only the wait matters
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	ok := newHook(t, http.StatusOK)
	f.subscribe(t, f.ext, "hangup", http.MethodGet, failing.srv.URL)
	f.subscribe(t, f.ext, "hangup", http.MethodPost, closed.URL)
	f.subscribe(t, f.ext, "hangup", http.MethodPost, slow.URL)
	f.subscribe(t, f.ext, "hangup", http.MethodPost, ok.srv.URL)

	start := time.Now()
	var res pbxsim.CallResult
	must(t, f.call(t, pbxsim.Call{ExtensionID: int64(f.ext["id"].(float64))}), http.StatusOK).json(t, &res)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a slow subscriber is cut off by the delivery timeout; the call took %v", took)
	}
	if len(res.Deliveries) != 4 {
		t.Fatalf("want 4 hangup deliveries, got %+v", res.Deliveries)
	}
	if d := res.Deliveries[0]; d.Status != http.StatusInternalServerError || d.Error != "" {
		t.Errorf("an error status is reported as the subscriber's answer: %+v", d)
	}
	if d := res.Deliveries[1]; d.Status != 0 || d.Error == "" {
		t.Errorf("a refused connection is reported as an error: %+v", d)
	}
	if d := res.Deliveries[2]; d.Status != 0 || !strings.Contains(d.Error, "deadline exceeded") {
		t.Errorf("a subscriber slower than the timeout is reported as an error: %+v", d)
	}
	if d := res.Deliveries[3]; d.Status != http.StatusOK || len(ok.received()) != 1 {
		t.Errorf("failing subscribers do not stop the others: %+v, %d received", d, len(ok.received()))
	}
	if got := ok.received()[0].data["CallerIDNum"]; got != pbxsim.DefaultCallerIDNum {
		t.Errorf("a call without caller_id_num comes from DefaultCallerIDNum, got %q", got)
	}
}

func TestSimulateCallRequests(t *testing.T) {
	f := newCallFixture(t)
	h := newHook(t, http.StatusOK)
	for _, typ := range []string{"dial-in", "answer", "hangup"} {
		f.subscribe(t, f.ext, typ, http.MethodPost, h.srv.URL)
	}
	type want struct {
		status  int
		message string   // of an error answer
		events  []string // the types delivered, in order
		data    map[string]string
	}
	cases := map[string]struct {
		reason string
		call   pbxsim.Call
		want   want
	}{
		"ByID": {
			reason: "extension_id names the extension.",
			call:   pbxsim.Call{ExtensionID: int64(f.ext["id"].(float64))},
			want:   want{status: http.StatusOK, events: []string{"dial-in", "answer", "hangup"}},
		},
		"ByFullName": {
			reason: "extension takes the full name, and client_id the client.",
			call:   pbxsim.Call{Extension: "0003*101", ClientID: pbxsim.DemoClientID},
			want:   want{status: http.StatusOK, events: []string{"dial-in", "answer", "hangup"}},
		},
		"Unanswered": {
			reason: "event_types choose the events: a call that is not answered hangs up unbridged.",
			call:   pbxsim.Call{Extension: "101", EventTypes: []string{"dial-in", "hangup"}},
			want:   want{status: http.StatusOK, events: []string{"dial-in", "hangup"}, data: map[string]string{"Bridged": "no"}},
		},
		"NamedDID": {
			reason: "did names the DID the call came in on.",
			call:   pbxsim.Call{Extension: "101", DID: "74950000003", EventTypes: []string{"dial-in"}},
			want:   want{status: http.StatusOK, events: []string{"dial-in"}, data: map[string]string{"CalledDID": "74950000003", "CalledNumber": "74950000003"}},
		},
		"Internal": {
			reason: "caller_extension makes an internal call: no DID, the caller as prefix*name@domain.",
			call:   pbxsim.Call{Extension: "101", CallerExtension: "102", EventTypes: []string{"dial-in"}},
			want: want{status: http.StatusOK, events: []string{"dial-in"}, data: map[string]string{
				"CalledDID": "", "CalledNumber": "101", "CallerIDNum": "0003*102", "CallerExtension": "0003*102@demo.sip.pbxsim.local"}},
		},
		"UnknownExtension": {
			reason: "A call to an extension that does not exist is a 404.",
			call:   pbxsim.Call{Extension: "199"},
			want:   want{status: http.StatusNotFound, message: "Record not found: the extension does not exist"},
		},
		"UnknownClient": {
			reason: "client_id must name a client.",
			call:   pbxsim.Call{ExtensionID: int64(f.ext["id"].(float64)), ClientID: 7},
			want:   want{status: http.StatusBadRequest, message: "client_id: client 7 does not exist"},
		},
		"NoExtension": {
			reason: "The call names its extension.",
			call:   pbxsim.Call{},
			want:   want{status: http.StatusBadRequest, message: "extension_id: is required (or extension)"},
		},
		"Both": {
			reason: "By id or by name, not both.",
			call:   pbxsim.Call{ExtensionID: 1, Extension: "101"},
			want:   want{status: http.StatusBadRequest, message: "extension: give extension_id or extension, not both"},
		},
		"UnknownEventType": {
			reason: "Event types are the documented ones.",
			call:   pbxsim.Call{Extension: "101", EventTypes: []string{"ringing"}},
			want: want{status: http.StatusBadRequest,
				message: `event_types: "ringing" is not one of dial-in, dial-out, answer, hangup, message-in, message-out, voicemail`},
		},
		"UnknownDID": {
			reason: "did must be one of the client's DIDs.",
			call:   pbxsim.Call{Extension: "101", DID: "123"},
			want:   want{status: http.StatusBadRequest, message: "did: 123 is not a DID of client 1"},
		},
		"UnknownCaller": {
			reason: "caller_extension must exist.",
			call:   pbxsim.Call{Extension: "101", CallerExtension: "199"},
			want:   want{status: http.StatusBadRequest, message: "caller_extension: extension 199 does not exist"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.call(t, tc.call)
			if r.status != tc.want.status {
				t.Fatalf("%s\nwant %d, got %d: %s", tc.reason, tc.want.status, r.status, r.body)
			}
			if tc.want.message != "" {
				if got := r.message(t); got != tc.want.message {
					t.Errorf("%s\nwant message %q, got %q", tc.reason, tc.want.message, got)
				}
				return
			}
			var res pbxsim.CallResult
			r.json(t, &res)
			var events []string
			for _, d := range res.Deliveries {
				events = append(events, d.EventType)
				for k, v := range tc.want.data {
					if d.Data[k] != v {
						t.Errorf("%s\n%s: want %s=%q, got %q", tc.reason, d.EventType, k, v, d.Data[k])
					}
				}
			}
			if diff := cmp.Diff(tc.want.events, events); diff != "" {
				t.Errorf("%s\nevents (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
	must(t, f.e.raw(http.MethodPost, pbxsim.AdminPrefix+"/calls", "", `{"extension":`, nil), http.StatusBadRequest)
	if r := strictDemo(t).raw(http.MethodPost, pbxsim.AdminPrefix+"/calls", "", pbxsim.Call{Extension: "101"}, nil); r.status != http.StatusNotFound {
		t.Errorf("without WithAdmin there is no call control: got %d", r.status)
	}
}

func TestEventSubscriptionLimit(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	cfg.Clients[0].Limits.Events = 2
	e := newEnv(t, cfg, pbxsim.WithStrictSlashes())
	c := e.as(pbxsim.DemoTrustedAppID)
	x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated).obj(t)
	y := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102"}), http.StatusCreated).obj(t)
	sub := map[string]any{"url": "https://h.example/", "event_type": "hangup", "method": "POST"}
	first := must(t, c.do(http.MethodPost, "/extension/"+num(x["id"])+"/event/", sub), http.StatusCreated).obj(t)
	must(t, c.do(http.MethodPost, "/extension/"+num(y["id"])+"/event/", sub), http.StatusCreated)

	lim := must(t, c.do(http.MethodGet, "/client/@me/limit/", nil), http.StatusOK).obj(t)
	if lim["event_limit"] != float64(2) || lim["event_count"] != float64(2) {
		t.Errorf("/limit/ reports the client's event subscriptions against the limit: got %v", lim)
	}
	r := c.do(http.MethodPost, "/extension/"+num(x["id"])+"/event/", sub)
	if r.status != http.StatusBadRequest || !strings.Contains(r.message(t), "limit of event subscriptions") {
		t.Errorf("a subscription over the client's limit (all extensions count): want 400 naming the limit, got %d %s", r.status, r.body)
	}
	must(t, c.do(http.MethodPut, "/extension/"+num(x["id"])+"/event/"+num(first["id"]), map[string]any{"event_type": "dial-in"}), http.StatusOK)
	must(t, c.do(http.MethodDelete, "/extension/"+num(x["id"])+"/event/"+num(first["id"]), nil), http.StatusNoContent)
	must(t, c.do(http.MethodPost, "/extension/"+num(x["id"])+"/event/", sub), http.StatusCreated)
}

func TestEventTypesOnIVRAndQueue(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	for _, typ := range []string{"ivr", "queue"} {
		x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": map[string]string{"ivr": "201", "queue": "202"}[typ], "type": typ}), http.StatusCreated).obj(t)
		events := "/extension/" + num(x["id"]) + "/event/"
		for _, ev := range []string{"dial-in", "dial-out", "answer"} {
			r := c.do(http.MethodPost, events, map[string]any{"url": "https://h.example/", "event_type": ev, "method": "GET"})
			if r.status != http.StatusBadRequest || !strings.Contains(r.message(t), "ivr-type") {
				t.Errorf("%s extension, %s: want 400 with ivr-type, got %d %s", typ, ev, r.status, r.body)
			}
		}
		h := must(t, c.do(http.MethodPost, events, map[string]any{"url": "https://h.example/", "event_type": "hangup", "method": "GET"}), http.StatusCreated).obj(t)
		if r := c.do(http.MethodPut, events+num(h["id"]), map[string]any{"event_type": "answer"}); r.status != http.StatusBadRequest || !strings.Contains(r.message(t), "ivr-type") {
			t.Errorf("%s extension: a PUT to answer is refused like a POST, got %d %s", typ, r.status, r.body)
		}
	}
}

func TestSimulateCallClients(t *testing.T) {
	e := newEnv(t, twoTenants(), pbxsim.WithStrictSlashes(), pbxsim.WithAdmin())
	mine := must(t, e.as(pbxsim.DemoTrustedAppID).do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated).obj(t)
	theirs := must(t, e.as("other-app").do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated).obj(t)
	call := func(c pbxsim.Call) reply { return e.raw(http.MethodPost, pbxsim.AdminPrefix+"/calls", "", c, nil) }

	if r := call(pbxsim.Call{Extension: "101"}); r.status != http.StatusBadRequest || r.message(t) != "client_id: is required with extension when there are several clients" {
		t.Errorf("a name is ambiguous across clients: got %d %s", r.status, r.body)
	}
	var res pbxsim.CallResult
	must(t, call(pbxsim.Call{Extension: "101", ClientID: 2}), http.StatusOK).json(t, &res)
	if res.ExtensionID != int64(theirs["id"].(float64)) || res.Extension != "0009*101" {
		t.Errorf("client_id picks the client of the name: got %+v", res)
	}
	must(t, call(pbxsim.Call{ExtensionID: int64(mine["id"].(float64)), ClientID: 2}), http.StatusNotFound)
}
