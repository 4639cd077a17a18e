package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// The environment shared by the tests.
var (
	env    *localenv.Env
	simURL string
	bins   string // the folder of the built manager and pbxsim
	root   string // the repository
	kube   client.Client
)

// Names in the cluster and in the PBX.
const (
	nsMain           = "chaos"      // the Account, groups and Extensions that stay
	nsGone           = "chaos-gone" // an Account deleted with its Extensions
	leaseName        = "pbx-operator.cloudpbx.dev"
	leaseNS          = "default"
	simSeed          = "42"
	pbxTimeout       = 3 * time.Second // the manager's --pbx-timeout; latency spikes go past it
	pollInterval     = 5 * time.Second // the manager's --poll-interval
	extensionLen     = 4               // digits of the chaos tenant's extension names
	secretName       = "pbx-credentials"
	accountName      = "demo"
	credentialsLabel = "pbx.cloudpbx.dev/credentials" // the opt-in label of credential Secrets
)

func TestMain(m *testing.M) {
	os.Exit(localenv.RunSuite(m, "chaos", func(s localenv.Suite) int {
		root, bins, env = s.Root, s.Bins, s.Env
		return setup()
	}))
}

// tenant is pbxsim's demo tenant (the same client, prefix and credentials) with four-digit
// extension names, so that more than 1,000 fit, and an hourly budget that a long run cannot spend:
// the chaos suite injects its 429s itself.
func tenant() pbxsim.Config {
	cfg := pbxsim.DemoConfig()
	cfg.Clients[0].ExtensionLen = extensionLen
	cfg.Clients[0].RateLimitPerHour = 10_000_000
	return cfg
}

// setup starts pbxsim, installs the CRDs and builds the Kubernetes client. The test starts the
// manager, which it kills and restarts.
func setup() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfgPath := filepath.Join(env.Dir, "pbxsim-config.json")
	data, err := json.Marshal(tenant())
	if err == nil {
		err = os.WriteFile(cfgPath, data, 0o600)
	}
	var addr string
	if err == nil {
		addr, err = localenv.FreeAddr()
	}
	if err == nil {
		simURL = "http://" + addr + "/"
		var sim *localenv.Proc
		if sim, err = env.Run("pbxsim", filepath.Join(bins, "pbxsim"), "--listen", addr, "--admin", "--strict-slashes",
			"--seed", simSeed, "--config", cfgPath); err == nil {
			err = localenv.WaitHTTP(ctx, sim, simURL+"oauth/token")
		}
	}
	if err == nil {
		_, err = env.Kubectl(ctx, "apply", "--server-side", "-k", filepath.Join(root, "config", "crd"))
	}
	if err == nil {
		_, err = env.Kubectl(ctx, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
	}
	if err == nil {
		var cfg = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: env.Kubeconfig}, nil)
		rc, cerr := cfg.ClientConfig()
		if err = cerr; err == nil {
			rc.QPS, rc.Burst = 100, 200
			kube, err = client.New(rc, client.Options{Scheme: localenv.Scheme()})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos setup:", err)
		return 1
	}
	return 0
}

// manager runs the manager binary, kills it with SIGKILL and starts it again.
type manager struct {
	t    *testing.T
	proc *localenv.Proc
	// waitLease makes a restart wait for the killed manager's leader lease to expire, as a new pod
	// in a cluster does (about 15 s); otherwise the lease is deleted first, to keep the run short.
	waitLease bool
	kills     int
}

// start starts the manager with leader election, as in a cluster, and waits for its health probe.
func (m *manager) start() {
	m.t.Helper()
	probe, err := localenv.FreeAddr()
	if err != nil {
		m.t.Fatal(err)
	}
	m.proc, err = env.Run("manager", filepath.Join(bins, "manager"),
		"--leader-elect", "--leader-election-namespace="+leaseNS, "--metrics-bind-address=0",
		"--secret-namespaces="+nsMain+","+nsGone, "--health-probe-bind-address="+probe,
		"--poll-interval="+pollInterval.String(), "--pbx-timeout="+pbxTimeout.String(),
		// A budget that lets 1,000 objects converge in minutes; the PBX's own is higher still.
		"--requests-per-second=200", "--burst=100")
	if err != nil {
		m.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := localenv.WaitHTTP(ctx, m.proc, "http://"+probe+"/healthz"); err != nil {
		m.t.Fatal(err)
	}
}

// kill ends the manager with SIGKILL, notes why in its log, and starts a new one.
func (m *manager) kill(why string) {
	m.t.Helper()
	m.down(why)
	m.start()
}

// down ends the manager with SIGKILL and notes why in its log; start brings up a new one.
func (m *manager) down(why string) {
	m.t.Helper()
	m.proc.Kill()
	m.kills++
	m.note(fmt.Sprintf("SIGKILL %d (%s)", m.kills, why))
	m.t.Logf("SIGKILL %d: %s", m.kills, why)
	if !m.waitLease {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := env.Kubectl(ctx, "delete", "lease", "-n", leaseNS, leaseName, "--ignore-not-found"); err != nil {
			m.t.Fatal(err)
		}
	}
}

// note appends a marked line to the manager's log (one file across restarts), so that a reader
// finds the kills and the phases.
func (m *manager) note(line string) {
	f, err := os.OpenFile(m.proc.Log, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "=== chaos %s: %s\n", time.Now().Format(time.TimeOnly), line)
	f.Close() //nolint:errcheck,gosec // a note for people
}

// admin calls pbxsim's admin API; out, when not nil, receives the JSON answer.
func admin(t *testing.T, method, path string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, simURL+pbxsim.AdminPrefix[1:]+path, body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("pbxsim admin %s %s: %v", method, path, err)
	}
	defer res.Body.Close() //nolint:errcheck // read in full below
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode >= 300 {
		t.Fatalf("pbxsim admin %s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("pbxsim admin %s %s: %v", method, path, err)
		}
	}
}

func snapshot(t *testing.T) pbxsim.Snapshot {
	t.Helper()
	var s pbxsim.Snapshot
	admin(t, http.MethodGet, "/snapshot", nil, &s)
	return s
}

func requestCounts(t *testing.T) []pbxsim.RequestCount {
	t.Helper()
	var c []pbxsim.RequestCount
	admin(t, http.MethodGet, "/requests", nil, &c)
	return c
}

func faultsFired(t *testing.T) map[string]int {
	t.Helper()
	var f map[string]int
	admin(t, http.MethodGet, "/faults/fired", nil, &f)
	return f
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := env.Kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kubectlIn(t *testing.T, stdin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := env.KubectlIn(ctx, []byte(stdin), args...); err != nil {
		t.Fatal(err)
	}
}
