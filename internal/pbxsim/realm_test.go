package pbxsim_test

import (
	"net/http"
	"testing"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// twoTenants is the demo tenant plus a second client, with users of every level in client 1:
// group 10 has the group user, and the extension user owns extension id 303001 (the first created).
func twoTenants() pbxsim.Config {
	cfg := pbxsim.DemoConfig()
	c := &cfg.Clients[0]
	c.Groups = []pbxsim.GroupConfig{{ID: 10, Name: "Group ten"}}
	c.Users = append(c.Users,
		pbxsim.UserConfig{Login: "group-user", Password: "pw", Level: "extension_group", OwnerID: 10},
		pbxsim.UserConfig{Login: "ext-user", Password: "pw", Level: "extension", OwnerID: 303001},
	)
	c.Apps = append(c.Apps,
		pbxsim.AppConfig{ClientID: "group-app", ClientSecret: pbxsim.DemoAppSecret, Type: "trusted", User: "group-user"},
		pbxsim.AppConfig{ClientID: "ext-app", ClientSecret: pbxsim.DemoAppSecret, Type: "trusted", User: "ext-user"},
	)
	cfg.Clients = append(cfg.Clients, pbxsim.ClientConfig{
		ID: 2, Name: "Other", Prefix: "0009", ExtensionLen: 3, Domain: "other.local",
		Users: []pbxsim.UserConfig{{Login: "other-admin", Password: "pw"}},
		Apps:  []pbxsim.AppConfig{{ClientID: "other-app", ClientSecret: pbxsim.DemoAppSecret, Type: "trusted", User: "other-admin"}},
	})
	return cfg
}

func TestRealms(t *testing.T) {
	e := newEnv(t, twoTenants(), pbxsim.WithStrictSlashes())
	admin := e.as(pbxsim.DemoTrustedAppID)
	// 303001 in group 10 (owned by ext-user), 303002 outside any group.
	must(t, admin.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101", "extension_group_id": 10}), http.StatusCreated)
	must(t, admin.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "102"}), http.StatusCreated)
	other := e.as("other-app")
	must(t, other.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated)
	group, ext := e.as("group-app"), e.as("ext-app")

	type want struct {
		status int
		code   string // the PBX's "status" field
	}
	cases := map[string]struct {
		reason string
		as     caller
		method string
		path   string
		want   want
	}{
		"ClientMe":                  {reason: "A client user uses @me in the client realm.", as: admin, method: http.MethodGet, path: "/client/@me/extension/", want: want{status: 200}},
		"ClientByID":                {reason: "The numeric realm id works too.", as: admin, method: http.MethodGet, path: "/client/1/extension/", want: want{status: 200}},
		"OtherClient":               {reason: "Nobody reaches another client's objects.", as: admin, method: http.MethodGet, path: "/client/2/extension/", want: want{status: 403, code: "access_denied"}},
		"MissingClient":             {reason: "A client that does not exist.", as: admin, method: http.MethodGet, path: "/client/99/extension/", want: want{status: 404, code: "client_not_found"}},
		"OtherClientsExtension":     {reason: "An extension of another client is out of reach.", as: admin, method: http.MethodGet, path: "/extension/303003/phone/", want: want{status: 403, code: "access_denied"}},
		"ClientUserLowerRealm":      {reason: "A client user may use the extension realm.", as: admin, method: http.MethodGet, path: "/extension/303001/phone/", want: want{status: 200}},
		"ClientUserFullName":        {reason: "The extension realm takes @<full name>.", as: admin, method: http.MethodGet, path: "/extension/@0003*102/phone/", want: want{status: 200}},
		"ClientUserShortName":       {reason: "The extension realm takes @<short name>.", as: admin, method: http.MethodGet, path: "/extension/@102/phone/", want: want{status: 200}},
		"ClientUserUnknownName":     {reason: "An unknown name is a 404.", as: admin, method: http.MethodGet, path: "/extension/@199/phone/", want: want{status: 404}},
		"ClientUserMeInExtension":   {reason: "A client user may not use @me in the extension realm.", as: admin, method: http.MethodGet, path: "/extension/@me/phone/", want: want{status: 403, code: "access_denied"}},
		"ClientUserGroupRealm":      {reason: "A client user may use the group realm of its client.", as: admin, method: http.MethodGet, path: "/extension_group/10/extension/", want: want{status: 200}},
		"GroupUserMe":               {reason: "A group user lists its group's extensions.", as: group, method: http.MethodGet, path: "/extension_group/@me/extension/", want: want{status: 200}},
		"GroupUserClientRealm":      {reason: "A group user may not use the client realm.", as: group, method: http.MethodGet, path: "/client/1/extension/", want: want{status: 403, code: "access_denied"}},
		"GroupUserOwnExtension":     {reason: "A group user reaches extensions of its group.", as: group, method: http.MethodGet, path: "/extension/303001/phone/", want: want{status: 200}},
		"GroupUserForeignExtension": {reason: "A group user does not reach extensions outside its group.", as: group, method: http.MethodGet, path: "/extension/303002/phone/", want: want{status: 403, code: "access_denied"}},
		"ExtensionUserMe":           {reason: "An extension user uses @me in the extension realm.", as: ext, method: http.MethodGet, path: "/extension/@me/phone/", want: want{status: 200}},
		"ExtensionUserOther":        {reason: "An extension user reaches only its own extension.", as: ext, method: http.MethodGet, path: "/extension/303002/phone/", want: want{status: 403, code: "access_denied"}},
		"ExtensionUserClientRealm":  {reason: "An extension user may not use the client realm.", as: ext, method: http.MethodGet, path: "/client/@me/extension/", want: want{status: 403, code: "access_denied"}},
		"ReadOnlyWrite":             {reason: "A read_only user may only send GET requests.", as: e.as(pbxsim.DemoReadOnlyAppID), method: http.MethodPost, path: "/client/@me/extension_group/", want: want{status: 403, code: "user_access_type_deny"}},
		"ReadOnlyRead":              {reason: "A read_only user reads.", as: e.as(pbxsim.DemoReadOnlyAppID), method: http.MethodGet, path: "/client/@me/extension_group/", want: want{status: 200}},
		"CallAPIWrite":              {reason: "A Call API app may not change the configuration.", as: e.as(pbxsim.DemoCallAPIAppID), method: http.MethodPost, path: "/client/@me/extension_group/", want: want{status: 403, code: "app_access_type_deny"}},
		"UnknownRealm":              {reason: "Only the three realms exist.", as: admin, method: http.MethodGet, path: "/dealer/1/extension/", want: want{status: 404}},
		"UnknownResource":           {reason: "Unknown resources are a 404.", as: admin, method: http.MethodGet, path: "/client/@me/spaceship/", want: want{status: 404}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var body any
			if tc.method == http.MethodPost {
				body = map[string]any{"name": "G"}
			}
			r := tc.as.do(tc.method, tc.path, body)
			if r.status != tc.want.status {
				t.Fatalf("%s\nwant %d, got %d: %s", tc.reason, tc.want.status, r.status, r.body)
			}
			if tc.want.code != "" {
				if got := r.obj(t)["status"]; got != tc.want.code {
					t.Errorf("%s\nwant status %q, got %v", tc.reason, tc.want.code, got)
				}
			}
		})
	}

	t.Run("WhoAmI", func(t *testing.T) {
		for _, c := range []struct {
			as    caller
			key   string
			value float64
		}{{admin, "client_id", 1}, {group, "extension_group_id", 10}, {ext, "extension_id", 303001}} {
			me := must(t, c.as.do(http.MethodGet, "/user/", nil), http.StatusOK).obj(t)
			if me[c.key] != c.value {
				t.Errorf("GET /user/: want %s=%v, got %v", c.key, c.value, me)
			}
			set := 0
			for _, k := range []string{"client_id", "extension_group_id", "extension_id"} {
				if me[k] != nil {
					set++
				}
			}
			if set != 1 || me["login"] == nil || me["access"] == nil || me["password"] != nil {
				t.Errorf("GET /user/: want exactly one owner key, login and access, no password; got %v", me)
			}
		}
	})
}
