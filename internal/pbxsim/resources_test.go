package pbxsim_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestGroupCRUD(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)

	g := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales", "extra_params": ""}), http.StatusCreated).obj(t)
	if g["name"] != "Sales" || g["client_id"] != float64(1) || g["id"] == nil {
		t.Fatalf("POST: want the created group, got %v", g)
	}
	path := "/client/@me/extension_group/" + num(g["id"])
	must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales"}), http.StatusCreated) // names are not unique

	got := must(t, c.do(http.MethodPut, path, map[string]any{"extra_params": `{"a":1}`}), http.StatusOK).obj(t)
	if got["name"] != "Sales" || got["extra_params"] != `{"a":1}` {
		t.Errorf("PUT: want only extra_params changed, got %v", got)
	}
	got = must(t, c.do(http.MethodPut, path, map[string]any{"extra_params": nil}), http.StatusOK).obj(t)
	if _, present := got["extra_params"]; !present || got["extra_params"] != nil {
		t.Errorf("PUT null: want extra_params cleared to null, got %v", got)
	}
	if r := c.do(http.MethodPut, path, map[string]any{"name": nil}); r.status != http.StatusBadRequest || !strings.HasPrefix(r.message(t), "name:") {
		t.Errorf("PUT name null: want a 400 naming name, got %d %s", r.status, r.body)
	}
	if r := c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"extra_params": "x"}); r.status != http.StatusBadRequest || r.message(t) != "name: is required" {
		t.Errorf("POST without name: want 400 naming name, got %d %s", r.status, r.body)
	}
	must(t, c.do(http.MethodGet, path, nil), http.StatusOK)
	if r := must(t, c.do(http.MethodDelete, path, nil), http.StatusNoContent); len(r.body) != 0 {
		t.Errorf("DELETE: want an empty body, got %q", r.body)
	}
	if r := c.do(http.MethodGet, path, nil); r.status != http.StatusNotFound || r.message(t) == "" {
		t.Errorf("GET after DELETE: want 404 with a message, got %d %s", r.status, r.body)
	}
	must(t, c.do(http.MethodDelete, path, nil), http.StatusNotFound)
	must(t, c.do(http.MethodPut, path, map[string]any{"name": "x"}), http.StatusNotFound)
}

// num formats a JSON number as an id.
func num(v any) string {
	f, _ := v.(float64)
	return strconv.FormatInt(int64(f), 10)
}

func TestExtensionCreate(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	g := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales"}), http.StatusCreated).obj(t)

	first := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "label": "Alice"}), http.StatusCreated).obj(t)
	for k, want := range map[string]any{
		"name": "0003*101", "type": "phone", "status": "blocked", "label": "Alice", "client_id": float64(1),
		"extension_group_id": nil, "domain": "demo.sip.pbxsim.local", "extra_params": nil, "ani_rfc3325": false,
	} {
		if first[k] != want {
			t.Errorf("POST defaults: want %s=%v, got %v", k, want, first[k])
		}
	}
	if first["create_date"] != "2026-11-26 10:00:00" {
		t.Errorf("create_date: want the documented YYYY-MM-DD HH:MM:SS form, got %v", first["create_date"])
	}
	full := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{
		"name": "0003*102", "type": "queue", "status": "active", "extension_group_id": g["id"], "did_as_transfer_caller_id": 74950000001,
	}), http.StatusCreated).obj(t)
	if full["name"] != "0003*102" || full["type"] != "queue" || full["extension_group_id"] != g["id"] || full["did_as_transfer_caller_id"] != "74950000001" {
		t.Errorf("POST with the prefix, a group and a numeric did_as_transfer_caller_id: got %v", full)
	}

	cases := map[string]struct {
		reason string
		body   any
		want   string // the 400 message, or its start
	}{
		"Duplicate":       {reason: "Names are unique per client.", body: map[string]any{"name": "101"}, want: "name: extension 0003*101 already exists"},
		"DuplicateFull":   {reason: "The full form is the same name.", body: map[string]any{"name": "0003*101"}, want: "name: extension 0003*101 already exists"},
		"WrongLength":     {reason: "Every name of the client has extension_len digits.", body: map[string]any{"name": "1001"}, want: "name: must be 3 digits"},
		"NotDigits":       {reason: "Names are digits.", body: map[string]any{"name": "1a1"}, want: "name: must be 3 digits"},
		"OtherPrefix":     {reason: "The prefix must be the client's.", body: map[string]any{"name": "0009*101"}, want: "name: the prefix must be the client's prefix 0003"},
		"MissingName":     {reason: "name is required.", body: map[string]any{"type": "phone"}, want: "name: is required"},
		"UnknownType":     {reason: "type is one of four.", body: map[string]any{"name": "103", "type": "modem"}, want: "type: must be one of phone, queue, ivr, fax"},
		"UnknownStatus":   {reason: "status is active or blocked.", body: map[string]any{"name": "103", "status": "on"}, want: "status: must be one of active, blocked"},
		"UnknownGroup":    {reason: "The group must exist in the client.", body: map[string]any{"name": "103", "extension_group_id": 999}, want: "extension_group_id: extension group 999 does not exist"},
		"WrongJSONType":   {reason: "A field of the wrong type is named.", body: map[string]any{"name": "103", "ani_rfc3325": "yes"}, want: "ani_rfc3325: must be a boolean"},
		"NullNotNullable": {reason: "Only nullable fields take null.", body: map[string]any{"name": "103", "status": nil}, want: "status: must not be null"},
		"TooLong":         {reason: "Strings are bounded.", body: map[string]any{"name": "103", "label": strings.Repeat("x", 300)}, want: "label: must be at most 255 characters"},
		"MalformedJSON":   {reason: "A body that is not JSON is a Bad Request.", body: `{"name": "103"`, want: "Bad Request"},
		"NotAnObject":     {reason: "A body that is not a JSON object is a Bad Request.", body: `["103"]`, want: "Bad Request"},
		"TrailingGarbage": {reason: "Two JSON documents are a Bad Request.", body: `{"name":"103"} {}`, want: "Bad Request"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := c.do(http.MethodPost, "/client/@me/extension/", tc.body)
			if r.status != http.StatusBadRequest || r.message(t) != tc.want {
				t.Errorf("%s\nwant 400 %q, got %d %s", tc.reason, tc.want, r.status, r.body)
			}
		})
	}
	if r := c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "104", "color": "blue"}); r.status != http.StatusCreated {
		t.Errorf("unknown fields are ignored: want 201, got %d %s", r.status, r.body)
	}
}

func TestExtensionUpdate(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "label": "Alice", "caller_id_name": "A"}), http.StatusCreated).obj(t)
	path := "/client/@me/extension/" + num(x["id"])

	got := must(t, c.do(http.MethodPut, path, map[string]any{"status": "active"}), http.StatusOK).obj(t)
	if got["status"] != "active" || got["label"] != "Alice" || got["caller_id_name"] != "A" {
		t.Errorf("PUT changes only the fields given: got %v", got)
	}
	got = must(t, c.do(http.MethodPut, path, map[string]any{"label": nil}), http.StatusOK).obj(t)
	if got["label"] != nil || got["caller_id_name"] != "A" {
		t.Errorf("PUT null clears a nullable field: got %v", got)
	}
	must(t, c.do(http.MethodPut, path, map[string]any{"name": "101", "type": "phone"}), http.StatusOK)
	must(t, c.do(http.MethodPut, path, map[string]any{"name": "0003*101"}), http.StatusOK)
	for body, want := range map[string]string{
		`{"name":"102"}`:            "name: cannot be changed",
		`{"type":"queue"}`:          "type: cannot be changed",
		`{"id":5}`:                  "id: cannot be changed",
		`{"extension_group_id":42}`: "extension_group_id: extension group 42 does not exist",
		`{"status":`:                "Bad Request",
	} {
		if r := c.do(http.MethodPut, path, body); r.status != http.StatusBadRequest || r.message(t) != want {
			t.Errorf("PUT %s: want 400 %q, got %d %s", body, want, r.status, r.body)
		}
	}
	if got := must(t, c.do(http.MethodGet, path, nil), http.StatusOK).obj(t); got["label"] != nil || got["status"] != "active" {
		t.Errorf("a refused PUT changes nothing: got %v", got)
	}
}

func TestPhone(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	ph := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "label": "Alice"}), http.StatusCreated).obj(t)
	q := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102", "type": "queue"}), http.StatusCreated).obj(t)
	path := "/extension/" + num(ph["id"]) + "/phone/"

	got := must(t, c.do(http.MethodGet, path, nil), http.StatusOK).obj(t)
	if got["auth_type"] != "digest" || got["label"] != "Alice" || got["extension_id"] != ph["id"] {
		t.Errorf("GET phone: want defaults, got %v", got)
	}
	got = must(t, c.do(http.MethodPut, path, map[string]any{"password": "s3cret", "record_enabled": true}), http.StatusOK).obj(t)
	if got["record_enabled"] != true || got["auth_type"] != "digest" {
		t.Errorf("PUT phone is partial: got %v", got)
	}
	if _, shown := got["password"]; shown {
		t.Errorf("the SIP password is write-only, got %v", got)
	}
	if r := c.do(http.MethodPut, path, map[string]any{"auth_type": "magic"}); r.status != http.StatusBadRequest {
		t.Errorf("PUT phone with a bad enum: want 400, got %d", r.status)
	}
	must(t, c.do(http.MethodGet, "/extension/"+num(q["id"])+"/phone/", nil), http.StatusNotFound)
	must(t, c.do(http.MethodPost, path, map[string]any{}), http.StatusMethodNotAllowed)
}

func TestEvents(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	ph := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated).obj(t)
	ivr := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102", "type": "ivr"}), http.StatusCreated).obj(t)
	events := "/extension/" + num(ph["id"]) + "/event/"

	ev := must(t, c.do(http.MethodPost, events, map[string]any{"url": "https://hooks.example/calls", "event_type": "dial-in", "method": "POST"}), http.StatusCreated).obj(t)
	if len(ev) != 4 || ev["url"] != "https://hooks.example/calls" || ev["event_type"] != "dial-in" || ev["method"] != "POST" {
		t.Errorf("POST event: want id, url, event_type and method, got %v", ev)
	}
	must(t, c.do(http.MethodPost, events, map[string]any{"url": "https://hooks.example/calls", "event_type": "dial-in", "method": "POST"}), http.StatusCreated)
	must(t, c.do(http.MethodPost, events, map[string]any{"url": "https://hooks.example/calls", "event_type": "hangup", "method": "GET"}), http.StatusCreated)
	one := events + num(ev["id"])
	if got := must(t, c.do(http.MethodPut, one, map[string]any{"method": "GET"}), http.StatusOK).obj(t); got["method"] != "GET" || got["event_type"] != "dial-in" {
		t.Errorf("PUT event is partial: got %v", got)
	}
	for body, want := range map[string]string{
		`{"url":"hooks.example","event_type":"hangup","method":"GET"}`:        "url: must be an absolute http or https URL",
		`{"url":"https://h.example/","event_type":"ringing","method":"GET"}`:  "event_type: must be one of dial-in, dial-out, answer, hangup, message-in, message-out, voicemail",
		`{"url":"https://h.example/","event_type":"hangup","method":"PATCH"}`: "method: must be one of GET, POST",
		`{"url":"https://h.example/","event_type":"hangup"}`:                  "method: is required",
	} {
		if r := c.do(http.MethodPost, events, body); r.status != http.StatusBadRequest || r.message(t) != want {
			t.Errorf("POST %s: want 400 %q, got %d %s", body, want, r.status, r.body)
		}
	}
	ivrEvents := "/extension/" + num(ivr["id"]) + "/event/"
	if r := c.do(http.MethodPost, ivrEvents, map[string]any{"url": "https://h.example/", "event_type": "answer", "method": "GET"}); r.status != http.StatusBadRequest || !strings.Contains(r.message(t), "ivr-type") {
		t.Errorf("IVR extensions take only hangup: got %d %s", r.status, r.body)
	}
	must(t, c.do(http.MethodPost, ivrEvents, map[string]any{"url": "https://h.example/", "event_type": "hangup", "method": "GET"}), http.StatusCreated)

	if n := len(must(t, c.do(http.MethodGet, events, nil), http.StatusOK).list(t)); n != 3 {
		t.Fatalf("want 3 subscriptions, got %d", n)
	}
	must(t, c.do(http.MethodDelete, one, nil), http.StatusNoContent)
	must(t, c.do(http.MethodGet, one, nil), http.StatusNotFound)
	// The documented DELETE of the collection removes every subscription of that extension only.
	must(t, c.do(http.MethodDelete, events, nil), http.StatusNoContent)
	if n := len(must(t, c.do(http.MethodGet, events, nil), http.StatusOK).list(t)); n != 0 {
		t.Errorf("after DELETE of the collection: want 0 subscriptions, got %d", n)
	}
	if n := len(must(t, c.do(http.MethodGet, ivrEvents, nil), http.StatusOK).list(t)); n != 1 {
		t.Errorf("other extensions keep their subscriptions: want 1, got %d", n)
	}
	// The Call API app may subscribe to events.
	must(t, e.as(pbxsim.DemoCallAPIAppID).do(http.MethodPost, events, map[string]any{"url": "https://h.example/", "event_type": "hangup", "method": "GET"}), http.StatusCreated)
}

func TestDIDs(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated).obj(t)
	dids := must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusOK).list(t)
	if len(dids) != 5 || dids[0]["name"] != "74950000001" || dids[0]["extension_id"] != nil {
		t.Fatalf("want the five demo DIDs, unassigned; got %v", dids)
	}
	path := "/client/@me/did/" + num(dids[0]["id"])
	got := must(t, c.do(http.MethodPut, path, map[string]any{"extension_id": x["id"], "comment": "front desk"}), http.StatusOK).obj(t)
	if got["extension_id"] != x["id"] || got["comment"] != "front desk" || got["name"] != "74950000001" {
		t.Errorf("PUT assigns the DID: got %v", got)
	}
	if r := c.do(http.MethodPut, path, map[string]any{"extension_id": 4242}); r.status != http.StatusBadRequest {
		t.Errorf("PUT with an unknown extension: want 400, got %d", r.status)
	}
	if r := c.do(http.MethodPut, path, map[string]any{"name": "1"}); r.status != http.StatusBadRequest || r.message(t) != "name: cannot be changed" {
		t.Errorf("the number itself is provider-owned: got %d %s", r.status, r.body)
	}
	must(t, c.do(http.MethodPost, "/client/@me/did/", map[string]any{"name": "1"}), http.StatusMethodNotAllowed)
	must(t, c.do(http.MethodDelete, path, nil), http.StatusMethodNotAllowed)
	if got := must(t, c.do(http.MethodGet, "/client/@me/did/?extension_id="+num(x["id"]), nil), http.StatusOK).list(t); len(got) != 1 {
		t.Errorf("filter by extension_id: want 1 DID, got %d", len(got))
	}
}

func TestCascades(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	g := must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "Sales"}), http.StatusCreated).obj(t)
	a := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "extension_group_id": g["id"]}), http.StatusCreated).obj(t)
	b := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102", "extension_group_id": g["id"]}), http.StatusCreated).obj(t)
	must(t, c.do(http.MethodPost, "/client/@me/user/extension_group/", map[string]any{
		"login": "sales-lead", "password": "pw", "name": "Lead", "email": "l@x", "extension_group_id": g["id"]}), http.StatusCreated)

	must(t, c.do(http.MethodDelete, "/client/@me/extension_group/"+num(g["id"]), nil), http.StatusNoContent)
	for _, x := range []map[string]any{a, b} {
		got := must(t, c.do(http.MethodGet, "/client/@me/extension/"+num(x["id"]), nil), http.StatusOK).obj(t)
		if got["extension_group_id"] != nil {
			t.Errorf("deleting a group clears extension_group_id on its members: got %v", got)
		}
	}
	if n := len(must(t, c.do(http.MethodGet, "/client/@me/user/extension_group/", nil), http.StatusOK).list(t)); n != 0 {
		t.Errorf("deleting a group deletes its users: %d left", n)
	}

	events := "/extension/" + num(a["id"]) + "/event/"
	must(t, c.do(http.MethodPost, events, map[string]any{"url": "https://h.example/", "event_type": "hangup", "method": "GET"}), http.StatusCreated)
	did := must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusOK).list(t)[0]
	must(t, c.do(http.MethodPut, "/client/@me/did/"+num(did["id"]), map[string]any{"extension_id": a["id"], "message_extension_id": a["id"]}), http.StatusOK)

	must(t, c.do(http.MethodDelete, "/client/@me/extension/"+num(a["id"]), nil), http.StatusNoContent)
	snap := e.sim.Snapshot()
	if len(snap.Events) != 0 || len(snap.Phones) != 1 {
		t.Errorf("deleting an extension deletes its events and phone settings: %d events, %d phones left", len(snap.Events), len(snap.Phones))
	}
	got := must(t, c.do(http.MethodGet, "/client/@me/did/"+num(did["id"]), nil), http.StatusOK).obj(t)
	if got["extension_id"] != nil || got["message_extension_id"] != nil {
		t.Errorf("deleting an extension unassigns its DIDs: got %v", got)
	}
	must(t, c.do(http.MethodGet, events, nil), http.StatusNotFound)
}

func TestUsers(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated).obj(t)
	u := must(t, c.do(http.MethodPost, "/client/@me/user/extension/", map[string]any{
		"login": "alice", "password": "pw", "name": "Alice", "email": "a@x", "extension_id": x["id"]}), http.StatusCreated).obj(t)
	if _, shown := u["password"]; shown || u["extension_id"] != x["id"] || u["access"] != "full" || u["client_id"] != nil {
		t.Errorf("POST user: got %v", u)
	}
	if r := c.do(http.MethodPost, "/client/@me/user/extension/", map[string]any{
		"login": "alice", "password": "pw", "name": "A2", "email": "a@x", "extension_id": x["id"]}); r.status != http.StatusBadRequest || r.message(t) != "login: alice is already taken" {
		t.Errorf("logins are unique: got %d %s", r.status, r.body)
	}
	if r := c.do(http.MethodPost, "/client/@me/user/client/", map[string]any{
		"login": "bob", "password": "pw", "name": "Bob", "email": "b@x"}); r.status != http.StatusBadRequest || r.message(t) != "client_id: is required" {
		t.Errorf("the owner key is required: got %d %s", r.status, r.body)
	}
	clients := must(t, c.do(http.MethodGet, "/client/@me/user/client/", nil), http.StatusOK).list(t)
	if len(clients) != 2 {
		t.Fatalf("want the two demo client users, got %v", clients)
	}
	if r := c.do(http.MethodDelete, "/client/@me/user/client/"+num(clients[0]["id"]), nil); r.status != http.StatusBadRequest {
		t.Errorf("the client's first user cannot be deleted: got %d %s", r.status, r.body)
	}
	must(t, c.do(http.MethodDelete, "/client/@me/user/client/"+num(clients[1]["id"]), nil), http.StatusNoContent)
	must(t, c.do(http.MethodPut, "/client/@me/user/extension/"+num(u["id"]), map[string]any{"access": "read_only"}), http.StatusOK)
}

func TestClientLimitTimezone(t *testing.T) {
	e := strictDemo(t)
	c := e.as(pbxsim.DemoTrustedAppID)
	info := must(t, c.do(http.MethodGet, "/client/@me/client/", nil), http.StatusOK).obj(t)
	if info["prefix"] != pbxsim.DemoPrefix || info["extension_len"] != "3" || info["id"] != float64(1) {
		t.Errorf("client info: got %v", info)
	}
	must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated)
	lim := must(t, c.do(http.MethodGet, "/client/1/limit/", nil), http.StatusOK).obj(t)
	if lim["extension_count"] != float64(1) || lim["extension_limit"] == nil {
		t.Errorf("limit: got %v", lim)
	}
	tz := must(t, c.do(http.MethodGet, "/timezone/", nil), http.StatusOK).list(t)
	if len(tz) == 0 || tz[0]["name"] == nil {
		t.Errorf("timezones: got %v", tz)
	}
}

func TestLimitsEnforced(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	cfg.Clients[0].Limits = pbxsim.LimitConfig{Extensions: 1}
	e := newEnv(t, cfg, pbxsim.WithStrictSlashes())
	c := e.as(pbxsim.DemoTrustedAppID)
	must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated)
	if r := c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102"}); r.status != http.StatusBadRequest || !strings.Contains(r.message(t), "limit") {
		t.Errorf("over the extension limit: want 400 naming the limit, got %d %s", r.status, r.body)
	}
}
