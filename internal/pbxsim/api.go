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
		s.countAgent(r.UserAgent(), p.client)
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

// verbs are the parts of a CRUD resource that differ between resources: which objects the
// request may see, and how to create, update and delete them. A nil verb answers 405.
type verbs struct {
	col  string
	keep func(object) bool
	// create builds a new object from the request (the dispatcher stores it).
	create func() (object, error)
	// update returns old changed by the request (the dispatcher stores it).
	update func(old object) (object, error)
	// remove deletes an object with its cascades.
	remove func(old object) error
	// removeAll serves a DELETE of the whole collection.
	removeAll func()
}

// crud serves the core rules of a resource: list and create on the collection, and read, change
// and delete of one object, with the PBX's status codes and the public view of objects.
func (s *Server) crud(req *request, v verbs) (result, *httpError) {
	sch := schemas[v.col]
	method := req.r.Method
	if req.id == 0 {
		switch {
		case method == http.MethodGet:
			return s.list(req, v.col, v.keep)
		case method == http.MethodPost && v.create != nil:
			o, err := v.create()
			if err != nil {
				return result{}, asHTTP(err)
			}
			s.w.cols[v.col].put(o.int(keyField(v.col)), o)
			return created(sch.public(o))
		case method == http.MethodDelete && v.removeAll != nil:
			v.removeAll()
			return deleted()
		}
		return result{}, methodNotAllowed()
	}
	old, herr := s.object(req, v.col, v.keep)
	if herr != nil {
		return result{}, herr
	}
	switch {
	case method == http.MethodGet:
		return ok(sch.public(old))
	case method == http.MethodPut && v.update != nil:
		o, err := v.update(old)
		if err != nil {
			return result{}, asHTTP(err)
		}
		s.w.cols[v.col].put(req.id, o)
		return updated(sch.public(o))
	case method == http.MethodDelete && v.remove != nil:
		if err := v.remove(old); err != nil {
			return result{}, asHTTP(err)
		}
		return deleted()
	}
	return result{}, methodNotAllowed()
}

func (s *Server) handleGroups(req *request) (result, *httpError) {
	return s.crud(req, verbs{
		col:  colGroup,
		keep: s.inClient(req),
		create: func() (object, error) {
			if s.count(colGroup, req.sc.client) >= s.limits(req.sc.client).ExtensionGroups {
				return nil, badRequestf("name: the client's limit of extension groups is reached")
			}
			o, err := groupSchema.apply(nil, req.body, true)
			if err != nil {
				return nil, err
			}
			o["id"], o["client_id"] = s.w.newID(colGroup), req.sc.client
			return o, nil
		},
		update: func(old object) (object, error) { return groupSchema.apply(old, req.body, false) },
		remove: func(old object) error { s.deleteGroup(old.int("id")); return nil },
	})
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

// zeroIsNone clears the given reference fields of o that hold 0, with Assumptions.ZeroIDIsNone.
// ASSUMPTION: off by default, where 0 is an id like any other and names nothing (a 400).
func (s *Server) zeroIsNone(o object, fields ...string) {
	if !s.assume.ZeroIDIsNone {
		return
	}
	for _, f := range fields {
		if v, set := o[f].(int64); set && v == 0 {
			o[f] = nil
		}
	}
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
	v := verbs{
		col:    colExtension,
		keep:   s.inClient(req),
		create: func() (object, error) { return s.createExtension(req) },
		update: func(old object) (object, error) {
			if raw, given := req.body["name"]; given {
				full, err := s.normalizeName(req.sc.client, raw)
				if err != nil || full != old.str("name") {
					// ASSUMPTION (DESIGN 6): a PUT that tries to rename is a 400.
					return nil, badRequestf("name: cannot be changed")
				}
				req.body["name"], _ = json.Marshal(full)
			}
			o, err := extensionSchema.apply(old, req.body, false)
			if err == nil {
				s.zeroIsNone(o, "extension_group_id")
				err = s.checkGroup(req.sc.client, o)
			}
			return o, err
		},
		remove: func(old object) error { s.deleteExtension(old.int("id")); return nil },
	}
	if req.rt.realm == colGroup {
		// The extension-group realm sees the extensions of its group and may read and change them.
		v.keep = func(o object) bool {
			return o.int("client_id") == req.sc.client && o["extension_group_id"] != nil && o.int("extension_group_id") == req.sc.group
		}
		v.create, v.remove = nil, nil
	}
	return s.crud(req, v)
}
func (s *Server) createExtension(req *request) (object, error) {
	client := req.sc.client
	o, err := extensionSchema.apply(nil, req.body, true)
	if err != nil {
		return nil, err
	}
	s.zeroIsNone(o, "extension_group_id")
	full, err := s.normalizeName(client, req.body["name"])
	if err != nil {
		return nil, err
	}
	if _, taken := s.extensionByName(client, full); taken {
		// ASSUMPTION (DESIGN 6): names are unique per client; a duplicate is a 400.
		return nil, badRequestf("name: extension %s already exists", full)
	}
	if err := s.checkGroup(client, o); err != nil {
		return nil, err
	}
	if len(s.w.extNames[client]) >= s.limits(client).Extensions {
		return nil, badRequestf("name: the client's limit of extensions is reached")
	}
	c, _ := s.w.cols[colClient].get(client)
	o["id"], o["name"], o["client_id"] = s.w.newID(colExtension), full, client
	o["domain"], o["create_date"] = c.str("domain"), s.now8601()
	s.w.indexExtension(o)
	if o.str("type") == "phone" {
		// The phone singleton comes into being with its phone extension.
		ph := phoneSchema.defaults()
		ph["extension_id"], ph["label"] = o.int("id"), o["label"]
		s.w.cols[colPhone].put(o.int("id"), ph)
	}
	return o, nil
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
		if _, given := req.body["password"]; given && o["password"] == "" && s.assume.RejectEmptyPhonePassword {
			// ASSUMPTION (Assumptions.RejectEmptyPhonePassword): off by default.
			return result{}, asHTTP(badRequestf("password: must not be empty"))
		}
		s.w.cols[colPhone].put(o.int("extension_id"), o)
		return updated(phoneSchema.public(o))
	}
	return result{}, methodNotAllowed()
}

func (s *Server) handleDIDs(req *request) (result, *httpError) {
	// DIDs are allocated by the provider: no create or delete (UPSTREAM-API 3.4).
	return s.crud(req, verbs{
		col:  colDID,
		keep: s.inClient(req),
		update: func(old object) (object, error) {
			o, err := didSchema.apply(old, req.body, false)
			if err != nil {
				return nil, err
			}
			s.zeroIsNone(o, "extension_id", "message_extension_id")
			for _, k := range []string{"extension_id", "message_extension_id"} {
				if o[k] == nil {
					continue
				}
				if e, found := s.w.cols[colExtension].get(o.int(k)); !found || e.int("client_id") != req.sc.client {
					return nil, badRequestf("%s: extension %d does not exist", k, o.int(k))
				}
			}
			return o, nil
		},
	})
}
func (s *Server) handleEvents(req *request) (result, *httpError) {
	extID := req.sc.ext.int("id")
	keep := func(o object) bool { return o.int("extension_id") == extID }
	return s.crud(req, verbs{
		col:  colEvent,
		keep: keep,
		create: func() (object, error) {
			o, err := eventSchema.apply(nil, req.body, true)
			if err == nil {
				err = s.checkEvent(req.sc.ext, o)
			}
			if err != nil {
				return nil, err
			}
			// The limit counts the subscriptions of all the client's extensions (UPSTREAM-API 3.5:
			// "limited per client", read from /limit/, where event_limit is an ASSUMPTION's name).
			if s.count(colEvent, req.sc.client) >= s.limits(req.sc.client).Events {
				return nil, badRequestf("event_type: the client's limit of event subscriptions is reached")
			}
			o["id"], o["extension_id"] = s.w.newID(colEvent), extID
			return o, nil
		},
		update: func(old object) (object, error) {
			o, err := eventSchema.apply(old, req.body, false)
			if err == nil {
				err = s.checkEvent(req.sc.ext, o)
			}
			return o, err
		},
		remove: func(old object) error { s.w.cols[colEvent].remove(old.int("id")); return nil },
		// The documented DELETE of the whole collection removes every subscription of the extension.
		removeAll: func() { s.removeWhere(colEvent, keep) },
	})
}

// checkEvent validates an event subscription: an absolute http(s) URL, and only hangup on queue and
// IVR extensions. ASSUMPTION (UPSTREAM-API 3.5, 4.8): the docs advise only hangup there and one
// integrator saw an error containing "ivr-type" for answer and dial-out on an IVR; the simulator
// refuses every other type on both kinds, with a 400 whose message contains "ivr-type".
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
	return s.crud(req, verbs{
		col:    colUser,
		keep:   func(o object) bool { return o[key] != nil && s.clientOf(colUser, o) == req.sc.client },
		create: func() (object, error) { return s.createUser(req, key) },
		update: func(old object) (object, error) {
			o, err := userSchema.apply(old, req.body, false)
			if err == nil && old.int("id") == s.firstUser(req.sc.client) && (o.str("access") != "full" || o.str("status") != "active") {
				err = badRequestf("access: the client's first user keeps full rights")
			}
			return o, err
		},
		remove: func(old object) error {
			if old.int("id") == s.firstUser(req.sc.client) {
				return badRequestf("id: the client's first user cannot be deleted")
			}
			s.w.cols[colUser].remove(old.int("id"))
			return nil
		},
	})
}
func (s *Server) createUser(req *request, key string) (object, error) {
	if s.count(colUser, req.sc.client) >= s.limits(req.sc.client).Users {
		return nil, badRequestf("login: the client's limit of users is reached")
	}
	o, err := userSchema.apply(nil, req.body, true)
	if err != nil {
		return nil, err
	}
	if o[key] == nil {
		return nil, badRequestf("%s: is required", key)
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
			return nil, badRequestf("client_id: must be the client of the path (%d)", req.sc.client)
		}
	case "extension_group_id":
		if g, found := s.w.cols[colGroup].get(owner); !found || g.int("client_id") != req.sc.client {
			return nil, badRequestf("extension_group_id: extension group %d does not exist", owner)
		}
	default:
		if e, found := s.w.cols[colExtension].get(owner); !found || e.int("client_id") != req.sc.client {
			return nil, badRequestf("extension_id: extension %d does not exist", owner)
		}
	}
	if _, taken := s.userByLogin(o.str("login")); taken {
		return nil, badRequestf("login: %s is already taken", o.str("login"))
	}
	o["id"] = s.w.newID(colUser)
	return o, nil
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
