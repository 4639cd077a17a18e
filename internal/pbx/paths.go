package pbx

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// apiPrefix is the path of the PBX API under the base URL (UPSTREAM-API 2.1).
const apiPrefix = "/api/ver1.0"

// tokenPath is the OAuth2 token endpoint under the base URL; it is not under apiPrefix
// (UPSTREAM-API 1.2).
const tokenPath = "/oauth/token"

// RealmKind is an API section: the level of user a path acts at (UPSTREAM-API 1.4).
type RealmKind string

// The realms of the PBX API.
const (
	RealmClient         RealmKind = "client"
	RealmExtensionGroup RealmKind = "extension_group"
	RealmExtension      RealmKind = "extension"
)

// A Realm is the first part of a resource path, /{realm}/{realm_id}/: the API section (Kind)
// and the client, extension group or extension in it (ID). ID is a decimal id, "@me" (allowed
// only in the realm of the authorized user's own type), or in the extension realm "@" and the
// extension's full name (0003*101) or short name (101). Build realms with the constructors.
type Realm struct {
	Kind RealmKind
	ID   string
}

// ClientRealm is the realm of the client with the given id.
func ClientRealm(id int64) Realm { return Realm{Kind: RealmClient, ID: strconv.FormatInt(id, 10)} }

// ExtensionGroupRealm is the realm of the extension group with the given id.
func ExtensionGroupRealm(id int64) Realm {
	return Realm{Kind: RealmExtensionGroup, ID: strconv.FormatInt(id, 10)}
}

// ExtensionRealm is the realm of the extension with the given id; a client-level user may use it
// for the extension's sub-resources (phone settings, events).
func ExtensionRealm(id int64) Realm {
	return Realm{Kind: RealmExtension, ID: strconv.FormatInt(id, 10)}
}

// ExtensionNameRealm is the realm of the extension with the given full (0003*101) or short (101)
// name, the @name form of the core rules.
func ExtensionNameRealm(name string) Realm { return Realm{Kind: RealmExtension, ID: "@" + name} }

// MeRealm is the realm of the authorized user's own object: /{kind}/@me/. The PBX refuses it
// unless kind is the user's own level (User.Realm tells which).
func MeRealm(kind RealmKind) Realm { return Realm{Kind: kind, ID: "@me"} }

// String returns the realm as it appears in a path, without slashes around it.
func (r Realm) String() string { return string(r.Kind) + "/" + r.ID }

// validate checks the realm id's form, so that a malformed realm never reaches the network.
func (r Realm) validate() error {
	switch {
	case r.ID == "@me":
		return nil
	case strings.HasPrefix(r.ID, "@"):
		if r.Kind != RealmExtension || len(r.ID) == 1 || strings.Contains(r.ID, "/") {
			return fmt.Errorf("realm %s: @name is allowed only in the extension realm", r)
		}
		return nil
	case isDigits(r.ID):
		return nil
	}
	return fmt.Errorf("realm %q: the id must be a number, @me or @name", r.String())
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

// An endpoint is where one request goes: the escaped path under the base URL, and the path
// template that names it in metrics and logs without ids or names. An endpoint that cannot be
// built carries the reason in err, which Client.do returns before any network call.
type endpoint struct {
	path     string // /api/ver1.0/client/1/extension/1001
	template string // /client/{realm_id}/extension/{id}
	resource string // extension
	err      error
}

// A resource is one kind of object in the API: its path segment and the realms it lives in. A
// resource with no realms sits directly under the API prefix (/user/, /timezone/).
type resource struct {
	name   string
	realms []RealmKind
}

// The resources the client speaks to. The realms are those the sources show (UPSTREAM-API 3);
// ASSUMPTION: the extension-group realm's view of extensions
// (/extension_group/{id}/extension/) follows from the realm rules, and no source shows it.
var (
	resUser      = resource{name: "user"}
	resTimezone  = resource{name: "timezone"}
	resClient    = resource{name: "client", realms: []RealmKind{RealmClient}}
	resLimit     = resource{name: "limit", realms: []RealmKind{RealmClient}}
	resGroup     = resource{name: "extension_group", realms: []RealmKind{RealmClient}}
	resExtension = resource{name: "extension", realms: []RealmKind{RealmClient, RealmExtensionGroup}}
	resDID       = resource{name: "did", realms: []RealmKind{RealmClient}}
	resPhone     = resource{name: "phone", realms: []RealmKind{RealmExtension}}
	resEvent     = resource{name: "event", realms: []RealmKind{RealmExtension}}
)

// collection returns the endpoint of the resource's collection or, for a singleton such as
// phone/, the one object: both end with "/" (UPSTREAM-API 2.0).
func (res resource) collection(r Realm) endpoint {
	if len(res.realms) == 0 {
		return endpoint{path: apiPrefix + "/" + res.name + "/", template: "/" + res.name + "/", resource: res.name}
	}
	if !slices.Contains(res.realms, r.Kind) {
		return endpoint{err: fmt.Errorf("%s is not available in realm %s", res.name, r)}
	}
	if err := r.validate(); err != nil {
		return endpoint{err: err}
	}
	return endpoint{
		path:     apiPrefix + "/" + string(r.Kind) + "/" + escapeSegment(r.ID) + "/" + res.name + "/",
		template: "/" + string(r.Kind) + "/{realm_id}/" + res.name + "/",
		resource: res.name,
	}
}

// object returns the endpoint of one object of the resource: the collection path and the id,
// with no trailing slash (UPSTREAM-API 2.0).
func (res resource) object(r Realm, id int64) endpoint {
	ep := res.collection(r)
	if ep.err == nil {
		ep.path += strconv.FormatInt(id, 10)
		ep.template += "{id}"
	}
	return ep
}

// escapeSegment escapes one path segment but keeps "*" literal, as the core rules write
// extension names in paths (/extension/@1844*101/phone/). ASSUMPTION: the @name forms come from
// the core rules page only (UPSTREAM-API 5.14).
func escapeSegment(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "%2A", "*")
}
