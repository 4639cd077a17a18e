package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// k is a client of the envtest API server (not of the manager's cache); the manager with every
// controller runs against the same server.
var k client.Client

// metrics is the registry of the manager's metrics, as controller-runtime's is in cmd/main.go.
var metrics *prometheus.Registry

// trustedNamespace is where ClusterAccounts may take Secrets from, as the operator's own namespace
// is in a cluster.
const trustedNamespace = "pbx-operator-system"

// pollInterval is the tests' short poll interval, so drift is reverted within seconds.
const pollInterval = 2 * time.Second

// testMaxAnswerBytes is the suite's bound on one PBX answer (--max-pbx-answer-bytes): small, so
// that a gzip bomb many times its size stays cheap to serve (TestHostilePBX).
const testMaxAnswerBytes = 1 << 20

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if localenv.Short() {
		return m.Run()
	}
	logs := io.Discard
	if os.Getenv("PBX_TEST_LOG") != "" {
		logs = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logs), zap.UseDevMode(true)))
	scheme := localenv.Scheme()
	env, cfg, err := localenv.APIServer(filepath.Join("..", ".."), scheme)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer env.Stop() //nolint:errcheck // the process ends anyway

	// The manager's cache as in a cluster: the metadata of given Secrets only.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: controller.CacheOptions(nil, nil, controller.Shard{})})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating the manager: %v\n", err)
		return 1
	}
	registry := account.NewRegistry(account.Settings{RequestsPerSecond: 200, Burst: 50, WriteReservePercent: 10, PollInterval: pollInterval,
		MaxAnswerBytes: testMaxAnswerBytes})
	engine := managed.NewMetrics(nil)
	opts := controller.Options{Registry: registry, PollInterval: pollInterval, Concurrency: 8, Timeout: 5 * time.Second, Metrics: engine}
	metrics = prometheus.NewPedanticRegistry()
	for _, setup := range []func() error{
		func() error {
			return controller.SetupAccounts(mgr, controller.AccountOptions{Registry: registry, Metrics: metrics,
				TrustedNamespaces: []string{trustedNamespace}, Concurrency: 8})
		},
		func() error { return controller.SetupManaged(mgr, opts) },
		func() error {
			for _, c := range controller.Collectors(mgr.GetCache(), registry, engine) {
				if err := metrics.Register(c); err != nil {
					return err
				}
			}
			return nil
		},
	} {
		if err := setup(); err != nil {
			fmt.Fprintf(os.Stderr, "setting up controllers: %v\n", err)
			return 1
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "manager: %v\n", err)
		}
	}()
	// The tests act as users do, through the API server, not the manager's cache.
	if k, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "creating the client: %v\n", err)
		return 1
	}
	if err := k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: trustedNamespace}}); err != nil {
		fmt.Fprintf(os.Stderr, "creating the trusted namespace: %v\n", err)
		return 1
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		fmt.Fprintln(os.Stderr, "the cache did not sync")
		return 1
	}
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	return m.Run()
}

// world is one test's PBX (its own simulator) and namespace with a Ready Account "pbx".
type world struct {
	t   testing.TB
	g   Gomega
	sim *pbxsim.Server
	srv *httptest.Server
	ns  string
}

// newWorld starts a simulator with cfg (the demo tenant when nil), a namespace, and an Account
// with the demo trusted app's credentials, and waits for it to be Ready.
func newWorld(t *testing.T, cfg *pbxsim.Config) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the envtest API server; runs without -short")
	}
	t.Parallel()
	w := startWorld(t, cfg)
	t.Cleanup(w.srv.Close)
	return w
}

// newBenchWorld is newWorld for a benchmark.
func newBenchWorld(b *testing.B) *world {
	b.Helper()
	w := startWorld(b, nil)
	b.Cleanup(w.srv.Close)
	return w
}

func startWorld(t testing.TB, cfg *pbxsim.Config) *world {
	w := openWorld(t, cfg)
	w.waitReady(w.account("pbx", pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret))
	return w
}

// openWorld starts a simulator with cfg (the demo tenant when nil) and makes a namespace, without
// an Account yet.
func openWorld(t testing.TB, cfg *pbxsim.Config) *world {
	c := pbxsim.DemoConfig()
	if cfg != nil {
		c = *cfg
	}
	sim, err := pbxsim.New(c, pbxsim.WithStrictSlashes())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	w := &world{t: t, g: NewWithT(t), sim: sim, srv: srv}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "it-"}}
	w.create(ns)
	w.ns = ns.Name
	return w
}

// account creates an Account of the world's simulator, with a Secret of the same name holding an
// app's credentials.
func (w *world) account(name, appID, secret string) *v1alpha1.Account {
	w.t.Helper()
	w.secret(name, appID, secret)
	a := &v1alpha1.Account{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns},
		Spec: v1alpha1.AccountSpec{
			ConnectionSpec:       v1alpha1.ConnectionSpec{URL: w.srv.URL + "/"},
			CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: name},
		},
	}
	w.create(a)
	return a
}

// accountAt creates an Account of the PBX at url with the credentials Secret secret (which the
// test makes) and the CA bundle ca.
func (w *world) accountAt(name, secret, url string, ca v1alpha1.CABundleReference) *v1alpha1.Account {
	w.t.Helper()
	a := &v1alpha1.Account{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns},
		Spec: v1alpha1.AccountSpec{
			ConnectionSpec:       v1alpha1.ConnectionSpec{URL: url, CABundleRef: ca},
			CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: secret},
		},
	}
	w.create(a)
	return a
}

// setAccount changes the spec of the world's Account "pbx" and waits until the account was checked
// at its new generation, so that its connection has the new settings.
func (w *world) setAccount(mutate func(*v1alpha1.AccountSpec)) *v1alpha1.Account {
	w.t.Helper()
	a := &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Name: "pbx", Namespace: w.ns}}
	w.update(a, func() { mutate(&a.Spec) })
	gen := a.Generation
	w.g.Eventually(func() bool {
		if err := k.Get(context.Background(), client.ObjectKeyFromObject(a), a); err != nil {
			return false
		}
		c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration >= gen
	}).Should(BeTrue(), "the account checked at generation %d", gen)
	return a
}

func (w *world) create(o client.Object) {
	w.t.Helper()
	if err := k.Create(context.Background(), o); err != nil {
		w.t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
	}
}

// secret creates a labelled credentials Secret with an app's credentials for the world's
// simulator.
func (w *world) secret(name, id, secret string) {
	w.t.Helper()
	w.secretFor(name, id, secret, w.srv.URL+"/")
}

// secretFor creates a labelled credentials Secret with an app's credentials for the PBX at url.
func (w *world) secretFor(name, id, secret, url string) {
	w.t.Helper()
	w.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns, Labels: map[string]string{v1alpha1.LabelCredentials: "true"}},
		StringData: map[string]string{"clientID": id, "clientSecret": secret, "url": url},
	})
}

// update re-reads o, applies mutate and writes it, retrying on conflicts.
func (w *world) update(o client.Object, mutate func()) {
	w.t.Helper()
	w.g.Eventually(func() error {
		if err := k.Get(context.Background(), client.ObjectKeyFromObject(o), o); err != nil {
			return err
		}
		mutate()
		return k.Update(context.Background(), o)
	}).Should(Succeed())
}

func (w *world) delete(o client.Object) {
	w.t.Helper()
	if err := k.Delete(context.Background(), o); err != nil {
		w.t.Fatalf("deleting %s: %v", o.GetName(), err)
	}
}

// fired checks that the world's injected faults of a kind (pbxsim.FiredDropAfterCommit,
// pbxsim.FiredStatus(code), ...) fired want times: a test whose fault never fired (its path did
// not match, say) proves nothing.
func (w *world) fired(kind string, want int) {
	w.t.Helper()
	if got := w.sim.FaultsFired()[kind]; got != want {
		w.t.Errorf("the fault %s fired %d times, want %d: %v", kind, got, want, w.sim.FaultsFired())
	}
}

// conditions reads the conditions of a resource.
func conditions(o client.Object) []metav1.Condition {
	switch x := o.(type) {
	case *v1alpha1.Account:
		return x.Status.Conditions
	case *v1alpha1.ClusterAccount:
		return x.Status.Conditions
	case managed.Object:
		return x.GetManagedStatus().Conditions
	}
	return nil
}

// cond returns "Status/Reason" of a condition of a resource, re-read from the API server.
func (w *world) cond(o client.Object, typ string) func() string {
	return func() string {
		if err := k.Get(context.Background(), client.ObjectKeyFromObject(o), o); err != nil {
			return "get: " + err.Error()
		}
		c := meta.FindStatusCondition(conditions(o), typ)
		if c == nil {
			return "none"
		}
		return string(c.Status) + "/" + c.Reason
	}
}

// message returns the message of a condition, as last read by cond.
func message(o client.Object, typ string) string {
	if c := meta.FindStatusCondition(conditions(o), typ); c != nil {
		return c.Message
	}
	return ""
}

func (w *world) waitReady(o client.Object) {
	w.t.Helper()
	w.g.Eventually(w.cond(o, v1alpha1.ConditionReady)).Should(Equal("True/Available"), "%T %s", o, o.GetName())
}

// waitSynced waits for Ready and Synced, at the object's current generation (or a later one).
func (w *world) waitSynced(o client.Object) {
	w.t.Helper()
	want := o.GetGeneration()
	w.g.Eventually(func() string {
		s := w.cond(o, v1alpha1.ConditionSynced)()
		c := meta.FindStatusCondition(conditions(o), v1alpha1.ConditionSynced)
		if c == nil || c.ObservedGeneration < want || c.ObservedGeneration != o.GetGeneration() {
			return s + " (stale generation)"
		}
		return s + " " + w.cond(o, v1alpha1.ConditionReady)()
	}).Should(Equal("True/UpToDate True/Available"), "%T %s", o, o.GetName())
}

// ready creates a managed resource, waits until it is Ready and Synced, and returns its PBX id.
func (w *world) ready(o managed.Object) int64 {
	w.t.Helper()
	w.create(o)
	w.waitSynced(o)
	return o.GetManagedStatus().ID
}

func (w *world) gone(o client.Object) {
	w.t.Helper()
	w.g.Eventually(func() bool {
		err := k.Get(context.Background(), client.ObjectKeyFromObject(o), o)
		return client.IgnoreNotFound(err) == nil && err != nil
	}).Should(BeTrue(), "%s should be deleted", o.GetName())
}

// pbxExtensions returns the simulator's extensions with a name (0003*101), or all with "".
func (w *world) pbxExtensions(fullName string) []map[string]any {
	var out []map[string]any
	for _, x := range w.sim.Snapshot().Extensions {
		if fullName == "" || x["name"] == fullName {
			out = append(out, x)
		}
	}
	return out
}

// pbxExtension returns the one simulator extension with a short number, or nil.
func (w *world) pbxExtension(number string) map[string]any {
	xs := w.pbxExtensions(pbxsim.DemoPrefix + "*" + number)
	if len(xs) != 1 {
		return nil
	}
	return xs[0]
}

// pbxCall calls the simulator's API as the demo admin (for changes behind the operator's back).
func (w *world) pbxCall(method, path, body string) int {
	w.t.Helper()
	tok := w.token()
	req, _ := newRequest(method, w.srv.URL+pbxsim.APIPrefix+path, body)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func ext(ns, name, number string, mods ...func(*v1alpha1.Extension)) *v1alpha1.Extension {
	e := &v1alpha1.Extension{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ExtensionSpec{
			ManagedSpec: v1alpha1.ManagedSpec{AccountRef: v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "pbx"}},
			Name:        number,
			Type:        v1alpha1.ExtensionTypePhone,
		},
	}
	for _, m := range mods {
		m(e)
	}
	return e
}

func group(ns, name, groupName string) *v1alpha1.ExtensionGroup {
	return &v1alpha1.ExtensionGroup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ExtensionGroupSpec{
			ManagedSpec: v1alpha1.ManagedSpec{AccountRef: v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "pbx"}},
			Name:        groupName,
		},
	}
}

func label(l string) func(*v1alpha1.Extension) {
	return func(e *v1alpha1.Extension) { e.Spec.Label = l }
}

func annotated(key, value string) func(*v1alpha1.Extension) {
	return func(e *v1alpha1.Extension) {
		if e.Annotations == nil {
			e.Annotations = map[string]string{}
		}
		e.Annotations[key] = value
	}
}

// writes counts the simulator's write requests (POST, PUT, DELETE) to the API.
func (w *world) writes() int {
	n := 0
	for _, rc := range w.sim.Requests() {
		if rc.Method != "GET" && strings.HasPrefix(rc.Path, pbxsim.APIPrefix) {
			n += rc.Count
		}
	}
	return n
}

// accountCheckPath is the first request of every check of an account (GET /user/). An account in
// use is checked once per poll interval, so the counter of this path is the manager's clock.
const accountCheckPath = "/api/ver1.0/user/"

// waitLooks waits until the simulator has served n more requests of method to path (a template,
// as RequestTotal takes it) than when it was called, and fails the test, saying proof (what the
// looks prove), when they do not come. A test that checks that something did not happen waits
// first for such proof that the operator had its chance, then checks once: the check cannot pass
// just because the operator had not looked yet, and the test waits no longer than the proof takes.
func (w *world) waitLooks(method, path string, n int, proof string) {
	w.t.Helper()
	from := w.sim.RequestTotal(method, path)
	w.g.Eventually(func() int { return w.sim.RequestTotal(method, path) - from }).
		Should(BeNumerically(">=", n), "%s (%d more %s %s)", proof, n, method, path)
}

// waitPolls waits until the simulator's accounts were checked n more times (waitLooks of
// accountCheckPath). Each account in use is checked once per poll interval, so with a accounts
// polling this proves the manager alive and reconciling for at least n/a-1 poll intervals after
// the call (one of them was checked n/a times): n-1 with the world's account alone.
func (w *world) waitPolls(n int, proof string) {
	w.t.Helper()
	w.waitLooks(http.MethodGet, accountCheckPath, n, proof)
}

// transitions returns each condition of a resource, as last read by cond, with when it last
// changed: a condition that changed and changed back has another time.
func transitions(o client.Object) map[string]string {
	out := map[string]string{}
	for _, c := range conditions(o) {
		out[c.Type] = string(c.Status) + "/" + c.Reason + " since " + c.LastTransitionTime.UTC().Format(time.RFC3339)
	}
	return out
}
