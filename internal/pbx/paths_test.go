package pbx

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEndpoints(t *testing.T) {
	type want struct {
		Path, Template string
		Err            bool
	}
	id := int64(1001)
	cases := map[string]struct {
		reason string
		res    resource
		realm  Realm
		id     *int64
		want   want
	}{
		"Collection": {
			reason: "Collections end with a slash.",
			res:    resExtension, realm: ClientRealm(1),
			want: want{Path: "/api/ver1.0/client/1/extension/", Template: "/client/{realm_id}/extension/"},
		},
		"Object": {
			reason: "Single objects do not end with a slash.",
			res:    resExtension, realm: ClientRealm(1), id: &id,
			want: want{Path: "/api/ver1.0/client/1/extension/1001", Template: "/client/{realm_id}/extension/{id}"},
		},
		"Me": {
			reason: "@me stands for the user's own object.",
			res:    resGroup, realm: MeRealm(RealmClient),
			want: want{Path: "/api/ver1.0/client/@me/extension_group/", Template: "/client/{realm_id}/extension_group/"},
		},
		"Singleton": {
			reason: "A singleton such as phone/ ends with a slash, like a collection.",
			res:    resPhone, realm: ExtensionRealm(1001),
			want: want{Path: "/api/ver1.0/extension/1001/phone/", Template: "/extension/{realm_id}/phone/"},
		},
		"FullNameRealm": {
			reason: "@<full name> keeps the * literal, as the core rules write it; the template hides the name.",
			res:    resEvent, realm: ExtensionNameRealm("0003*101"),
			want: want{Path: "/api/ver1.0/extension/@0003*101/event/", Template: "/extension/{realm_id}/event/"},
		},
		"ShortNameRealm": {
			reason: "@<short name> is the number alone.",
			res:    resPhone, realm: ExtensionNameRealm("101"),
			want: want{Path: "/api/ver1.0/extension/@101/phone/", Template: "/extension/{realm_id}/phone/"},
		},
		"GroupRealm": {
			reason: "The extension-group realm reaches its members.",
			res:    resExtension, realm: ExtensionGroupRealm(101), id: &id,
			want: want{Path: "/api/ver1.0/extension_group/101/extension/1001", Template: "/extension_group/{realm_id}/extension/{id}"},
		},
		"NoRealm": {
			reason: "/user/ and /timezone/ have no realm.",
			res:    resUser,
			want:   want{Path: "/api/ver1.0/user/", Template: "/user/"},
		},
		"WrongRealm": {
			reason: "A resource outside its realms never reaches the network.",
			res:    resPhone, realm: ClientRealm(1),
			want: want{Err: true},
		},
		"NameOutsideExtensionRealm": {
			reason: "@name exists only in the extension realm.",
			res:    resExtension, realm: Realm{Kind: RealmClient, ID: "@acme"},
			want: want{Err: true},
		},
		"MalformedID": {
			reason: "A realm id is a number, @me or @name.",
			res:    resExtension, realm: Realm{Kind: RealmClient, ID: "1/../2"},
			want: want{Err: true},
		},
		"EmptyRealm": {
			reason: "A realm resource without a realm is refused.",
			res:    resExtension,
			want:   want{Err: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ep := tc.res.collection(tc.realm)
			if tc.id != nil {
				ep = tc.res.object(tc.realm, *tc.id)
			}
			got := want{Path: ep.path, Template: ep.template, Err: ep.err != nil}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
