// Command demo runs pbx-operator's main job on this machine ('make demo'): the local control
// plane, pbxsim and the manager as local processes, the samples applied with kubectl, and the
// Kubernetes view next to the PBX's own. It then keeps running until Ctrl-C, or, with --once,
// checks the result and exits (non-zero on any failure).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo: error:", err)
		os.Exit(1)
	}
}

func run() error {
	assets := flag.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "folder with etcd, kube-apiserver and kubectl ('make envtest' prints it)")
	manager := flag.String("manager", "bin/manager", "the manager binary ('make build')")
	sim := flag.String("pbxsim", "bin/pbxsim", "the pbxsim binary ('make build-sim')")
	simAddr := flag.String("sim-addr", "127.0.0.1:8090", "address for pbxsim; config/samples point at 127.0.0.1:8090")
	dir := flag.String("dir", "", "folder for the kubeconfig and the logs (default: a new temporary folder)")
	once := flag.Bool("once", false, "check that the samples become Ready, print the result and exit")
	timeout := flag.Duration("timeout", 3*time.Minute, "how long to wait for the samples to become Ready")
	hookAddr := flag.String("hook-addr", "127.0.0.1:8099", "address of the demo's webhook receiver; the EventSubscription samples point at 127.0.0.1:8099")
	flag.Parse()

	for _, b := range []struct{ path, make string }{{*manager, "make build"}, {*sim, "make build-sim"}} {
		if _, err := os.Stat(b.path); err != nil {
			return fmt.Errorf("%s is missing: run '%s' first (make demo does)", b.path, b.make)
		}
	}
	if *assets == "" {
		return errors.New("no control plane binaries: pass --assets $(make -s envtest) (make demo does)")
	}
	if err := localenv.CheckFree(*simAddr); err != nil {
		return fmt.Errorf("pbxsim cannot listen: %w", err)
	}
	hooks, err := listenHooks(*hookAddr)
	if err != nil {
		return fmt.Errorf("the webhook receiver cannot listen: %w", err)
	}
	defer hooks.Close() //nolint:errcheck // the demo ends
	if *dir == "" {
		d, err := os.MkdirTemp("", "pbx-operator-demo-")
		if err != nil {
			return err
		}
		*dir = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step("Starting the local control plane (etcd, kube-apiserver); logs and kubeconfig in %s", *dir)
	env, err := localenv.Start(*assets, *dir)
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping the manager, pbxsim and the control plane")
		env.Stop()
	}()

	simURL := "http://" + *simAddr + "/"
	step("Starting pbxsim on %s (demo tenant: app demo-trusted / demo-secret)", simURL)
	simProc, err := env.Run("pbxsim", abs(*sim), "--listen", *simAddr, "--admin")
	if err != nil {
		return err
	}
	if err := localenv.WaitHTTP(ctx, simProc, simURL+"oauth/token"); err != nil {
		return err
	}

	step("Installing the CRDs: kubectl apply -k config/crd")
	if out, err := env.Kubectl(ctx, "apply", "--server-side", "-k", "config/crd"); err != nil {
		return err
	} else if _, err := env.Kubectl(ctx, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"); err != nil {
		return err
	} else {
		fmt.Print(indent(out))
	}

	probe, err := localenv.FreeAddr()
	if err != nil {
		return err
	}
	step("Starting the manager (log: %s)", filepath.Join(*dir, "manager.log"))
	mgr, err := env.Run("manager", abs(*manager), "--leader-elect=false", "--metrics-bind-address=0",
		"--health-probe-bind-address="+probe, "--poll-interval=30s")
	if err != nil {
		return err
	}
	if err := localenv.WaitHTTP(ctx, mgr, "http://"+probe+"/readyz"); err != nil {
		return err
	}

	step("Applying the samples: kubectl apply -k config/samples")
	out, err := env.Kubectl(ctx, "apply", "-n", "default", "-k", "config/samples")
	if err != nil {
		return err
	}
	fmt.Print(indent(out))

	step("Waiting for the samples to become Ready")
	if err := waitReady(ctx, env, *timeout, mgr, simProc); err != nil {
		return err
	}

	step("kubectl get pbx")
	if out, err = env.Kubectl(ctx, "get", "pbx", "-A", "-o", "wide"); err != nil {
		return err
	}
	fmt.Print(indent(out))
	step("The PBX's own view (pbxsim)")
	snap, err := localenv.SimSnapshot(ctx, simURL)
	if err != nil {
		return err
	}
	fmt.Print(indent(pbxView(snap)))

	if err := phoneLine(ctx, env, simURL, hooks); err != nil {
		return err
	}

	if rss, err := mgr.RSS(); err == nil {
		step("The manager's memory (RSS): %.1f MiB", float64(rss)/(1<<20))
	}
	if *once {
		if n := len(snap.Extensions); n != 6 || len(snap.ExtensionGroups) != 2 {
			return fmt.Errorf("want the 6 sample extensions and 2 groups in the PBX, found %d and %d", n, len(snap.ExtensionGroups))
		}
		if len(hooks.received()) == 0 {
			return errors.New("the simulated call delivered no event to the webhook receiver")
		}
		step("The demo works: every sample is Ready and in the PBX, alice's phone registers, and her calls reach the webhook")
		return nil
	}
	step("The demo is running. In another shell:")
	fmt.Printf(`
    export KUBECONFIG=%s
    kubectl get pbx
    kubectl edit ext alice                     # change the label; the PBX follows
    kubectl delete ext bob                     # the PBX extension goes too
    kubectl annotate ext alice pbx.cloudpbx.dev/rotate-credentials=$(date +%%s)   # a new SIP password
    curl -s -d '{"extension":"101"}' %s_pbxsim/calls   # a call to alice: her webhooks fire
    curl -s %s_pbxsim/snapshot                 # the PBX's view
    # Change the PBX behind the operator's back (it is reverted within the 30s poll):
    TOKEN=$(curl -s -d grant_type=client_credentials -d client_id=demo-trusted -d client_secret=demo-secret %soauth/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
    curl -s -X PUT -H "Authorization: Bearer $TOKEN" -d '{"label":"edited in the PBX"}' %sapi/ver1.0/client/@me/extension/$(kubectl get ext alice -o jsonpath='{.status.id}')

Press Ctrl-C to stop everything.
`, env.Kubeconfig, simURL, simURL, simURL, simURL)
	select {
	case <-ctx.Done():
		return nil
	case <-mgr.Done():
		return fmt.Errorf("the manager exited (%v); see %s", mgr.Err(), mgr.Log)
	case <-simProc.Done():
		return fmt.Errorf("pbxsim exited (%v); see %s", simProc.Err(), simProc.Log)
	}
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// waitReady polls kubectl until every sample is Ready, printing progress, and fails early if the
// manager or pbxsim dies.
func waitReady(ctx context.Context, env *localenv.Env, timeout time.Duration, procs ...*localenv.Proc) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		out, err := env.Kubectl(ctx, "get", "accounts,extensiongroups,extensions,phonenumbers,eventsubscriptions", "-A", "-o", "json")
		if err != nil {
			return err
		}
		var list struct {
			Items []struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
				Status struct {
					Conditions []struct {
						Type, Status, Reason, Message string
					} `json:"conditions"`
				} `json:"status"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			return err
		}
		ready, waiting := 0, []string{}
		for _, it := range list.Items {
			ok := false
			for _, c := range it.Status.Conditions {
				if c.Type == "Ready" && c.Status == "True" {
					ok = true
				}
			}
			if ok {
				ready++
			} else {
				waiting = append(waiting, it.Kind+"/"+it.Metadata.Name)
			}
		}
		line := fmt.Sprintf("%d/%d Ready", ready, len(list.Items))
		if len(waiting) > 0 {
			line += " (waiting: " + strings.Join(waiting, ", ") + ")"
		}
		if line != last {
			fmt.Println("    " + line)
			last = line
		}
		if len(list.Items) > 0 && len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the samples did not become Ready in time: %s; see the logs in %s", line, env.Dir)
		}
		for _, p := range procs {
			select {
			case <-p.Done():
				return fmt.Errorf("%s exited (%v); see %s", p.Name, p.Err(), p.Log)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// pbxView prints the PBX's groups and extensions as tables.
func pbxView(s pbxsim.Snapshot) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	groups := map[float64]string{}
	fmt.Fprintln(tw, "GROUP ID\tNAME\tEXTRA PARAMS")
	for _, g := range s.ExtensionGroups {
		groups[g["id"].(float64)] = fmt.Sprint(g["name"])
		fmt.Fprintf(tw, "%v\t%v\t%v\n", g["id"], g["name"], orDash(g["extra_params"]))
	}
	fmt.Fprintln(tw, "\t\t")
	fmt.Fprintln(tw, "EXTENSION ID\tNAME\tTYPE\tSTATUS\tLABEL\tGROUP")
	exts := s.Extensions
	sort.Slice(exts, func(i, j int) bool { return fmt.Sprint(exts[i]["name"]) < fmt.Sprint(exts[j]["name"]) })
	for _, x := range exts {
		group := "-"
		if id, ok := x["extension_group_id"].(float64); ok {
			group = groups[id]
		}
		fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\t%v\n", x["id"], x["name"], x["type"], x["status"], orDash(x["label"]), group)
	}
	tw.Flush() //nolint:errcheck,gosec // a strings.Builder does not fail
	return b.String()
}

func orDash(v any) string {
	if v == nil || v == "" {
		return "-"
	}
	return fmt.Sprint(v)
}
