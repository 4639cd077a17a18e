package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

const (
	// pollInterval is the Account's spec.pollIntervalSeconds: the shortest the API allows, so that
	// the steady-state window sees several polls.
	pollInterval = 10 * time.Second
	// extensionLen is the digit count of the bench tenant's extension names: numbers 10000 to
	// 99999 leave room for 90,000 Extensions (the demo tenant's three digits hold 1,000).
	extensionLen = 5
	// settle is how long a run waits after the last Extension became Ready before it reads the
	// counters of the create phase, so that the writes that follow Ready (events are sent
	// asynchronously) count for the create and not for the steady state.
	settle = 5 * time.Second
)

// config holds the settings shared by all runs.
type config struct {
	managerBin, simBin string
	// managerArgs are extra manager flags (experiments only).
	managerArgs     []string
	budget          int
	steady, timeout time.Duration
	// keep skips the delete phase (a small budget cannot afford it within the hour).
	keep bool
	// outDir holds the recordings of the manager's metrics, scraped every metricsInterval
	// (0: no metrics server, no recording).
	outDir          string
	metricsInterval time.Duration
}

// bench is the running control plane and what the runs need to reach it.
type bench struct {
	config
	env     *localenv.Env
	kube    client.WithWatch
	metrics *apiMetrics
	cp      controlPlane
}

// start starts the control plane, installs the CRDs and writes the pbxsim configuration.
func start(ctx context.Context, assets, logs string, cfg config) (*bench, error) {
	progress("Starting the local control plane (etcd, kube-apiserver); logs in %s", logs)
	env, err := localenv.Start(assets, logs)
	if err != nil {
		return nil, err
	}
	b := &bench{config: cfg, env: env, cp: findControlPlane()}
	if err := b.setup(ctx); err != nil {
		env.Stop()
		return nil, err
	}
	return b, nil
}

func (b *bench) setup(ctx context.Context) error {
	progress("Installing the CRDs: kubectl apply -k config/crd")
	if _, err := b.env.Kubectl(ctx, "apply", "--server-side", "-k", "config/crd"); err != nil {
		return err
	}
	if _, err := b.env.Kubectl(ctx, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"); err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", b.env.Kubeconfig)
	if err != nil {
		return err
	}
	// The bench only lists and watches; its own requests must not wait behind a client-side limit.
	rc.QPS, rc.Burst = 200, 400
	if b.kube, err = client.NewWithWatch(rc, client.Options{Scheme: localenv.Scheme()}); err != nil {
		return err
	}
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return err
	}
	b.metrics = &apiMetrics{client: hc, url: strings.TrimSuffix(rc.Host, "/") + "/metrics"}
	return nil
}

// simConfigFor writes the pbxsim --config file of a run with k accounts and returns its path:
// the demo tenant with five-digit extension names, and for k > 1 as many more clients
// (shardClient).
func (b *bench) simConfigFor(k int) (string, error) {
	tenant := pbxsim.DemoConfig()
	tenant.Clients[0].ExtensionLen = extensionLen
	name := "pbxsim-config.json"
	if k > 1 {
		for i := 2; i <= k; i++ {
			tenant.Clients = append(tenant.Clients, shardClient(i))
		}
		name = fmt.Sprintf("pbxsim-config-%dshards.json", k)
	}
	data, err := json.Marshal(tenant)
	if err != nil {
		return "", err
	}
	path := filepath.Join(b.env.Dir, name)
	return path, os.WriteFile(path, data, 0o600)
}

// shardClient is the pbxsim client of the i-th account of a sharded run (i >= 2; the first is
// the demo client): like the demo client, with its own id, prefix, domain, admin and trusted app.
func shardClient(i int) pbxsim.ClientConfig {
	return pbxsim.ClientConfig{
		ID: int64(i), Name: "Bench " + shardName(i), Prefix: fmt.Sprintf("%04d", 100+i), ExtensionLen: extensionLen,
		Domain: shardName(i) + ".sip.pbxsim.local", Timezone: "Europe/Moscow",
		Users: []pbxsim.UserConfig{{Login: "bench-admin-" + shardName(i), Password: pbxsim.DemoAdminPassword}},
		Apps: []pbxsim.AppConfig{{ClientID: shardAppID(i), ClientSecret: pbxsim.DemoAppSecret, Type: "trusted",
			User: "bench-admin-" + shardName(i)}},
	}
}

// shardName is the name of the i-th shard (from 1): s1, s2, ...
func shardName(i int) string { return fmt.Sprintf("s%d", i) }

// shardAppID is the trusted app of the i-th account's pbxsim client: the demo app for the first.
func shardAppID(i int) string {
	if i == 1 {
		return pbxsim.DemoTrustedAppID
	}
	return "bench-" + shardName(i)
}

func (b *bench) stop() {
	progress("Stopping the control plane")
	b.env.Stop()
}

// stack is one run's pbxsim and managers.
type stack struct {
	sim    *localenv.Proc
	simURL string
	// mgrs are the run's managers: one, or one per shard.
	mgrs []*managerProc
}

// managerProc is one manager process of a run.
type managerProc struct {
	// shard is the manager's --shard, empty for an unsharded manager.
	shard string
	proc  *localenv.Proc
	// rec records the manager's metrics (nil without --metrics-interval).
	rec *recorder
	// steadyRSS is the manager's resident memory at the end of the steady window, in MiB.
	steadyRSS float64
}

// rss reads each manager's resident memory now as its steady-state figure, and returns the
// highest.
func (s *stack) rss() float64 {
	high := 0.0
	for _, m := range s.mgrs {
		if b, err := m.proc.RSS(); err == nil {
			m.steadyRSS = mib(b)
			high = max(high, m.steadyRSS)
		}
	}
	return high
}

func (s *stack) stop() {
	for _, m := range s.mgrs {
		m.rec.finish()
	}
	for _, m := range s.mgrs {
		m.proc.Stop()
	}
	if s.sim != nil {
		s.sim.Stop()
	}
}

// alive fails when a manager or pbxsim has exited.
func (s *stack) alive() error {
	procs := []*localenv.Proc{s.sim}
	for _, m := range s.mgrs {
		procs = append(procs, m.proc)
	}
	for _, p := range procs {
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited (%v); see %s", p.Name, p.Err(), p.Log)
		default:
		}
	}
	return nil
}

// startStack starts a fresh pbxsim at the run's latency with the bench's budget for each of its
// clients, the run's namespace, credentials Secrets and Accounts, and fresh managers at default
// flags (one per shard), and waits until every Account is Ready.
func (b *bench) startStack(ctx context.Context, spec runSpec) (*stack, error) {
	s := &stack{}
	addr, err := localenv.FreeAddr()
	if err != nil {
		return s, err
	}
	simConfig, err := b.simConfigFor(spec.Shards)
	if err != nil {
		return s, err
	}
	s.simURL = "http://" + addr + "/"
	s.sim, err = b.env.Run("pbxsim-"+spec.name(), b.simBin, "--admin", "--listen", addr,
		"--config", simConfig, "--latency", spec.Latency.String())
	if err != nil {
		return s, err
	}
	if err := localenv.WaitHTTP(ctx, s.sim, s.simURL+"oauth/token"); err != nil {
		return s, err
	}
	rate := map[string]int{"per_hour": b.budget}
	for i := 1; i <= spec.managers(); i++ {
		// The first account is the demo client's (pbxsim.DemoClientID), the others shardClient's.
		if err := localenv.SimAdmin(ctx, s.simURL, http.MethodPut, fmt.Sprintf("/clients/%d/rate-limit", i), rate, nil); err != nil {
			return s, err
		}
	}

	if _, err := b.env.KubectlIn(ctx, []byte(accountsManifest(spec, s.simURL)), "apply", "-f", "-"); err != nil {
		return s, err
	}

	for i := 1; i <= spec.managers(); i++ {
		m := &managerProc{}
		if spec.sharded() {
			m.shard = shardName(i)
		}
		err := b.startManager(ctx, spec, m)
		if m.proc != nil {
			s.mgrs = append(s.mgrs, m)
		}
		if err != nil {
			return s, err
		}
	}
	return s, b.waitAccounts(ctx, spec, s)
}

// startManager starts one manager of the run and waits until it is ready.
func (b *bench) startManager(ctx context.Context, spec runSpec, m *managerProc) error {
	probe, err := localenv.FreeAddr()
	if err != nil {
		return err
	}
	// Default flags: only what a manager out of a cluster needs (no leader election, which would
	// need a namespace, a free probe address), and the metrics server that the chart enables by
	// default, on loopback HTTP (in a cluster it is HTTPS behind the API server's authorization),
	// when the run records its metrics.
	metrics := "0"
	if b.metricsInterval > 0 {
		if metrics, err = localenv.FreeAddr(); err != nil {
			return err
		}
	}
	leader := []string{"--leader-elect=false"}
	name := "manager-" + spec.name()
	if m.shard != "" {
		// A shard's manager as the chart runs it: its shard, its label selector, and leader
		// election on the shard's own Lease (in the run's namespace), which also proves that the
		// shards' Leases differ: a shared one would leave all but one shard without a leader.
		leader = []string{"--leader-elect=true", "--leader-election-namespace=" + spec.name(),
			"--shard=" + m.shard, "--watch-label-selector=" + v1alpha1.LabelShard + "=" + m.shard}
		name += "-" + m.shard
	}
	args := append(leader, "--metrics-bind-address="+metrics, "--metrics-secure=false",
		"--health-probe-bind-address="+probe)
	args = append(args, b.managerArgs...)
	if m.proc, err = b.env.Run(name, b.managerBin, args...); err != nil {
		return err
	}
	if err := localenv.WaitHTTP(ctx, m.proc, "http://"+probe+"/readyz"); err != nil {
		return err
	}
	if b.metricsInterval > 0 {
		if m.rec, err = startRecorder(ctx, "http://"+metrics+"/metrics", metricsPath(b.outDir, spec, m.shard), b.metricsInterval); err != nil {
			return err
		}
	}
	return nil
}

// waitAccounts waits until every Account of the run is Ready.
func (b *bench) waitAccounts(ctx context.Context, spec runSpec, s *stack) error {
	ns := spec.name()
	deadline := time.Now().Add(time.Minute)
	for i := 1; i <= spec.managers(); i++ {
		for {
			var acc v1alpha1.Account
			err := b.kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: accountName(spec, i)}, &acc)
			if err == nil && meta.IsStatusConditionTrue(acc.Status.Conditions, v1alpha1.ConditionReady) {
				break
			}
			if err := s.alive(); err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return errors.Join(fmt.Errorf("the Account %s did not become Ready within a minute", accountName(spec, i)), err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// accountName is the name of the i-th Account (from 1) of a run: bench, or bench-s<i> when the
// run is sharded.
func accountName(spec runSpec, i int) string {
	if spec.sharded() {
		return "bench-" + shardName(i)
	}
	return "bench"
}

// accountsManifest is the run's namespace and, per account, its credentials Secret and Account;
// a sharded run's accounts carry their shard's label and each uses its own pbxsim client.
func accountsManifest(spec runSpec, simURL string) string {
	ns := spec.name()
	if !spec.sharded() {
		return accountManifest(ns, simURL)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
	for i := 1; i <= spec.Shards; i++ {
		fmt.Fprintf(&sb, `---
apiVersion: v1
kind: Secret
metadata:
  name: %[2]s-credentials
  namespace: %[1]s
  labels:
    %[3]s: "true"
type: Opaque
stringData:
  clientID: %[4]s
  clientSecret: %[5]s
  url: %[6]s
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: %[2]s
  namespace: %[1]s
  labels:
    %[7]s: %[8]s
spec:
  url: %[6]s
  credentialsSecretRef:
    name: %[2]s-credentials
  pollIntervalSeconds: %[9]d
`, ns, accountName(spec, i), v1alpha1.LabelCredentials, shardAppID(i), pbxsim.DemoAppSecret, simURL,
			v1alpha1.LabelShard, shardName(i), int(pollInterval.Seconds()))
	}
	return sb.String()
}

// accountManifest is the run's namespace, the labelled Secret with pbxsim's demo credentials, and
// an Account that polls every 10 seconds.
func accountManifest(ns, simURL string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: v1
kind: Secret
metadata:
  name: bench-credentials
  namespace: %[1]s
  labels:
    %[2]s: "true"
type: Opaque
stringData:
  clientID: %[3]s
  clientSecret: %[4]s
  url: %[5]s
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: bench
  namespace: %[1]s
spec:
  url: %[5]s
  credentialsSecretRef:
    name: bench-credentials
  pollIntervalSeconds: %[6]d
`, ns, v1alpha1.LabelCredentials, pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret, simURL, int(pollInterval.Seconds()))
}

// extensionsManifest is the run's N Extensions numbered from 10000, in one YAML stream. In a sharded run
// they are dealt out over the accounts in turn (so that all shards work from the apply's start),
// each labelled with its account's shard.
func extensionsManifest(spec runSpec) []byte {
	var sb strings.Builder
	for i := range spec.N {
		num := 10000 + i
		account, labels := "bench", ""
		if spec.sharded() {
			shard := i%spec.Shards + 1
			account = accountName(spec, shard)
			labels = fmt.Sprintf("\n  labels:\n    %s: %s", v1alpha1.LabelShard, shardName(shard))
		}
		fmt.Fprintf(&sb, `---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata:
  name: ext-%[2]d
  namespace: %[1]s%[4]s
spec:
  accountRef:
    kind: Account
    name: %[3]s
  name: "%[2]d"
  type: Phone
  label: Bench %[2]d
`, spec.name(), num, account, labels)
	}
	return []byte(sb.String())
}
