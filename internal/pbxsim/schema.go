package pbxsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// object is one stored PBX object: JSON field names mapped to int64, string, bool or nil values.
// Objects are built and checked only through a schema, so they always hold the documented fields.
type object map[string]any

// clone returns a shallow copy; values are immutable scalars, so it is a full copy.
func (o object) clone() object {
	c := make(object, len(o))
	for k, v := range o {
		c[k] = v
	}
	return c
}

func (o object) int(name string) int64 {
	v, _ := o[name].(int64)
	return v
}

func (o object) str(name string) string {
	v, _ := o[name].(string)
	return v
}

// kind is the JSON type of a field.
type kind int

const (
	kindInt kind = iota
	kindString
	kindBool
)

func (k kind) String() string {
	switch k {
	case kindInt:
		return "an integer"
	case kindBool:
		return "a boolean"
	default:
		return "a string"
	}
}

// field describes one field of a resource as the PBX documents it.
type field struct {
	name     string
	kind     kind
	nullable bool
	// create and update say whether POST and PUT may set the field; the others are read-only.
	create, update bool
	required       bool
	// def is the value a POST without the field gets (nil for nullable fields).
	def    any
	enum   []string
	maxLen int
	// writeOnly fields (passwords) are stored but never returned.
	writeOnly bool
}

// schema is the field list of one resource.
type schema []field

func (s schema) field(name string) (field, bool) {
	for _, f := range s {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// badRequest is a 400 answer: the PBX's message names the offending field.
type badRequest struct{ message string }

func (e *badRequest) Error() string { return e.message }

func badRequestf(format string, args ...any) error {
	return &badRequest{message: fmt.Sprintf(format, args...)}
}

// errMalformed is the answer to a body that is not a JSON object: the documented "Bad Request".
var errMalformed = &badRequest{message: "Bad Request"}

// decodeBody parses a request body into raw fields. A body that is not a JSON object is malformed.
func decodeBody(body []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil || dec.More() {
		return nil, errMalformed
	}
	return raw, nil
}

// value converts one raw JSON value to the field's kind.
func (f field) value(raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		if !f.nullable {
			return nil, badRequestf("%s: must not be null", f.name)
		}
		return nil, nil
	}
	switch f.kind {
	case kindInt:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, badRequestf("%s: must be %s", f.name, f.kind)
		}
		// PBX ids arrive as numbers; the API is loose and also takes numeric strings.
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return nil, badRequestf("%s: must be %s", f.name, f.kind)
		}
		return i, nil
	case kindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, badRequestf("%s: must be %s", f.name, f.kind)
		}
		return b, nil
	default:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			// ASSUMPTION (UPSTREAM-API 4.15): loosely typed string fields such as
			// did_as_transfer_caller_id also take a number, stored as its decimal text.
			var n json.Number
			if json.Unmarshal(raw, &n) != nil {
				return nil, badRequestf("%s: must be %s", f.name, f.kind)
			}
			s = n.String()
		}
		if f.maxLen > 0 && len(s) > f.maxLen {
			return nil, badRequestf("%s: must be at most %d characters", f.name, f.maxLen)
		}
		if len(f.enum) > 0 && !slices.Contains(f.enum, s) {
			return nil, badRequestf("%s: must be one of %s", f.name, strings.Join(f.enum, ", "))
		}
		return s, nil
	}
}

// defaults returns a new object with every field at its default.
func (s schema) defaults() object {
	o := make(object, len(s))
	for _, f := range s {
		o[f.name] = f.def
	}
	return o
}

// apply checks a POST (create) or PUT (update) body against the schema and returns the new object.
// For a PUT, only the fields given change, and null clears a nullable field. Read-only fields are
// accepted when they repeat the stored value and rejected otherwise. Unknown fields are ignored.
// ASSUMPTION (UPSTREAM-API 4.15): the PBX ignores fields it does not know, as the SDKs' loose
// models suggest.
func (s schema) apply(old object, raw map[string]json.RawMessage, create bool) (object, error) {
	var obj object
	if create {
		for _, f := range s {
			if _, ok := raw[f.name]; f.required && !ok {
				return nil, badRequestf("%s: is required", f.name)
			}
		}
		obj = s.defaults()
	} else {
		obj = old.clone()
	}
	// Fields are applied in schema order so that the first error is the same on every run.
	for _, f := range s {
		r, ok := raw[f.name]
		if !ok {
			continue
		}
		v, err := f.value(r)
		if err != nil {
			return nil, err
		}
		writable := f.update
		if create {
			writable = f.create
		}
		if !writable {
			if !create && v == old[f.name] {
				continue
			}
			if create {
				// Server-assigned fields (id, client_id, create_date) in a POST body are ignored.
				continue
			}
			return nil, badRequestf("%s: cannot be changed", f.name)
		}
		obj[f.name] = v
	}
	return obj, nil
}

// public returns the object as the API shows it: without write-only fields.
func (s schema) public(o object) object {
	hidden := false
	for _, f := range s {
		if f.writeOnly {
			hidden = true
			break
		}
	}
	if !hidden {
		return o
	}
	c := o.clone()
	for _, f := range s {
		if f.writeOnly {
			delete(c, f.name)
		}
	}
	return c
}

// filter is a parsed list query: equality filters on documented fields, and the page to return.
type filter struct {
	match   map[string][]any
	page    int
	perPage int
}

// Pagination defaults. ASSUMPTION (DESIGN 6): page is 1-based, per_page defaults to 50 and may be
// at most 500; without them the first 50 objects come back.
const (
	defaultPerPage = 50
	maxPerPage     = 500
)

// parseFilter reads the list query parameters. Every field of the schema can be a filter, also in
// PHP's array forms: extension_id[]=1&extension_id[]=2, and the indexed
// extension_id[0]=1&extension_id[1]=2 that PHP's http_build_query writes for an array. An unknown
// parameter is a 400.
// ASSUMPTION: the PBX rejects unknown filters rather than ignoring them; this holds clients to
// the documented field names.
func (s schema) parseFilter(q url.Values) (filter, error) {
	fl := filter{match: map[string][]any{}, page: 1, perPage: defaultPerPage}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, key := range names {
		vals := q[key]
		switch key {
		case "page", "per_page":
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 1 || (key == "per_page" && n > maxPerPage) {
				if key == "page" {
					return fl, badRequestf("page: must be a positive integer")
				}
				return fl, badRequestf("per_page: must be an integer from 1 to %d", maxPerPage)
			}
			if key == "page" {
				fl.page = n
			} else {
				fl.perPage = n
			}
			continue
		}
		name := arrayName(key)
		f, ok := s.field(name)
		if !ok || f.writeOnly {
			return fl, badRequestf("%s: unknown filter", name)
		}
		for _, v := range vals {
			var want any = v
			switch {
			case v == "null" && f.nullable:
				want = nil
			case f.kind == kindInt:
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return fl, badRequestf("%s: must be %s", name, f.kind)
				}
				want = n
			case f.kind == kindBool:
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fl, badRequestf("%s: must be %s", name, f.kind)
				}
				want = b
			}
			fl.match[name] = append(fl.match[name], want)
		}
	}
	return fl, nil
}

// arrayName returns the field name of a query key in PHP's array forms, name[] or name[<index>],
// and any other key as it is.
func arrayName(key string) string {
	base, index, found := strings.Cut(key, "[")
	if found && strings.HasSuffix(index, "]") {
		if i := strings.TrimSuffix(index, "]"); i == "" || isDigits(i) {
			return base
		}
	}
	return key
}

func (fl filter) matches(o object) bool {
	for name, wants := range fl.match {
		if !slices.Contains(wants, o[name]) {
			return false
		}
	}
	return true
}
