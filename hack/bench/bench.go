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
	// simConfig is the pbxsim --config file: the demo tenant with five-digit extension names.
	simConfig string
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

	tenant := pbxsim.DemoConfig()
	tenant.Clients[0].ExtensionLen = extensionLen
	data, err := json.Marshal(tenant)
	if err != nil {
		return err
	}
	b.simConfig = filepath.Join(b.env.Dir, "pbxsim-config.json")
	return os.WriteFile(b.simConfig, data, 0o600)
}

func (b *bench) stop() {
	progress("Stopping the control plane")
	b.env.Stop()
}

// stack is one run's pbxsim and manager.
type stack struct {
	sim, mgr *localenv.Proc
	simURL   string
	// rec records the manager's metrics (nil without --metrics-interval).
	rec *recorder
}

func (s *stack) stop() {
	s.rec.finish()
	if s.mgr != nil {
		s.mgr.Stop()
	}
	if s.sim != nil {
		s.sim.Stop()
	}
}

// alive fails when the manager or pbxsim has exited.
func (s *stack) alive() error {
	for _, p := range []*localenv.Proc{s.mgr, s.sim} {
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited (%v); see %s", p.Name, p.Err(), p.Log)
		default:
		}
	}
	return nil
}

// startStack starts a fresh pbxsim at the run's latency with the bench's budget, the run's
// namespace, credentials Secret and Account, and a fresh manager at default flags, and waits until
// the Account is Ready.
func (b *bench) startStack(ctx context.Context, spec runSpec) (*stack, error) {
	s := &stack{}
	addr, err := localenv.FreeAddr()
	if err != nil {
		return s, err
	}
	s.simURL = "http://" + addr + "/"
	s.sim, err = b.env.Run("pbxsim-"+spec.name(), b.simBin, "--admin", "--listen", addr,
		"--config", b.simConfig, "--latency", spec.Latency.String())
	if err != nil {
		return s, err
	}
	if err := localenv.WaitHTTP(ctx, s.sim, s.simURL+"oauth/token"); err != nil {
		return s, err
	}
	rate := map[string]int{"per_hour": b.budget}
	if err := localenv.SimAdmin(ctx, s.simURL, http.MethodPut, fmt.Sprintf("/clients/%d/rate-limit", pbxsim.DemoClientID), rate, nil); err != nil {
		return s, err
	}

	if _, err := b.env.KubectlIn(ctx, []byte(accountManifest(spec.name(), s.simURL)), "apply", "-f", "-"); err != nil {
		return s, err
	}

	probe, err := localenv.FreeAddr()
	if err != nil {
		return s, err
	}
	// Default flags: only what a manager out of a cluster needs (no leader election, which would
	// need a namespace, a free probe address), and the metrics server that the chart enables by
	// default, on loopback HTTP (in a cluster it is HTTPS behind the API server's authorization),
	// when the run records its metrics.
	metrics := "0"
	if b.metricsInterval > 0 {
		if metrics, err = localenv.FreeAddr(); err != nil {
			return s, err
		}
	}
	args := append([]string{"--leader-elect=false", "--metrics-bind-address=" + metrics, "--metrics-secure=false",
		"--health-probe-bind-address=" + probe}, b.managerArgs...)
	s.mgr, err = b.env.Run("manager-"+spec.name(), b.managerBin, args...)
	if err != nil {
		return s, err
	}
	if err := localenv.WaitHTTP(ctx, s.mgr, "http://"+probe+"/readyz"); err != nil {
		return s, err
	}
	if b.metricsInterval > 0 {
		if s.rec, err = startRecorder(ctx, "http://"+metrics+"/metrics", metricsPath(b.outDir, spec), b.metricsInterval); err != nil {
			return s, err
		}
	}
	return s, b.waitAccount(ctx, spec.name(), s)
}

func (b *bench) waitAccount(ctx context.Context, ns string, s *stack) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var acc v1alpha1.Account
		err := b.kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bench"}, &acc)
		if err == nil && meta.IsStatusConditionTrue(acc.Status.Conditions, v1alpha1.ConditionReady) {
			return nil
		}
		if err := s.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.Join(errors.New("the Account did not become Ready within a minute"), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
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

// extensionsManifest is N Extensions numbered from 10000, in one YAML stream.
func extensionsManifest(ns string, n int) []byte {
	var sb strings.Builder
	for i := range n {
		num := 10000 + i
		fmt.Fprintf(&sb, `---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata:
  name: ext-%[2]d
  namespace: %[1]s
spec:
  accountRef:
    kind: Account
    name: bench
  name: "%[2]d"
  type: Phone
  label: Bench %[2]d
`, ns, num)
	}
	return []byte(sb.String())
}
