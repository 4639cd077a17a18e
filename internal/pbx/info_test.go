package pbx

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestUsersMe(t *testing.T) {
	f := newFixture(t)
	cases := map[string]struct {
		reason    string
		app       string
		wantLogin string
		wantAcc   string
	}{
		"Admin":    {reason: "A trusted app acts for the user who registered it.", app: pbxsim.DemoTrustedAppID, wantLogin: pbxsim.DemoAdminLogin, wantAcc: AccessFull},
		"ReadOnly": {reason: "A read-only user says so.", app: pbxsim.DemoReadOnlyAppID, wantLogin: pbxsim.DemoReadOnlyLogin, wantAcc: AccessReadOnly},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := f.client(t, WithCredentials(tc.app, pbxsim.DemoAppSecret))
			me, err := c.Users.Me(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			realm, ok := me.Realm()
			type view struct {
				Login, Access string
				Realm         Realm
				OK            bool
			}
			got := view{Login: me.Login, Access: me.Access, Realm: realm, OK: ok}
			want := view{Login: tc.wantLogin, Access: tc.wantAcc, Realm: demo, OK: true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestUserRealm(t *testing.T) {
	id := int64(42)
	cases := map[string]struct {
		reason string
		user   User
		want   Realm
		ok     bool
	}{
		"Client":    {reason: "client_id gives the client realm.", user: User{ClientID: &id}, want: ClientRealm(42), ok: true},
		"Group":     {reason: "extension_group_id gives the group realm.", user: User{ExtensionGroupID: &id}, want: ExtensionGroupRealm(42), ok: true},
		"Extension": {reason: "extension_id gives the extension realm.", user: User{ExtensionID: &id}, want: ExtensionRealm(42), ok: true},
		"Dealer":    {reason: "A dealer has none of the three.", user: User{DealerID: &id}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := tc.user.Realm()
			if diff := cmp.Diff(tc.want, got); diff != "" || ok != tc.ok {
				t.Errorf("%s\nRealm() ok=%t (want %t): -want, +got:\n%s", tc.reason, ok, tc.ok, diff)
			}
		})
	}
}

func TestClientInfo(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	for name, realm := range map[string]Realm{"ByID": demo, "Me": MeRealm(RealmClient)} {
		t.Run(name, func(t *testing.T) {
			info, err := c.ClientInfo.Get(ctx, realm)
			if err != nil {
				t.Fatal(err)
			}
			type view struct {
				ID           int64
				Prefix       string
				ExtensionLen LooseInt
				Domain       string
			}
			got := view{info.ID, info.Prefix, info.ExtensionLen, info.Domain}
			if diff := cmp.Diff(view{1, "0003", 3, "demo.sip.pbxsim.local"}, got); diff != "" {
				t.Errorf("Get(%s): -want, +got:\n%s", realm, diff)
			}
		})
	}

	mustCreateExtension(t, c, "101")
	limits, err := c.ClientInfo.Limits(ctx, demo)
	if err != nil {
		t.Fatal(err)
	}
	if limits.ExtensionCount != 1 || limits.ExtensionLimit == 0 || len(limits.Raw) == 0 {
		t.Errorf("Limits: got %+v, want one extension counted, a limit, and the raw fields", limits)
	}
}

func TestTimezones(t *testing.T) {
	f := newFixture(t)
	tzs, err := f.client(t).Timezones.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tzs, Timezone{Name: "Europe/Moscow"}) || !slices.Contains(tzs, Timezone{Name: "UTC"}) {
		t.Errorf("List: got %v, want Europe/Moscow and UTC among them", tzs)
	}
}
