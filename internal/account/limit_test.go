package account_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// TestConnectReadsTheLimits: a check reads the client's limits on its numbers of objects, with
// their use, and follows the PBX at the next check; a PBX that does not answer leaves them
// unknown, not the account broken.
func TestConnectReadsTheLimits(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	cfg.Clients[0].Limits.Events = 5
	cfg.Clients[0].Limits.ExtensionGroups = 7
	f := newFixture(t, cfg)
	sim, reg, k, spec, cred := f.sim, f.reg, f.key, f.spec, f.cred
	ctx := context.Background()
	conn, err := reg.Connect(ctx, k, spec, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	used := func(n int) *int { return &n }
	if diff := cmp.Diff(&account.Limit{Max: 5, Used: used(0)}, conn.Limits.EventSubscriptions); diff != "" {
		t.Errorf("a new client's event limit: -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff(&account.Limit{Max: 7, Used: used(0)}, conn.Limits.ExtensionGroups); diff != "" {
		t.Errorf("a new client's group limit: -want, +got:\n%s", diff)
	}

	x, err := conn.Client.Extensions.Create(ctx, conn.Realm, pbx.ExtensionCreate{Name: "101", Type: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Client.Events.Create(ctx, pbx.ExtensionRealm(x.ID), pbx.EventCreate{URL: "https://hooks.example/calls", EventType: pbx.EventHangup, Method: "POST"}); err != nil {
		t.Fatal(err)
	}
	if conn, err = reg.Connect(ctx, k, spec, cred, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&account.Limit{Max: 5, Used: used(1)}, conn.Limits.EventSubscriptions); diff != "" {
		t.Errorf("the count follows the PBX at the next check: -want, +got:\n%s", diff)
	}

	// The limit is informational: an account whose PBX does not answer /limit/ still connects.
	sim.AddFault(pbxsim.Fault{Path: "/api/ver1.0/client/{realm_id}/limit/", Status: http.StatusInternalServerError})
	if conn, err = reg.Connect(ctx, k, spec, cred, nil); err != nil {
		t.Fatalf("a failing /limit/ fails the account: %v", err)
	}
	if diff := cmp.Diff(account.Limits{}, conn.Limits); diff != "" {
		t.Errorf("want no limit when the PBX does not tell: -want, +got:\n%s", diff)
	}
}
