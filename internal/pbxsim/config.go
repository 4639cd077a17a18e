package pbxsim

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config is the world a Server starts with when it has no saved state: tenants (PBX clients) with
// their users, OAuth2 apps and DIDs, plus server-wide settings. cmd/pbxsim reads it from a JSON file
// with --config; DemoConfig is the default.
type Config struct {
	// TokenLifetimeSeconds is the expires_in of issued tokens; 0 means 3600, as documented.
	TokenLifetimeSeconds int `json:"token_lifetime_seconds,omitempty"`
	// FirstIDs sets the ids the simulator's counters start at; unset ones keep their defaults.
	FirstIDs FirstIDs `json:"first_ids,omitzero"`
	// Assumptions switches behaviour that the PBX's public sources leave open; the zero value is
	// the simulator's default choice.
	Assumptions Assumptions `json:"assumptions,omitzero"`
	// Clients are the PBX clients (tenants).
	Clients []ClientConfig `json:"clients"`
}

// FirstIDs are the ids of the first user, extension group, extension, DID and event subscription
// the simulator makes; 0 keeps the default. The defaults are realistic sizes, all above 65535:
// users 72001, extension groups 85201, extensions 303001, DIDs 470001, events 612001. New
// extension groups always get ids above those of the configured groups (ClientConfig.Groups).
type FirstIDs struct {
	Users           int64 `json:"users,omitempty"`
	ExtensionGroups int64 `json:"extension_groups,omitempty"`
	Extensions      int64 `json:"extensions,omitempty"`
	DIDs            int64 `json:"dids,omitempty"`
	Events          int64 `json:"events,omitempty"`
}

// ClientConfig is one PBX client.
type ClientConfig struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Prefix is the client prefix put before extension names (the 0003 of 0003*101).
	Prefix string `json:"prefix"`
	// ExtensionLen is the digit count of every extension name of the client.
	ExtensionLen int    `json:"extension_len"`
	Domain       string `json:"domain"`
	DomainPrefix string `json:"domain_prefix,omitempty"`
	Timezone     string `json:"timezone,omitempty"`
	// Blocked clients get 403 user_blocked on every request.
	Blocked bool `json:"blocked,omitempty"`
	// RateLimitPerHour is the client's hourly request budget; 0 means 10000.
	RateLimitPerHour int `json:"rate_limit_per_hour,omitempty"`
	// Limits caps the numbers of objects; 0 means the default of each.
	Limits LimitConfig   `json:"limits,omitzero"`
	Users  []UserConfig  `json:"users"`
	Apps   []AppConfig   `json:"apps"`
	DIDs   []DIDConfig   `json:"dids,omitempty"`
	Groups []GroupConfig `json:"groups,omitempty"`
}

// Assumptions switch behaviour the public sources do not settle (each is an ASSUMPTION in
// UPSTREAM-API's sense), so a test can run against either reading. false keeps the default.
type Assumptions struct {
	// RejectEmptyPhonePassword answers a PUT of the phone settings with "password": "" with a 400.
	// ASSUMPTION (UPSTREAM-API 3.3, 5.6): the password rules are not documented; by default an
	// empty SIP password is accepted, as the simulator always did.
	RejectEmptyPhonePassword bool `json:"reject_empty_phone_password,omitempty"`
	// ZeroIDIsNone reads 0 as "none" (null) in the reference fields extension_group_id of
	// extensions and extension_id and message_extension_id of DIDs, as some APIs do for optional
	// ids. ASSUMPTION (UPSTREAM-API 3.1, 3.4): only null is documented as "none"; by default 0
	// names an object that does not exist, a 400.
	ZeroIDIsNone bool `json:"zero_id_is_none,omitempty"`
}

// LimitConfig caps the numbers of a client's objects (the /limit/ resource); 0 means the default.
// A POST over a limit is a 400 whose message names the limit. ASSUMPTION (UPSTREAM-API 3.9, 5.5):
// the field names of /limit/ are not documented; the simulator answers extension_limit,
// extension_group_limit, event_limit and user_limit, each with its *_count.
type LimitConfig struct {
	Extensions      int `json:"extensions,omitempty"`
	ExtensionGroups int `json:"extension_groups,omitempty"`
	// Events caps the event subscriptions of all the client's extensions together (the documented
	// limit of monitored events); the default is 1000.
	Events int `json:"events,omitempty"`
	Users  int `json:"users,omitempty"`
}

// UserConfig is one PBX user. Level is client (the default), extension_group or extension; a
// group- or extension-level user names its group or extension by the id it is created with.
type UserConfig struct {
	Login    string `json:"login"`
	Password string `json:"password"`
	Level    string `json:"level,omitempty"`
	// OwnerID is the extension group or extension id of a lower-level user.
	OwnerID int64 `json:"owner_id,omitempty"`
	// Access is full (the default) or read_only.
	Access string `json:"access,omitempty"`
}

// AppConfig is one registered OAuth2 application.
type AppConfig struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// Type is trusted (client_credentials), password_credentials (password) or public.
	Type string `json:"type"`
	// Access is all (the default) or call_api, which may not change the PBX configuration.
	Access string `json:"access,omitempty"`
	// User is the login of the user a trusted app acts for (the user who registered it).
	User string `json:"user,omitempty"`
}

// DIDConfig is one external number the provider allocated to the client.
type DIDConfig struct {
	Name    string `json:"name"`
	Comment string `json:"comment,omitempty"`
}

// GroupConfig is an extension group that exists from the start (so lower-level users can own it).
type GroupConfig struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Demo credentials of DemoConfig, printed by cmd/pbxsim and used by config/samples.
const (
	DemoClientID       = 1
	DemoPrefix         = "0003"
	DemoTrustedAppID   = "demo-trusted"
	DemoPasswordAppID  = "demo-password"
	DemoAppSecret      = "demo-secret"
	DemoAdminLogin     = "demo-admin"
	DemoAdminPassword  = "demo-admin-password"
	DemoReadOnlyAppID  = "demo-readonly"
	DemoReadOnlyLogin  = "demo-viewer"
	DemoCallAPIAppID   = "demo-callapi"
	defaultRateLimit   = 10000
	defaultTokenExpiry = 3600
)

// DemoConfig is the demo tenant: client 1 with prefix 0003 and three-digit extension names, the
// client admin demo-admin, the trusted app demo-trusted and the password_credentials app
// demo-password (both with secret demo-secret), a read-only trusted app demo-readonly, a call_api
// trusted app demo-callapi, and five DIDs.
func DemoConfig() Config {
	return Config{Clients: []ClientConfig{{
		ID:           DemoClientID,
		Name:         "Demo Ltd",
		Prefix:       DemoPrefix,
		ExtensionLen: 3,
		Domain:       "demo.sip.pbxsim.local",
		DomainPrefix: "10001",
		Timezone:     "Europe/Moscow",
		Users: []UserConfig{
			{Login: DemoAdminLogin, Password: DemoAdminPassword},
			{Login: DemoReadOnlyLogin, Password: "demo-viewer-password", Access: "read_only"},
		},
		Apps: []AppConfig{
			{ClientID: DemoTrustedAppID, ClientSecret: DemoAppSecret, Type: "trusted", User: DemoAdminLogin},
			{ClientID: DemoPasswordAppID, ClientSecret: DemoAppSecret, Type: "password_credentials"},
			{ClientID: DemoReadOnlyAppID, ClientSecret: DemoAppSecret, Type: "trusted", User: DemoReadOnlyLogin},
			{ClientID: DemoCallAPIAppID, ClientSecret: DemoAppSecret, Type: "trusted", Access: "call_api", User: DemoAdminLogin},
		},
		DIDs: []DIDConfig{
			{Name: "74950000001", Comment: "Main line"},
			{Name: "74950000002", Comment: "Sales"},
			{Name: "74950000003", Comment: "Support"},
			{Name: "74950000004"},
			{Name: "74950000005"},
		},
	}}}
}

// LoadConfig reads a Config from a JSON file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("parsing %s: %w", path, err)
	}
	return c, nil
}
