package pbxsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// httpError is an answer other than success: a status and the PBX's JSON error body.
type httpError struct {
	status int
	body   apiError
}

func notFound() *httpError {
	return &httpError{status: http.StatusNotFound, body: apiError{Message: "Record not found"}}
}

func forbidden(status, message string) *httpError {
	return &httpError{status: http.StatusForbidden, body: apiError{Message: message, Status: status}}
}

func methodNotAllowed() *httpError {
	return &httpError{status: http.StatusMethodNotAllowed, body: apiError{Message: "Method not allowed"}}
}

// realms are the API sections; resources lists, per realm, the resources and whether each is a
// singleton (one object, no id, URL ending with "/").
var resources = map[string]map[string]bool{
	"": {"user": true, "timezone": false},
	colClient: {
		"client": true, "limit": true, colGroup: false, colExtension: false, colDID: false,
		"user/client": false, "user/extension_group": false, "user/extension": false,
	},
	colGroup:     {colExtension: false},
	colExtension: {"phone": true, "event": false},
}

// route is a parsed API path.
type route struct {
	realm    string // "" for resources with no realm
	realmRef string // the realm id as written: a number, @me, or @name in the extension realm
	resource string
	id       string // the object id, "" for a collection or singleton
	slash    bool   // the path ends with "/"
}

// parseRoute splits a path under APIPrefix; ok is false for a path that names no resource.
func parseRoute(path string) (rt route, ok bool) {
	rest := strings.TrimPrefix(path, APIPrefix)
	rt.slash = strings.HasSuffix(rest, "/")
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if len(segs) >= 1 {
		if _, ok := resources[""][segs[0]]; ok && len(segs) == 1 {
			rt.resource = segs[0]
			return rt, true
		}
	}
	if len(segs) < 3 {
		return rt, false
	}
	rt.realm, rt.realmRef, segs = segs[0], segs[1], segs[2:]
	res, ok := resources[rt.realm]
	if !ok || rt.realmRef == "" {
		return rt, false
	}
	rt.resource = segs[0]
	segs = segs[1:]
	if rt.resource == "user" && len(segs) > 0 {
		rt.resource += "/" + segs[0]
		segs = segs[1:]
	}
	singleton, ok := res[rt.resource]
	switch {
	case !ok || len(segs) > 1 || (singleton && len(segs) == 1):
		return rt, false
	case len(segs) == 1:
		rt.id = segs[0]
	}
	return rt, true
}

// slashOK tells whether the path follows the trailing-slash rule: collections and singletons end
// with "/", single objects do not.
func (rt route) slashOK() bool { return rt.slash == (rt.id == "") }

// templateOf turns a path into its template for counters and fault matching: the realm id becomes
// {realm_id} and every other numeric segment {id}.
func templateOf(path string) string {
	rest, ok := strings.CutPrefix(path, APIPrefix+"/")
	if !ok {
		return path
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		switch {
		case i == 1 && slices.Contains([]string{colClient, colGroup, colExtension}, segs[0]) && s != "":
			segs[i] = "{realm_id}"
		case s != "" && isDigits(s):
			segs[i] = "{id}"
		}
	}
	return APIPrefix + "/" + strings.Join(segs, "/")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// scope is what a realm id resolved to: the client whose objects the request reaches, and in the
// lower realms the group or extension.
type scope struct {
	client int64
	group  int64
	ext    object
}

// resolve checks the realm of a route against the principal: the realm id exists, @me is used only
// in the principal's own realm, and the principal may reach the realm (a higher-level user may use
// lower realms inside its own client; nobody reaches another client). The caller holds s.mu.
func (s *Server) resolve(p principal, rt route) (scope, *httpError) {
	me := rt.realmRef == "@me"
	if me && p.level() != rt.realm {
		return scope{}, forbidden("access_denied", "@me is allowed only in the realm of the user's own type ("+p.level()+")")
	}
	switch rt.realm {
	case "":
		return scope{client: p.client}, nil
	case colClient:
		id := p.client
		if !me {
			n, err := strconv.ParseInt(rt.realmRef, 10, 64)
			if err != nil {
				return scope{}, notFound()
			}
			id = n
		}
		if _, ok := s.w.cols[colClient].get(id); !ok {
			return scope{}, &httpError{status: http.StatusNotFound, body: apiError{Message: "Client not found", Status: "client_not_found"}}
		}
		if id != p.client || p.level() != colClient {
			return scope{}, forbidden("access_denied", "Access denied")
		}
		return scope{client: id}, nil
	case colGroup:
		id, err := strconv.ParseInt(rt.realmRef, 10, 64)
		if me {
			id, err = p.user.int("extension_group_id"), nil
		}
		g, ok := s.w.cols[colGroup].get(id)
		if err != nil || !ok {
			return scope{}, notFound()
		}
		if g.int("client_id") != p.client || (p.level() != colClient && p.user.int("extension_group_id") != id) {
			return scope{}, forbidden("access_denied", "Access denied")
		}
		return scope{client: p.client, group: id}, nil
	default: // colExtension
		ext, ok := s.extensionByRef(p, rt.realmRef)
		if !ok {
			return scope{}, notFound()
		}
		allowed := ext.int("client_id") == p.client
		switch p.level() {
		case colGroup:
			allowed = allowed && ext["extension_group_id"] != nil && ext.int("extension_group_id") == p.user.int("extension_group_id")
		case colExtension:
			allowed = allowed && ext.int("id") == p.user.int("extension_id")
		}
		if !allowed {
			return scope{}, forbidden("access_denied", "Access denied")
		}
		return scope{client: p.client, ext: ext}, nil
	}
}

// extensionByRef finds the extension of an extension-realm id: a number, @me, or the name forms
// @<full name> (@0003*101) and @<short name> (@101), which resolve inside the principal's client.
func (s *Server) extensionByRef(p principal, ref string) (object, bool) {
	exts := s.w.cols[colExtension]
	switch {
	case ref == "@me":
		return exts.get(p.user.int("extension_id"))
	case strings.HasPrefix(ref, "@"):
		c, _ := s.w.cols[colClient].get(p.client)
		full := strings.TrimPrefix(ref, "@")
		if !strings.Contains(full, "*") {
			full = c.str("prefix") + "*" + full
		}
		return s.extensionByName(p.client, full)
	default:
		id, err := strconv.ParseInt(ref, 10, 64)
		if err != nil {
			return nil, false
		}
		return exts.get(id)
	}
}

func (s *Server) extensionByName(client int64, full string) (object, bool) {
	id, found := s.w.extNames[client][full]
	if !found {
		return nil, false
	}
	return s.w.cols[colExtension].get(id)
}
