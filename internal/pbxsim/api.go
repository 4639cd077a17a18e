package pbxsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// request is one API call after authentication and routing.
type request struct {
	p     principal
	rt    route
	sc    scope
	r     *http.Request
	body  map[string]json.RawMessage
	id    int64 // the object id of the route, 0 for collections and singletons
	query url.Values
}

// result is a successful answer; changed tells the server to save the state.
type result struct {
	status  int
	body    any
	changed bool
}

func ok(v any) (result, *httpError) { return result{status: http.StatusOK, body: v}, nil }
func created(v any) (result, *httpError) {
	return result{status: http.StatusCreated, body: v, changed: true}, nil
}
func updated(v any) (result, *httpError) {
	return result{status: http.StatusOK, body: v, changed: true}, nil
}
func deleted() (result, *httpError) { return result{status: http.StatusNoContent, changed: true}, nil }

// asHTTP turns a validation error into the PBX's 400 answer.
func asHTTP(err error) *httpError {
	var br *badRequest
	if errors.As(err, &br) {
		return &httpError{status: http.StatusBadRequest, body: apiError{Message: br.message}}
	}
	return &httpError{status: http.StatusInternalServerError, body: apiError{Message: err.Error()}}
}

// serveAPI serves one request under APIPrefix and returns its path template for the counters.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) string {
	template := templateOf(r.URL.Path)
	var body []byte
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON(w, r, http.StatusBadRequest, apiError{Message: "Bad Request"})
			return template
		}
		body = b
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p, herr := s.authenticate(r)
	if herr == nil || herr.status == http.StatusForbidden {
		// Every authenticated request spends the client's hourly budget.
		if !s.spend(w, p.client) {
			herr = &httpError{status: http.StatusTooManyRequests, body: apiError{Message: "Rate limit exceeded", Status: "rate_limit_exceeded"}}
		}
	}
	if herr == nil {
		var res result
		res, herr = s.dispatch(p, r, body)
		if herr == nil {
			if res.changed && s.statePath != "" {
				if err := s.w.save(s.statePath); err != nil {
					herr = &httpError{status: http.StatusInternalServerError, body: apiError{Message: "saving state: " + err.Error()}}
				}
			}
			if herr == nil {
				writeJSON(w, r, res.status, res.body)
				return template
			}
		}
	}
	writeJSON(w, r, herr.status, herr.body)
	return template
}

// dispatch routes an authenticated request to its resource handler. The caller holds s.mu.
func (s *Server) dispatch(p principal, r *http.Request, body []byte) (result, *httpError) {
	rt, found := parseRoute(r.URL.Path)
	if !found || (s.strictSlashes && !rt.slashOK()) {
		return result{}, &httpError{status: http.StatusNotFound, body: apiError{Message: "Not found"}}
	}
	sc, herr := s.resolve(p, rt)
	if herr != nil {
		return result{}, herr
	}
	if r.Method != http.MethodGet {
		if p.user.str("access") == "read_only" {
			return result{}, forbidden("user_access_type_deny", "The user's access level allows only GET requests")
		}
		// ASSUMPTION (UPSTREAM-API 1.1): a "Call API" app may subscribe to events but may not change
		// the PBX configuration.
		if p.app.Access == "call_api" && rt.resource != "event" {
			return result{}, forbidden("app_access_type_deny", "The application's access level does not allow this request")
		}
	}
	req := &request{p: p, rt: rt, sc: sc, r: r, query: r.URL.Query()}
	if rt.id != "" {
		id, err := strconv.ParseInt(rt.id, 10, 64)
		if err != nil {
			return result{}, notFound()
		}
		req.id = id
	}
	if body != nil {
		raw, err := decodeBody(body)
		if err != nil {
			return result{}, asHTTP(err)
		}
		req.body = raw
	}
	switch rt.resource {
	case "user":
		return s.handleMe(req)
	case "timezone":
		return s.handleTimezones(req)
	case "client":
		return s.handleClient(req)
	case "limit":
		return s.handleLimit(req)
	case colGroup:
		return s.handleGroups(req)
	case colExtension:
		return s.handleExtensions(req)
	case colDID:
		return s.handleDIDs(req)
	case "phone":
		return s.handlePhone(req)
	case "event":
		return s.handleEvents(req)
	default:
		return s.handleUsers(req, strings.TrimPrefix(rt.resource, "user/"))
	}
}

// list answers a list request: the objects of a collection that pred keeps and the query's filters
// match, one page of them, as the public view.
func (s *Server) list(req *request, col string, pred func(object) bool) (result, *httpError) {
	sch := schemas[col]
	fl, err := sch.parseFilter(req.query)
	if err != nil {
		return result{}, asHTTP(err)
	}
	skip := (fl.page - 1) * fl.perPage
	out := []object{}
	s.w.cols[col].each(func(o object) bool {
		if !pred(o) || !fl.matches(o) {
			return true
		}
		if skip > 0 {
			skip--
			return true
		}
		out = append(out, sch.public(o))
		return len(out) < fl.perPage
	})
	return ok(out)
}

// object returns the object of the route's id if pred keeps it; anything else is a 404.
func (s *Server) object(req *request, col string, pred func(object) bool) (object, *httpError) {
	o, found := s.w.cols[col].get(req.id)
	if !found || !pred(o) {
		return nil, notFound()
	}
	return o, nil
}

func (s *Server) now8601() string { return s.now().Format(time.DateTime) }

// timezones is the /timezone/ list. ASSUMPTION: the resource has no public documentation; it is a
// list of objects with the IANA name, as names appear on users and clients.
var timezones = []string{
	"Africa/Cairo", "America/New_York", "Asia/Almaty", "Asia/Yekaterinburg", "Europe/Berlin",
	"Europe/Kaliningrad", "Europe/London", "Europe/Minsk", "Europe/Moscow", "Europe/Samara", "UTC",
}

func (s *Server) handleTimezones(req *request) (result, *httpError) {
	if req.r.Method != http.MethodGet {
		return result{}, methodNotAllowed()
	}
	out := make([]map[string]string, 0, len(timezones))
	for _, tz := range timezones {
		out = append(out, map[string]string{"name": tz})
	}
	return ok(out)
}

func (s *Server) handleMe(req *request) (result, *httpError) {
	if req.r.Method != http.MethodGet {
		return result{}, methodNotAllowed()
	}
	u := userSchema.public(req.p.user).clone()
	// /user/ shows the documented fields of the current user, not the management fields.
	for _, k := range []string{"name", "email", "status", "comment", "email_notify", "email_for_notify"} {
		delete(u, k)
	}
	return ok(u)
}

func (s *Server) handleClient(req *request) (result, *httpError) {
	if req.r.Method != http.MethodGet {
		return result{}, methodNotAllowed()
	}
	c, _ := s.w.cols[colClient].get(req.sc.client)
	return ok(c)
}

// limitView is the /limit/ answer. ASSUMPTION (UPSTREAM-API 5.5): the field names are not
// documented; each limit comes with the current count.
type limitView struct {
	ClientID            int64 `json:"client_id"`
	ExtensionLimit      int   `json:"extension_limit"`
	ExtensionCount      int   `json:"extension_count"`
	ExtensionGroupLimit int   `json:"extension_group_limit"`
	ExtensionGroupCount int   `json:"extension_group_count"`
	EventLimit          int   `json:"event_limit"`
	EventCount          int   `json:"event_count"`
	UserLimit           int   `json:"user_limit"`
	UserCount           int   `json:"user_count"`
	RequestLimitPerHour int   `json:"request_limit_per_hour"`
}

// Default limits of a client whose configuration sets none.
const (
	defaultExtensionLimit = 100000
	defaultGroupLimit     = 10000
	defaultEventLimit     = 1000
	defaultUserLimit      = 1000
)

func (s *Server) limits(client int64) LimitConfig {
	l := s.w.tenants[client].Limits
	l.Extensions = cmpOr(l.Extensions, defaultExtensionLimit)
	l.ExtensionGroups = cmpOr(l.ExtensionGroups, defaultGroupLimit)
	l.Events = cmpOr(l.Events, defaultEventLimit)
	l.Users = cmpOr(l.Users, defaultUserLimit)
	return l
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// count returns how many objects of a collection belong to a client.
func (s *Server) count(col string, client int64) int {
	n := 0
	s.w.cols[col].each(func(o object) bool {
		if s.clientOf(col, o) == client {
			n++
		}
		return true
	})
	return n
}

// clientOf returns the client an object belongs to.
func (s *Server) clientOf(col string, o object) int64 {
	switch col {
	case colEvent, colPhone:
		e, _ := s.w.cols[colExtension].get(o.int("extension_id"))
		return e.int("client_id")
	case colUser:
		switch {
		case o["client_id"] != nil:
			return o.int("client_id")
		case o["extension_group_id"] != nil:
			g, _ := s.w.cols[colGroup].get(o.int("extension_group_id"))
			return g.int("client_id")
		default:
			e, _ := s.w.cols[colExtension].get(o.int("extension_id"))
			return e.int("client_id")
		}
	default:
		return o.int("client_id")
	}
}

func (s *Server) handleLimit(req *request) (result, *httpError) {
	if req.r.Method != http.MethodGet {
		return result{}, methodNotAllowed()
	}
	c := req.sc.client
	l := s.limits(c)
	return ok(limitView{
		ClientID:            c,
		ExtensionLimit:      l.Extensions,
		ExtensionCount:      len(s.w.extNames[c]),
		ExtensionGroupLimit: l.ExtensionGroups,
		ExtensionGroupCount: s.count(colGroup, c),
		EventLimit:          l.Events,
		EventCount:          s.count(colEvent, c),
		UserLimit:           l.Users,
		UserCount:           s.count(colUser, c),
		RequestLimitPerHour: s.rateLimit(c),
	})
}

// inClient keeps the objects of the request's client.
func (s *Server) inClient(req *request) func(object) bool {
	return func(o object) bool { return o.int("client_id") == req.sc.client }
}

func (s *Server) handleGroups(req *request) (result, *httpError) {
	keep := s.inClient(req)
	switch {
	case req.id == 0 && req.r.Method == http.MethodGet:
		return s.list(req, colGroup, keep)
	case req.id == 0 && req.r.Method == http.MethodPost:
		if s.count(colGroup, req.sc.client) >= s.limits(req.sc.client).ExtensionGroups {
			return result{}, asHTTP(badRequestf("name: the client's limit of extension groups is reached"))
		}
		o, err := groupSchema.apply(nil, req.body, true)
		if err != nil {
			return result{}, asHTTP(err)
		}
		o["id"], o["client_id"] = s.w.newID(colGroup), req.sc.client
		s.w.cols[colGroup].put(o.int("id"), o)
		return created(o)
	case req.id == 0:
		return result{}, methodNotAllowed()
	}
	old, herr := s.object(req, colGroup, keep)
	if herr != nil {
		return result{}, herr
	}
	switch req.r.Method {
	case http.MethodGet:
		return ok(old)
	case http.MethodPut:
		o, err := groupSchema.apply(old, req.body, false)
		if err != nil {
			return result{}, asHTTP(err)
		}
		s.w.cols[colGroup].put(req.id, o)
		return updated(o)
	case http.MethodDelete:
		s.deleteGroup(req.id)
		return deleted()
	}
	return result{}, methodNotAllowed()
}

// deleteGroup removes a group. ASSUMPTION (DESIGN 6): its members stay, with extension_group_id
// cleared; its group-level users go with it.
func (s *Server) deleteGroup(id int64) {
	exts := s.w.cols[colExtension]
	exts.each(func(o object) bool {
		if o["extension_group_id"] != nil && o.int("extension_group_id") == id {
			c := o.clone()
			c["extension_group_id"] = nil
			exts.put(c.int("id"), c)
		}
		return true
	})
	s.removeWhere(colUser, func(o object) bool { return o["extension_group_id"] != nil && o.int("extension_group_id") == id })
	s.w.cols[colGroup].remove(id)
}

// removeWhere deletes the objects of a collection that pred selects.
func (s *Server) removeWhere(col string, pred func(object) bool) {
	c := s.w.cols[col]
	var ids []int64
	c.each(func(o object) bool {
		if pred(o) {
			ids = append(ids, o.int(keyField(col)))
		}
		return true
	})
	for _, id := range ids {
		c.remove(id)
	}
}

// normalizeName turns an extension name from a request (bare 101, or 0003*101) into the stored
// prefix*number form, checking the prefix and the client's digit count.
func (s *Server) normalizeName(client int64, raw json.RawMessage) (string, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", badRequestf("name: must be a string")
	}
	c, _ := s.w.cols[colClient].get(client)
	prefix := c.str("prefix")
	short := name
	if p, n, cut := strings.Cut(name, "*"); cut {
		if p != prefix {
			return "", badRequestf("name: the prefix must be the client's prefix %s", prefix)
		}
		short = n
	}
	length, _ := strconv.Atoi(c.str("extension_len"))
	if !isDigits(short) || len(short) != length {
		// ASSUMPTION (DESIGN 6): a name of the wrong length is a 400 naming the field.
		return "", badRequestf("name: must be %d digits", length)
	}
	return prefix + "*" + short, nil
}

// checkGroup checks that an extension_group_id in a body names a group of the client.
func (s *Server) checkGroup(client int64, o object) error {
	if o["extension_group_id"] == nil {
		return nil
	}
	g, found := s.w.cols[colGroup].get(o.int("extension_group_id"))
	if !found || g.int("client_id") != client {
		return badRequestf("extension_group_id: extension group %d does not exist", o.int("extension_group_id"))
	}
	return nil
}

func (s *Server) handleExtensions(req *request) (result, *httpError) {
	keep := s.inClient(req)
	if req.rt.realm == colGroup {
		// The extension-group realm sees the extensions of its group and may read and change them.
		keep = func(o object) bool {
			return o.int("client_id") == req.sc.client && o["extension_group_id"] != nil && o.int("extension_group_id") == req.sc.group
		}
		if req.r.Method == http.MethodPost || req.r.Method == http.MethodDelete {
			return result{}, methodNotAllowed()
		}
	}
	switch {
	case req.id == 0 && req.r.Method == http.MethodGet:
		return s.list(req, colExtension, keep)
	case req.id == 0 && req.r.Method == http.MethodPost:
		return s.createExtension(req)
	case req.id == 0:
		return result{}, methodNotAllowed()
	}
	old, herr := s.object(req, colExtension, keep)
	if herr != nil {
		return result{}, herr
	}
	switch req.r.Method {
	case http.MethodGet:
		return ok(old)
	case http.MethodPut:
		if raw, given := req.body["name"]; given {
			full, err := s.normalizeName(req.sc.client, raw)
			if err != nil || full != old.str("name") {
				// ASSUMPTION (DESIGN 6): a PUT that tries to rename is a 400.
				return result{}, asHTTP(badRequestf("name: cannot be changed"))
			}
			req.body["name"], _ = json.Marshal(full)
		}
		o, err := extensionSchema.apply(old, req.body, false)
		if err == nil {
			err = s.checkGroup(req.sc.client, o)
		}
		if err != nil {
			return result{}, asHTTP(err)
		}
		s.w.cols[colExtension].put(req.id, o)
		return updated(o)
	case http.MethodDelete:
		s.deleteExtension(req.id)
		return deleted()
	}
	return result{}, methodNotAllowed()
}

func (s *Server) createExtension(req *request) (result, *httpError) {
	client := req.sc.client
	o, err := extensionSchema.apply(nil, req.body, true)
	if err != nil {
		return result{}, asHTTP(err)
	}
	full, err := s.normalizeName(client, req.body["name"])
	if err != nil {
		return result{}, asHTTP(err)
	}
	if _, taken := s.extensionByName(client, full); taken {
		// ASSUMPTION (DESIGN 6): names are unique per client; a duplicate is a 400.
		return result{}, asHTTP(badRequestf("name: extension %s already exists", full))
	}
	if err := s.checkGroup(client, o); err != nil {
		return result{}, asHTTP(err)
	}
	if len(s.w.extNames[client]) >= s.limits(client).Extensions {
		return result{}, asHTTP(badRequestf("name: the client's limit of extensions is reached"))
	}
	c, _ := s.w.cols[colClient].get(client)
	o["id"], o["name"], o["client_id"] = s.w.newID(colExtension), full, client
	o["domain"], o["create_date"] = c.str("domain"), s.now8601()
	s.w.cols[colExtension].put(o.int("id"), o)
	s.w.indexExtension(o)
	if o.str("type") == "phone" {
		// The phone singleton comes into being with its phone extension.
		ph := phoneSchema.defaults()
		ph["extension_id"], ph["label"] = o.int("id"), o["label"]
		s.w.cols[colPhone].put(o.int("id"), ph)
	}
	return created(o)
}

// deleteExtension removes an extension. ASSUMPTION (DESIGN 6): its event subscriptions, phone
// settings and extension-level users go with it, and its DIDs are unassigned.
func (s *Server) deleteExtension(id int64) {
	s.removeWhere(colEvent, func(o object) bool { return o.int("extension_id") == id })
	s.removeWhere(colUser, func(o object) bool { return o["extension_id"] != nil && o.int("extension_id") == id })
	dids := s.w.cols[colDID]
	dids.each(func(o object) bool {
		if o["extension_id"] == id || o["message_extension_id"] == id {
			c := o.clone()
			if c["extension_id"] == id {
				c["extension_id"] = nil
			}
			if c["message_extension_id"] == id {
				c["message_extension_id"] = nil
			}
			dids.put(c.int("id"), c)
		}
		return true
	})
	s.w.cols[colPhone].remove(id)
	if o, found := s.w.cols[colExtension].get(id); found {
		delete(s.w.extNames[o.int("client_id")], o.str("name"))
	}
	s.w.cols[colExtension].remove(id)
}

func (s *Server) handlePhone(req *request) (result, *httpError) {
	ph, found := s.w.cols[colPhone].get(req.sc.ext.int("id"))
	if !found {
		// Only phone extensions have phone settings.
		return result{}, notFound()
	}
	switch req.r.Method {
	case http.MethodGet:
		return ok(phoneSchema.public(ph))
	case http.MethodPut:
		o, err := phoneSchema.apply(ph, req.body, false)
		if err != nil {
			return result{}, asHTTP(err)
		}
		s.w.cols[colPhone].put(o.int("extension_id"), o)
		return updated(phoneSchema.public(o))
	}
	return result{}, methodNotAllowed()
}

func (s *Server) handleDIDs(req *request) (result, *httpError) {
	keep := s.inClient(req)
	switch {
	case req.id == 0 && req.r.Method == http.MethodGet:
		return s.list(req, colDID, keep)
	case req.id == 0:
		// DIDs are allocated by the provider: no create or delete (UPSTREAM-API 3.4).
		return result{}, methodNotAllowed()
	}
	old, herr := s.object(req, colDID, keep)
	if herr != nil {
		return result{}, herr
	}
	switch req.r.Method {
	case http.MethodGet:
		return ok(old)
	case http.MethodPut:
		o, err := didSchema.apply(old, req.body, false)
		if err != nil {
			return result{}, asHTTP(err)
		}
		for _, k := range []string{"extension_id", "message_extension_id"} {
			if o[k] == nil {
				continue
			}
			if e, found := s.w.cols[colExtension].get(o.int(k)); !found || e.int("client_id") != req.sc.client {
				return result{}, asHTTP(badRequestf("%s: extension %d does not exist", k, o.int(k)))
			}
		}
		s.w.cols[colDID].put(req.id, o)
		return updated(o)
	}
	return result{}, methodNotAllowed()
}

func (s *Server) handleEvents(req *request) (result, *httpError) {
	extID := req.sc.ext.int("id")
	keep := func(o object) bool { return o.int("extension_id") == extID }
	switch {
	case req.id == 0 && req.r.Method == http.MethodGet:
		return s.list(req, colEvent, keep)
	case req.id == 0 && req.r.Method == http.MethodPost:
		o, err := eventSchema.apply(nil, req.body, true)
		if err == nil {
			err = s.checkEvent(req.sc.ext, o)
		}
		if err != nil {
			return result{}, asHTTP(err)
		}
		if s.count(colEvent, req.sc.client) >= s.limits(req.sc.client).Events {
			return result{}, asHTTP(badRequestf("event_type: the client's limit of event subscriptions is reached"))
		}
		o["id"], o["extension_id"] = s.w.newID(colEvent), extID
		s.w.cols[colEvent].put(o.int("id"), o)
		return created(eventSchema.public(o))
	case req.id == 0 && req.r.Method == http.MethodDelete:
		// The documented DELETE of the whole collection removes every subscription of the extension.
		s.removeWhere(colEvent, keep)
		return deleted()
	case req.id == 0:
		return result{}, methodNotAllowed()
	}
	old, herr := s.object(req, colEvent, keep)
	if herr != nil {
		return result{}, herr
	}
	switch req.r.Method {
	case http.MethodGet:
		return ok(eventSchema.public(old))
	case http.MethodPut:
		o, err := eventSchema.apply(old, req.body, false)
		if err == nil {
			err = s.checkEvent(req.sc.ext, o)
		}
		if err != nil {
			return result{}, asHTTP(err)
		}
		s.w.cols[colEvent].put(req.id, o)
		return updated(eventSchema.public(o))
	case http.MethodDelete:
		s.w.cols[colEvent].remove(req.id)
		return deleted()
	}
	return result{}, methodNotAllowed()
}

// checkEvent validates an event subscription: an absolute http(s) URL, and only hangup on queue and
// IVR extensions (the docs' advice; one integrator saw an "ivr-type" error for other types).
func (s *Server) checkEvent(ext object, o object) error {
	u, err := url.Parse(o.str("url"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return badRequestf("url: must be an absolute http or https URL")
	}
	if t := ext.str("type"); (t == "ivr" || t == "queue") && o.str("event_type") != "hangup" {
		return badRequestf("event_type: only hangup is allowed for ivr-type and queue-type extensions")
	}
	return nil
}

// userLevels maps the level of a /user/<level>/ path to its owner key.
var userLevels = map[string]string{colClient: "client_id", colGroup: "extension_group_id", colExtension: "extension_id"}

func (s *Server) handleUsers(req *request, level string) (result, *httpError) {
	key := userLevels[level]
	keep := func(o object) bool { return o[key] != nil && s.clientOf(colUser, o) == req.sc.client }
	switch {
	case req.id == 0 && req.r.Method == http.MethodGet:
		return s.list(req, colUser, keep)
	case req.id == 0 && req.r.Method == http.MethodPost:
		return s.createUser(req, key)
	case req.id == 0:
		return result{}, methodNotAllowed()
	}
	old, herr := s.object(req, colUser, keep)
	if herr != nil {
		return result{}, herr
	}
	switch req.r.Method {
	case http.MethodGet:
		return ok(userSchema.public(old))
	case http.MethodPut:
		o, err := userSchema.apply(old, req.body, false)
		if err != nil {
			return result{}, asHTTP(err)
		}
		if old.int("id") == s.firstUser(req.sc.client) && (o.str("access") != "full" || o.str("status") != "active") {
			return result{}, asHTTP(badRequestf("access: the client's first user keeps full rights"))
		}
		s.w.cols[colUser].put(req.id, o)
		return updated(userSchema.public(o))
	case http.MethodDelete:
		if req.id == s.firstUser(req.sc.client) {
			return result{}, asHTTP(badRequestf("id: the client's first user cannot be deleted"))
		}
		s.w.cols[colUser].remove(req.id)
		return deleted()
	}
	return result{}, methodNotAllowed()
}

func (s *Server) createUser(req *request, key string) (result, *httpError) {
	if s.count(colUser, req.sc.client) >= s.limits(req.sc.client).Users {
		return result{}, asHTTP(badRequestf("login: the client's limit of users is reached"))
	}
	o, err := userSchema.apply(nil, req.body, true)
	if err != nil {
		return result{}, asHTTP(err)
	}
	if o[key] == nil {
		return result{}, asHTTP(badRequestf("%s: is required", key))
	}
	for k := range userLevels {
		if userLevels[k] != key {
			o[userLevels[k]] = nil
		}
	}
	owner := o.int(key)
	switch key {
	case "client_id":
		if owner != req.sc.client {
			return result{}, asHTTP(badRequestf("client_id: must be the client of the path (%d)", req.sc.client))
		}
	case "extension_group_id":
		if g, found := s.w.cols[colGroup].get(owner); !found || g.int("client_id") != req.sc.client {
			return result{}, asHTTP(badRequestf("extension_group_id: extension group %d does not exist", owner))
		}
	default:
		if e, found := s.w.cols[colExtension].get(owner); !found || e.int("client_id") != req.sc.client {
			return result{}, asHTTP(badRequestf("extension_id: extension %d does not exist", owner))
		}
	}
	if _, taken := s.userByLogin(o.str("login")); taken {
		return result{}, asHTTP(badRequestf("login: %s is already taken", o.str("login")))
	}
	o["id"] = s.w.newID(colUser)
	s.w.cols[colUser].put(o.int("id"), o)
	return created(userSchema.public(o))
}

// firstUser returns the id of a client's first client-level user, who cannot be deleted.
func (s *Server) firstUser(client int64) int64 {
	var id int64
	s.w.cols[colUser].each(func(o object) bool {
		if o["client_id"] != nil && o.int("client_id") == client {
			id = o.int("id")
			return false
		}
		return true
	})
	return id
}
