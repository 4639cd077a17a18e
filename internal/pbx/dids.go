package pbx

import (
	"context"
	"iter"
	"net/http"
	"net/url"
)

// DID is an external number of the client (UPSTREAM-API 3.4). The provider allocates DIDs; only
// their routing can change, so the service has no create or delete.
type DID struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"` // the number, digits only
	Domain   *string `json:"domain"`
	ClientID int64   `json:"client_id"`
	// ExtensionID is the extension that receives calls to the number; nil when unassigned.
	ExtensionID        *int64  `json:"extension_id"`
	AllowMessage       bool    `json:"allow_message"`
	MessageExtensionID *int64  `json:"message_extension_id"`
	Comment            *string `json:"comment"`
	CreateDate         string  `json:"create_date"`
}

// DIDUpdate is the body of a DID's PUT: only the set fields change. ExtensionID routes the
// number to an extension; Null unassigns it.
type DIDUpdate struct {
	ExtensionID        Opt[int64]  `json:"extension_id,omitzero"`
	AllowMessage       Opt[bool]   `json:"allow_message,omitzero"`
	MessageExtensionID Opt[int64]  `json:"message_extension_id,omitzero"`
	Comment            Opt[string] `json:"comment,omitzero"`
}

// DIDFilter selects the DIDs a list returns; the zero value selects all.
type DIDFilter struct {
	// Name matches the number exactly.
	Name string
	// ExtensionID matches the DIDs routed to an extension; Null matches unassigned ones.
	ExtensionID Opt[int64]
}

func (f DIDFilter) query() url.Values {
	q := url.Values{}
	setString(q, "name", f.Name)
	setOpt(q, "extension_id", f.ExtensionID)
	return q
}

// DIDsService lists external numbers and routes them: /client/{id}/did/.
type DIDsService service

func didID(d *DID) int64 { return d.ID }

// List returns the DIDs that match f, paging through the whole collection.
func (s *DIDsService) List(ctx context.Context, realm Realm, f DIDFilter) iter.Seq2[DID, error] {
	return list(ctx, s.c, resDID.collection(realm), f.query(), didID)
}

// ListAll returns every DID that matches f.
func (s *DIDsService) ListAll(ctx context.Context, realm Realm, f DIDFilter) ([]DID, error) {
	return collect(s.List(ctx, realm, f))
}

// Get returns one DID.
func (s *DIDsService) Get(ctx context.Context, realm Realm, id int64) (*DID, error) {
	return get[DID](ctx, s.c, resDID.object(realm, id))
}

// Update changes the set fields of a DID and returns it as the PBX stored it.
func (s *DIDsService) Update(ctx context.Context, realm Realm, id int64, in DIDUpdate) (*DID, error) {
	return send[DID](ctx, s.c, http.MethodPut, resDID.object(realm, id), in)
}
