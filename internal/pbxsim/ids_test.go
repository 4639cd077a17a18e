package pbxsim_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestFirstIDs(t *testing.T) {
	withIDs := func(f pbxsim.FirstIDs, groups ...pbxsim.GroupConfig) pbxsim.Config {
		cfg := pbxsim.DemoConfig()
		cfg.FirstIDs = f
		cfg.Clients[0].Groups = groups
		return cfg
	}
	type ids struct {
		User, Group, Extension, DID, Event float64
	}
	cases := map[string]struct {
		reason string
		cfg    pbxsim.Config
		want   ids
	}{
		"Defaults": {
			reason: "Ids have realistic sizes (five and six digits, above 65535) and a range per kind.",
			cfg:    pbxsim.DemoConfig(),
			want:   ids{User: 72001, Group: 85201, Extension: 303001, DID: 470001, Event: 612001},
		},
		"Configured": {
			reason: "first_ids sets the start of each counter.",
			cfg:    withIDs(pbxsim.FirstIDs{Users: 11, ExtensionGroups: 22, Extensions: 33, DIDs: 44, Events: 55}),
			want:   ids{User: 11, Group: 22, Extension: 33, DID: 44, Event: 55},
		},
		"PartlyConfigured": {
			reason: "Counters that first_ids leaves out keep their defaults.",
			cfg:    withIDs(pbxsim.FirstIDs{Extensions: 1001}),
			want:   ids{User: 72001, Group: 85201, Extension: 1001, DID: 470001, Event: 612001},
		},
		"ConfiguredGroupsBelow": {
			reason: "Configured groups with small ids keep them; new groups start at the default.",
			cfg:    withIDs(pbxsim.FirstIDs{}, pbxsim.GroupConfig{ID: 10, Name: "Ten"}),
			want:   ids{User: 72001, Group: 85201, Extension: 303001, DID: 470001, Event: 612001},
		},
		"ConfiguredGroupsAbove": {
			reason: "New groups get ids above the configured ones.",
			cfg:    withIDs(pbxsim.FirstIDs{}, pbxsim.GroupConfig{ID: 85219, Name: "Sales"}),
			want:   ids{User: 72001, Group: 85220, Extension: 303001, DID: 470001, Event: 612001},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, tc.cfg, pbxsim.WithStrictSlashes())
			c := e.as(pbxsim.DemoTrustedAppID)
			x := must(t, c.do(http.MethodPost, "/client/@me/extension/", map[string]any{"name": "101"}), http.StatusCreated).obj(t)
			got := ids{
				User:      must(t, c.do(http.MethodGet, "/user/", nil), http.StatusOK).obj(t)["id"].(float64),
				Group:     must(t, c.do(http.MethodPost, "/client/@me/extension_group/", map[string]any{"name": "New"}), http.StatusCreated).obj(t)["id"].(float64),
				Extension: x["id"].(float64),
				DID:       must(t, c.do(http.MethodGet, "/client/@me/did/", nil), http.StatusOK).list(t)[0]["id"].(float64),
				Event: must(t, c.do(http.MethodPost, "/extension/"+num(x["id"])+"/event/",
					map[string]any{"url": "https://h.example/", "event_type": "hangup", "method": "POST"}), http.StatusCreated).obj(t)["id"].(float64),
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nfirst ids (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestFirstIDsInvalid(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	cfg.FirstIDs.Events = -1
	if _, err := pbxsim.New(cfg); err == nil {
		t.Errorf("a negative first id must be refused")
	}
}
