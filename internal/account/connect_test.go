package account_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// fixture is a registry and one Account's connection settings, for a simulator of cfg.
type fixture struct {
	sim  *pbxsim.Server
	reg  *account.Registry
	key  account.Key
	spec v1alpha1.ConnectionSpec
	cred account.Credentials
}

func newFixture(t *testing.T, cfg pbxsim.Config) fixture {
	t.Helper()
	sim, err := pbxsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return fixture{
		sim:  sim,
		reg:  account.NewRegistry(account.Settings{RequestsPerSecond: 100, Burst: 10, PollInterval: time.Minute}),
		key:  account.Key{Kind: v1alpha1.AccountKindAccount, Namespace: "ns", Name: "pbx"},
		spec: v1alpha1.ConnectionSpec{URL: srv.URL + "/"},
		cred: account.Credentials{ClientID: pbxsim.DemoTrustedAppID, ClientSecret: pbxsim.DemoAppSecret},
	}
}

func TestConnectKeepsTheLastGoodConnection(t *testing.T) {
	f := newFixture(t, pbxsim.DemoConfig())
	sim, reg, k, spec, cred := f.sim, f.reg, f.key, f.spec, f.cred
	metrics := prometheus.NewRegistry()
	ctx := context.Background()
	if _, err := reg.Connect(ctx, k, spec, cred, metrics); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		reason string
		fault  pbxsim.Fault
		keeps  bool
	}{
		{"A 500 on /user/ is transient: the connection stays.", pbxsim.Fault{Path: "/api/ver1.0/user/", Status: http.StatusInternalServerError, Times: 1}, true},
		{"A 503 on the client's info is transient too.", pbxsim.Fault{Path: "/api/ver1.0/client/{realm_id}/client/", Status: http.StatusServiceUnavailable, Times: 1}, true},
		{"A 403 says the app may not act: the connection goes.", pbxsim.Fault{Path: "/api/ver1.0/user/", Status: http.StatusForbidden, Times: 1}, false},
	}
	for _, c := range cases {
		sim.AddFault(c.fault)
		if _, err := reg.Connect(ctx, k, spec, cred, metrics); err == nil {
			t.Fatalf("%s\nthe fault did not fire", c.reason)
		}
		if _, kept := reg.Connection(k); kept != c.keeps {
			t.Errorf("%s\nconnection kept: want %t, got %t", c.reason, c.keeps, kept)
		}
		sim.ClearFaults()
		if _, err := reg.Connect(ctx, k, spec, cred, metrics); err != nil {
			t.Fatal(err)
		}
	}

	// A change of the credentials that fails drops the connection built from the old ones.
	if _, err := reg.Connect(ctx, k, spec, account.Credentials{ClientID: cred.ClientID, ClientSecret: "wrong"}, metrics); err == nil {
		t.Fatal("wrong credentials connect")
	}
	if _, kept := reg.Connection(k); kept {
		t.Errorf("a connection from credentials that were replaced stays")
	}

	if n, err := testutil.GatherAndCount(metrics); err != nil || n == 0 {
		t.Fatalf("the account's client metrics are registered: %d, %v", n, err)
	}
	reg.Forget(k)
	if n, err := testutil.GatherAndCount(metrics); err != nil || n != 0 {
		t.Errorf("a deleted account's metrics are unregistered: %d series left, %v", n, err)
	}
}

func TestConnectBoundsAnswers(t *testing.T) {
	f := newFixture(t, pbxsim.DemoConfig())
	reg := account.NewRegistry(account.Settings{RequestsPerSecond: 100, Burst: 10, PollInterval: time.Minute, MaxAnswerBytes: 16})
	_, err := reg.Connect(context.Background(), f.key, f.spec, f.cred, nil)
	var tooLarge *pbx.TooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.MaxBytes != 16 {
		t.Errorf("Connect with answers bounded at 16 bytes: got error %v, want a *pbx.TooLargeError at 16 bytes", err)
	}
}

// TestClientMetricsByAccount: the PBX client's request metrics carry the account as three labels
// (kind, namespace, name), and a deleted account's series go while another account's stay.
func TestClientMetricsByAccount(t *testing.T) {
	f := newFixture(t, pbxsim.DemoConfig())
	metrics := prometheus.NewRegistry()
	ctx := context.Background()
	cluster := account.Key{Kind: v1alpha1.AccountKindClusterAccount, Name: "pbx"}
	for _, k := range []account.Key{f.key, cluster} {
		if _, err := f.reg.Connect(ctx, k, f.spec, f.cred, metrics); err != nil {
			t.Fatal(err)
		}
	}
	accounts := func() map[string]float64 {
		families, err := metrics.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range families {
			if mf.GetName() != "pbx_client_requests_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				if _, ok := l["account"]; ok {
					t.Errorf("a series still has the account label: %v", l)
				}
				if l["method"] == http.MethodGet && l["resource"] == "/user/" {
					out[l["kind"]+"|"+l["namespace"]+"|"+l["name"]] += m.GetCounter().GetValue()
				}
			}
		}
		return out
	}
	want := map[string]float64{"Account|ns|pbx": 1, "ClusterAccount||pbx": 1}
	if diff := cmp.Diff(want, accounts()); diff != "" {
		t.Errorf("GET /user/ by account (kind|namespace|name): -want +got:\n%s", diff)
	}
	f.reg.Forget(f.key)
	want = map[string]float64{"ClusterAccount||pbx": 1}
	if diff := cmp.Diff(want, accounts()); diff != "" {
		t.Errorf("after the Account was forgotten, by account: -want +got:\n%s", diff)
	}
	// The ClusterAccount's client still counts.
	conn, ok := f.reg.Connection(cluster)
	if !ok {
		t.Fatal("the ClusterAccount's connection is gone")
	}
	if _, err := conn.Client.Users.Me(ctx); err != nil {
		t.Fatal(err)
	}
	want = map[string]float64{"ClusterAccount||pbx": 2}
	if diff := cmp.Diff(want, accounts()); diff != "" {
		t.Errorf("after another request of the ClusterAccount: -want +got:\n%s", diff)
	}
}
