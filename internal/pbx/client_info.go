package pbx

import (
	"context"
	"encoding/json"
)

// ClientInfo is the information about a PBX client (UPSTREAM-API 3.9): read-only for a
// client-level user.
type ClientInfo struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Prefix is the client prefix, the 0003 of the extension name 0003*101.
	Prefix       string  `json:"prefix"`
	Domain       string  `json:"domain"`
	DomainPrefix *string `json:"domain_prefix"`
	// ExtensionLen is the digit count of every extension name in the client; the PBX's field
	// table calls it a string, so both forms are read.
	ExtensionLen LooseInt     `json:"extension_len"`
	Timezone     string       `json:"timezone"`
	CreateDate   string       `json:"create_date"`
	Type         string       `json:"type"` // J (legal entity) or F (individual)
	Email        *string      `json:"email"`
	Language     *string      `json:"language"`
	ExtraParams  *LooseString `json:"extra_params"`
	RegStatusLog bool         `json:"reg_status_log"`
	GeoList      *string      `json:"geo_list"`
	DialRuleID   *int64       `json:"dial_rule_id"`
}

// Limits are the client's limits (GET /client/{id}/limit/). ASSUMPTION: the PBX does not
// document the field names (UPSTREAM-API 5.5); the typed fields are those of the simulator, and
// Raw holds every field as the PBX sent it.
type Limits struct {
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
	// Raw is the whole answer, for fields the typed ones miss.
	Raw map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the typed fields and keeps the whole object in Raw.
func (l *Limits) UnmarshalJSON(b []byte) error {
	type plain Limits
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &p.Raw); err != nil {
		return err
	}
	*l = Limits(p)
	return nil
}

// ClientInfoService reads the client's information and limits. Both need a client realm.
type ClientInfoService service

// Get returns the client's information: GET /client/{id}/client/ (a singleton).
func (s *ClientInfoService) Get(ctx context.Context, realm Realm) (*ClientInfo, error) {
	return get[ClientInfo](ctx, s.c, resClient.collection(realm))
}

// Limits returns the client's limits: GET /client/{id}/limit/ (a singleton). The client keeps
// the last limits it read, to bound its lists of extensions, groups and event subscriptions by
// them (a PBX that answers page after page stops at about twice the limit).
func (s *ClientInfoService) Limits(ctx context.Context, realm Realm) (*Limits, error) {
	l, err := get[Limits](ctx, s.c, resLimit.collection(realm))
	if err != nil {
		return nil, err
	}
	s.c.limits.Store(l)
	return l, nil
}
