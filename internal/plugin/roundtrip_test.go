package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

// cluster is an envtest API server with the operator's controllers running against it.
type cluster struct {
	k          client.Client
	kubeconfig string
	kubectl    string
}

// startCluster starts the API server and a manager with the Account, ExtensionGroup and
// Extension controllers, as cmd/main.go wires them; both stop when the test ends.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the envtest API server; runs without -short")
	}
	scheme := localenv.Scheme()
	env, cfg, err := localenv.APIServer(filepath.Join("..", ".."), scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	logs := io.Discard
	if os.Getenv("PBX_TEST_LOG") != "" {
		logs = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logs), zap.UseDevMode(true)))
	// Each test that needs a cluster starts its own manager in this process: their controllers'
	// names repeat.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	// A poll interval longer than the test: every call the round trip makes is the take-over's.
	registry := account.NewRegistry(account.Settings{RequestsPerSecond: 200, Burst: 50, WriteReservePercent: 10, PollInterval: time.Hour})
	opts := controller.Options{Registry: registry, PollInterval: time.Hour, Concurrency: 8, Timeout: 10 * time.Second}
	if err := controller.SetupAccounts(mgr, controller.AccountOptions{Registry: registry}); err != nil {
		t.Fatal(err)
	}
	if err := controller.SetupManaged(mgr, opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	k, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{k: k, kubectl: filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")}
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	c.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(c.kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// tenant is a PBX to fill before the export.
type tenant struct {
	groups     []string
	extensions []pbx.ExtensionCreate
	// groupOf gives the index in groups of extension i's group, or -1 for none.
	groupOf func(i int) int
	// routes routes DIDs of the demo client (by number) to extensions (by index).
	routes map[string]int
	// hooks subscribe extensions (by index) to webhooks.
	hooks []hook
}

// hook is a webhook of an extension of a tenant.
type hook struct {
	ext       int
	eventType string
	url       string
}

// demoTenant is the demo tenant plus two groups with one name and groups whose names collide once
// made Kubernetes names, every extension type, blocked and active extensions, labels in other
// scripts, extra params in JSON, an extension outside any group, routed numbers and webhooks.
func demoTenant() tenant {
	return tenant{
		groups: []string{"Sales", "sales", "Support Team", "Отдел кадров", "Sales"},
		extensions: []pbx.ExtensionCreate{
			{Name: "101", Type: pbx.ExtensionTypePhone, Status: pbx.StatusActive, Label: pbx.Set("Alice Smith"), CallerIDName: pbx.Set("Alice")},
			{Name: "102", Type: pbx.ExtensionTypePhone, Status: pbx.StatusBlocked, Label: pbx.Set("Bob")},
			{Name: "103", Type: pbx.ExtensionTypePhone, Status: pbx.StatusActive, Label: pbx.Set("Иван Петров")},
			{Name: "200", Type: pbx.ExtensionTypeQueue, Status: pbx.StatusActive, Label: pbx.Set("Support queue"), ExtraParams: pbx.Set(`{"ring":"all"}`)},
			{Name: "300", Type: pbx.ExtensionTypeIVR, Status: pbx.StatusActive},
			{Name: "400", Type: pbx.ExtensionTypeFax, Status: pbx.StatusActive, Label: pbx.Set("Fax"), DialRuleID: pbx.Set[int64](7)},
			{Name: "500", Type: pbx.ExtensionTypePhone, Status: pbx.StatusActive, Label: pbx.Set("Lobby")},
			{Name: "501", Type: pbx.ExtensionTypePhone, Status: pbx.StatusActive, Label: pbx.Set("Sales East")},
		},
		groupOf: func(i int) int { return []int{0, 0, 3, 2, 2, 1, -1, 4}[i] },
		routes:  map[string]int{"74950000001": 0, "74950000002": 6},
		hooks: []hook{
			{ext: 0, eventType: pbx.EventHangup, url: "https://crm.example/calls?token=s3cret"},
			{ext: 0, eventType: pbx.EventDialIn, url: "https://crm.example/calls?token=s3cret"},
			{ext: 3, eventType: pbx.EventHangup, url: "https://queue-stats.example/"},
		},
	}
}

// bigTenant is 1,000 extensions (every three-digit number) in 20 groups.
func bigTenant() tenant {
	t := tenant{groupOf: func(i int) int { return i % 20 }}
	for i := range 20 {
		t.groups = append(t.groups, fmt.Sprintf("Team %02d", i+1))
	}
	for i := range 1000 {
		t.extensions = append(t.extensions, pbx.ExtensionCreate{
			Name: fmt.Sprintf("%03d", i), Type: pbx.ExtensionTypePhone, Status: pbx.StatusActive, Label: pbx.Set(fmt.Sprintf("User %03d", i)),
		})
	}
	return t
}

// fill creates the tenant's objects in the PBX through the API.
func fill(ctx context.Context, t *testing.T, url string, tn tenant) {
	t.Helper()
	c, err := pbx.New(url, pbx.WithCredentials(pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret), pbx.WithRateLimit(1000, 100))
	if err != nil {
		t.Fatal(err)
	}
	realm := pbx.MeRealm(pbx.RealmClient)
	ids := make([]int64, len(tn.groups))
	for i, name := range tn.groups {
		g, err := c.Groups.Create(ctx, realm, pbx.ExtensionGroupCreate{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = g.ID
	}
	work := make(chan int)
	errs := make(chan error, len(tn.extensions))
	extIDs := make([]int64, len(tn.extensions))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				x := tn.extensions[i]
				if g := tn.groupOf(i); g >= 0 {
					x.ExtensionGroupID = pbx.Set(ids[g])
				}
				made, err := c.Extensions.Create(ctx, realm, x)
				if err != nil {
					errs <- err
					continue
				}
				extIDs[i] = made.ID
			}
		}()
	}
	for i := range tn.extensions {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for number, ext := range tn.routes {
		dids, err := c.DIDs.ListAll(ctx, realm, pbx.DIDFilter{Name: number})
		if err != nil || len(dids) != 1 {
			t.Fatalf("the DID %s: %v %v", number, dids, err)
		}
		if _, err := c.DIDs.Update(ctx, realm, dids[0].ID, pbx.DIDUpdate{ExtensionID: pbx.Set(extIDs[ext])}); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range tn.hooks {
		if _, err := c.Events.Create(ctx, pbx.ExtensionRealm(extIDs[h.ext]), pbx.EventCreate{URL: h.url, EventType: h.eventType, Method: "POST"}); err != nil {
			t.Fatal(err)
		}
	}
}

// pbxWrites counts the API calls that change the PBX (the token endpoint is not one).
func pbxWrites(sim *pbxsim.Server) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Method != "GET" && strings.HasPrefix(r.Path, "/api/") {
			n += r.Count
		}
	}
	return n
}

func callSummary(sim *pbxsim.Server) string {
	var parts []string
	for _, r := range sim.Requests() {
		parts = append(parts, fmt.Sprintf("%s %s %d: %d", r.Method, r.Path, r.Status, r.Count))
	}
	return strings.Join(parts, "; ")
}

// TestExportRoundTrip exports a filled PBX, applies the manifests to a cluster with the
// operator, and checks that every resource turns Ready and Synced with no write to the PBX,
// under both management policies.
func TestExportRoundTrip(t *testing.T) {
	c := startCluster(t)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	cases := map[string]struct {
		reason  string
		tenant  tenant
		policy  v1alpha1.ManagementPolicy
		kubectl bool
	}{
		"DemoTenantObserveOnly": {reason: "the demo tenant, written to a directory and applied with kubectl apply -k", tenant: demoTenant(), policy: v1alpha1.ManagementPolicyObserveOnly, kubectl: true},
		"DemoTenantManage":      {reason: "Manage takes the objects over by their external-id annotation, with nothing to change", tenant: demoTenant(), policy: v1alpha1.ManagementPolicyManage, kubectl: true},
		"ThousandExtensions":    {reason: "1,000 extensions in 20 groups on stdout", tenant: bigTenant(), policy: v1alpha1.ManagementPolicyObserveOnly},
	}
	for _, name := range []string{"DemoTenantObserveOnly", "DemoTenantManage", "ThousandExtensions"} {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			sim, url := newSim(t)
			fill(ctx, t, url, tc.tenant)
			ns := c.accountNamespace(ctx, t, "export-", url)
			sim.ResetRequests()

			start := time.Now()
			var out, progress bytes.Buffer
			cmd := plugin.ExportCommand{
				Kube: c.k, Account: "pbx", Namespace: ns.Name,
				Options:  plugin.ExportOptions{ManagementPolicy: tc.policy},
				Out:      &out,
				Progress: func(f string, a ...any) { fmt.Fprintf(&progress, f+"\n", a...) },
			}
			if tc.kubectl {
				cmd.Dir = t.TempDir()
			}
			if err := cmd.Run(ctx); err != nil {
				t.Fatalf("%s\nexport: %v", tc.reason, err)
			}
			exportTime, exportCalls := time.Since(start), sim.RequestTotal("", "")
			if strings.Contains(out.String()+progress.String(), pbxsim.DemoAppSecret) {
				t.Errorf("%s\nthe output holds the client secret", tc.reason)
			}
			if strings.Contains(progress.String(), "s3cret") {
				t.Errorf("%s\nthe progress and warnings show a webhook's token:\n%s", tc.reason, progress.String())
			}

			planOf := func() plugin.PlanResult {
				pc := plugin.PlanCommand{Kube: c.k, Namespace: ns.Name, Prune: true, Paths: []string{"-"}, Stdin: bytes.NewReader(out.Bytes())}
				if tc.kubectl {
					pc.Paths = []string{cmd.Dir}
				}
				res, err := pc.Run(ctx)
				if err != nil {
					t.Fatalf("%s\nplan: %v", tc.reason, err)
				}
				return res
			}
			before := planOf()
			for _, ch := range before.Changes {
				if ch.Action != plugin.ActionAdopt || len(ch.Fields) != 0 {
					t.Errorf("%s\nplan before the apply: %+v, want adopt with no field changes", tc.reason, ch)
				}
			}

			applyStart := time.Now()
			if tc.kubectl {
				if o, err := exec.CommandContext(ctx, c.kubectl, "--kubeconfig", c.kubeconfig, "apply", "-k", cmd.Dir).CombinedOutput(); err != nil {
					t.Fatalf("kubectl apply -k: %v: %s", err, o)
				}
			} else {
				apply(ctx, t, c.k, out.Bytes())
			}
			applyTime := time.Since(applyStart)
			wantExt, wantGroups, wantNumbers, wantHooks := len(tc.tenant.extensions), len(tc.tenant.groups), len(tc.tenant.routes), len(tc.tenant.hooks)
			want := map[string]int{"ExtensionGroup": wantGroups, "Extension": wantExt, "PhoneNumber": wantNumbers, "EventSubscription": wantHooks}
			g.Eventually(func() string { return converged(ctx, c.k, ns.Name, want) }, 3*time.Minute).Should(BeEmpty(), tc.reason)
			total := time.Since(start)
			report, err := plugin.ReadStatus(ctx, c.k, ns.Name, 0)
			if err != nil {
				t.Fatal(err)
			}
			var screen bytes.Buffer
			if err := report.WriteText(&screen); err != nil {
				t.Fatal(err)
			}
			wantKinds := []plugin.KindCount{
				{Kind: "ExtensionGroup", Total: wantGroups, Ready: map[string]int{"Available": wantGroups}, Synced: map[string]int{"UpToDate": wantGroups}},
				{Kind: "Extension", Total: wantExt, Ready: map[string]int{"Available": wantExt}, Synced: map[string]int{"UpToDate": wantExt}},
				kindCount("PhoneNumber", wantNumbers),
				kindCount("EventSubscription", wantHooks),
			}
			if len(report.Accounts) != 1 || !cmp.Equal(report.Accounts[0].Kinds, wantKinds) {
				t.Errorf("%s\nkubectl pbx status after the round trip:\n%s", tc.reason, screen.String())
			}
			if after := planOf(); after.HasChanges() || len(after.Changes) != wantExt+wantGroups+wantNumbers+wantHooks {
				var buf bytes.Buffer
				_ = after.WriteText(&buf)
				t.Errorf("%s\nplan after the round trip has changes:\n%s", tc.reason, buf.String())
			}
			if w := pbxWrites(sim); w != 0 {
				t.Errorf("%s\n%d PBX writes during the round trip, want 0: %s", tc.reason, w, callSummary(sim))
			}
			if tc.policy == v1alpha1.ManagementPolicyObserveOnly && tc.kubectl {
				takeOver(ctx, t, c, sim, &cmd, planOf, want)
			}
			t.Logf("kubectl pbx status:\n%s", screen.String())
			t.Logf("%d groups, %d extensions (%s): export %s with %d PBX calls; apply %s; all Ready and Synced %s after the export began; %d PBX calls in all, %d writes: %s",
				wantGroups, wantExt, tc.policy, exportTime.Round(time.Millisecond), exportCalls, applyTime.Round(time.Millisecond),
				total.Round(time.Millisecond), sim.RequestTotal("", ""), pbxWrites(sim), callSummary(sim))
		})
	}
}

// takeOver turns an ObserveOnly round trip into management: the export again with Manage,
// applied, costs no PBX write and plans nothing; then a label edited in a manifest plans an
// update of that Extension's label, and plan says so with its exit code (HasChanges).
func takeOver(ctx context.Context, t *testing.T, c *cluster, sim *pbxsim.Server, cmd *plugin.ExportCommand, planOf func() plugin.PlanResult, want map[string]int) {
	t.Helper()
	g := NewWithT(t)
	start := time.Now()
	cmd.Options.ManagementPolicy = v1alpha1.ManagementPolicyManage
	if err := cmd.Run(ctx); err != nil {
		t.Fatalf("export with Manage: %v", err)
	}
	if o, err := exec.CommandContext(ctx, c.kubectl, "--kubeconfig", c.kubeconfig, "apply", "-k", cmd.Dir).CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply -k: %v: %s", err, o)
	}
	g.Eventually(func() string {
		var el v1alpha1.ExtensionList
		if err := c.k.List(ctx, &el, client.InNamespace(cmd.Namespace)); err != nil {
			return err.Error()
		}
		for _, x := range el.Items {
			if x.Spec.ManagementPolicy != v1alpha1.ManagementPolicyManage {
				return x.Name + " is not Manage yet"
			}
		}
		return converged(ctx, c.k, cmd.Namespace, want)
	}, time.Minute).Should(BeEmpty(), "every object managed, Ready and Synced")
	if p := planOf(); p.HasChanges() {
		var buf bytes.Buffer
		_ = p.WriteText(&buf)
		t.Errorf("plan after the take-over has changes:\n%s", buf.String())
	}
	if w := pbxWrites(sim); w != 0 {
		t.Errorf("%d PBX writes to take the objects over, want 0: %s", w, callSummary(sim))
	}
	t.Logf("take-over with Manage: Ready and Synced %s after the export began, 0 writes", time.Since(start).Round(time.Millisecond))

	file := filepath.Join(cmd.Dir, "extensions.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(data, []byte("label: Alice Smith"), []byte("label: Alice Smith-Jones"), 1)
	if bytes.Equal(edited, data) {
		t.Fatalf("no label to edit in %s", file)
	}
	if err := os.WriteFile(file, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	p := planOf()
	var buf bytes.Buffer
	_ = p.WriteText(&buf)
	if !p.HasChanges() || !strings.Contains(buf.String(), "~ update         Extension "+cmd.Namespace+"/ext-101-alice-smith") ||
		!strings.Contains(buf.String(), `label: "Alice Smith" -> "Alice Smith-Jones"`) {
		t.Errorf("plan of an edited label names the Extension and the field, and has changes (exit 2):\n%s", buf.String())
	}
}

// newSim starts a simulator of the demo client with a budget no test spends, for the test's
// length, and returns it with its URL.
func newSim(t *testing.T) (*pbxsim.Server, string) {
	t.Helper()
	cfg := pbxsim.DemoConfig()
	cfg.Clients[0].RateLimitPerHour = 100000
	sim, err := pbxsim.New(cfg, pbxsim.WithStrictSlashes())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

// accountNamespace makes a namespace (named from prefix) with the Account "pbx" of the PBX at url,
// and waits for the Account to be Ready.
func (c *cluster) accountNamespace(ctx context.Context, t *testing.T, prefix, url string) *corev1.Namespace {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	if err := c.k.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	createAccount(ctx, t, c.k, ns.Name, url)
	NewWithT(t).Eventually(func() bool { return accountReady(ctx, c.k, ns.Name) }, 30*time.Second).Should(BeTrue(), "the Account turns Ready")
	return ns
}

func createAccount(ctx context.Context, t *testing.T, k client.Client, ns, url string) {
	t.Helper()
	for _, o := range []client.Object{
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "pbx", Namespace: ns, Labels: map[string]string{v1alpha1.LabelCredentials: "true"}},
			StringData: map[string]string{"clientID": pbxsim.DemoTrustedAppID, "clientSecret": pbxsim.DemoAppSecret, "url": url + "/"},
		},
		&v1alpha1.Account{
			ObjectMeta: metav1.ObjectMeta{Name: "pbx", Namespace: ns},
			Spec: v1alpha1.AccountSpec{
				ConnectionSpec:       v1alpha1.ConnectionSpec{URL: url + "/"},
				CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "pbx"},
			},
		},
	} {
		if err := k.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

func accountReady(ctx context.Context, k client.Client, ns string) bool {
	var a v1alpha1.Account
	if err := k.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pbx"}, &a); err != nil {
		return false
	}
	return meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady)
}

// apply creates every object of a YAML stream, as kubectl apply does for new objects, eight at
// a time.
func apply(ctx context.Context, t *testing.T, k client.Client, data []byte) {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	work := make(chan *unstructured.Unstructured)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if err := k.Create(ctx, u); err != nil {
					t.Errorf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
				}
			}
		}()
	}
	for _, u := range objs {
		work <- u
	}
	close(work)
	wg.Wait()
}

// kindCount is the status count of n resources of a kind, all Ready and Synced.
func kindCount(kind string, n int) plugin.KindCount {
	if n == 0 {
		return plugin.KindCount{Kind: kind, Ready: map[string]int{}, Synced: map[string]int{}}
	}
	return plugin.KindCount{Kind: kind, Total: n, Ready: map[string]int{"Available": n}, Synced: map[string]int{"UpToDate": n}}
}

// converged describes what is not yet Ready and Synced in ns (empty when all is), with want
// resources of each kind.
func converged(ctx context.Context, k client.Client, ns string, want map[string]int) string {
	lists := map[string]client.ObjectList{
		"ExtensionGroup": &v1alpha1.ExtensionGroupList{}, "Extension": &v1alpha1.ExtensionList{},
		"PhoneNumber": &v1alpha1.PhoneNumberList{}, "EventSubscription": &v1alpha1.EventSubscriptionList{},
	}
	var pending []string
	for kind, list := range lists {
		if err := k.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err.Error()
		}
		items, _ := meta.ExtractList(list)
		if len(items) != want[kind] {
			return fmt.Sprintf("%d %ss, want %d", len(items), kind, want[kind])
		}
		for _, it := range items {
			o := it.(interface {
				client.Object
				GetManagedStatus() *v1alpha1.ManagedStatus
			})
			conds := o.GetManagedStatus().Conditions
			s := meta.FindStatusCondition(conds, v1alpha1.ConditionSynced)
			if !meta.IsStatusConditionTrue(conds, v1alpha1.ConditionReady) || s == nil || s.Status != metav1.ConditionTrue || s.ObservedGeneration != o.GetGeneration() {
				msg := "no Synced condition"
				if s != nil {
					msg = s.Reason + ": " + s.Message
				}
				pending = append(pending, fmt.Sprintf("%s %s (%s)", kind, o.GetName(), msg))
			}
		}
	}
	slices.Sort(pending)
	if len(pending) > 5 {
		return fmt.Sprintf("%d not Ready and Synced, such as %s", len(pending), strings.Join(pending[:5], "; "))
	}
	return strings.Join(pending, "; ")
}
