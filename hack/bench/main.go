// Command bench measures pbx-operator at default flags on this machine ('make bench'): the local
// control plane, pbxsim and the manager as local processes, as in 'make demo'. For each run (100
// and 1,000 Extensions at 0 and 20 ms of PBX latency, and 10,000 with --full) it applies the
// Extensions with one 'kubectl apply' and measures the time until all are Ready, the PBX calls,
// the API server's writes, the manager's CPU and memory, a steady-state window and the deletion of
// everything. It prints one Markdown table and writes it, a JSON file and an SVG plot of Ready over
// time into --out-dir, with the manager's metrics of each run scraped every --metrics-interval
// (metrics-RUN.txt: 'make dashboard-render' draws the Grafana dashboard from them).
//
// Each run has its own namespace, Account, pbxsim process and manager process, so the counters,
// the CPU time and the peak memory belong to that run alone; the control plane is shared.
//
// With --shards K (K > 1) a run is sharded (docs/scaling.md): K manager processes, shard i with
// --shard=s<i> --watch-label-selector=pbx.cloudpbx.dev/shard=s<i> and its own leader election
// Lease, one Account per shard on its own pbxsim client (one pbxsim serves them all), and the N
// Extensions dealt out over the accounts in turn, each labelled with its account's shard. The
// counters are those of all managers together; memory and CPU are reported per manager too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: error:", err)
		os.Exit(1)
	}
}

func run() error {
	assets := flag.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "folder with etcd, kube-apiserver and kubectl ('make envtest' prints it)")
	manager := flag.String("manager", "bin/manager", "the manager binary ('make build')")
	sim := flag.String("pbxsim", "bin/pbxsim", "the pbxsim binary ('make build-sim')")
	outDir := flag.String("out-dir", "bin/bench", "folder for bench.md, bench.json, ready.svg and the logs of the last run (make bench also builds the program there)")
	full := flag.Bool("full", os.Getenv("BENCH_FULL") == "1", "also run 10,000 Extensions (default from BENCH_FULL=1)")
	sizes := flag.String("sizes", "100,1000", "comma-separated numbers of Extensions per run (--full adds 10000)")
	latencies := flag.String("latencies", "0,20ms", "comma-separated PBX latencies; every size runs at each")
	shards := flag.String("shards", "1", "comma-separated numbers of shards; every size and latency runs at each. K > 1 runs K managers "+
		"(--shard=s<i> with its label selector and leader election), one Account per shard, and N/K Extensions on each (docs/scaling.md)")
	budget := flag.Int("budget", 100_000, "the tenant's hourly PBX request budget, set through pbxsim's admin API")
	steady := flag.Duration("steady", 30*time.Second, "length of the steady-state window after convergence (the Account polls every 10 s)")
	timeout := flag.Duration("timeout", 15*time.Minute, "how long one run may wait for all Extensions to become Ready, or to be gone")
	keep := flag.Bool("keep", false, "skip the delete phase: with a small --budget the deletes would wait for the next hourly window")
	managerArgs := flag.String("manager-args", "", "extra manager flags, for experiments only: the figures of record are at default flags")
	metricsInterval := flag.Duration("metrics-interval", 2*time.Second, "scrape the manager's metrics this often and record them in --out-dir as metrics-RUN.txt, for 'make dashboard-render'; 0 serves no metrics")
	from := flag.String("from", "", "comma-separated bench.json files of earlier invocations: run nothing, write their runs as one table and plot")
	flag.Parse()

	if *from != "" {
		rep, err := merge(strings.Split(*from, ","))
		if err != nil {
			return err
		}
		if err := rep.write(*outDir); err != nil {
			return err
		}
		fmt.Print(rep.markdown())
		return nil
	}

	cfg := config{
		managerBin: abs(*manager), simBin: abs(*sim), budget: *budget, steady: *steady, timeout: *timeout, keep: *keep,
		managerArgs: strings.Fields(*managerArgs), outDir: *outDir, metricsInterval: *metricsInterval,
	}
	for _, b := range []struct{ path, make string }{{cfg.managerBin, "make build"}, {cfg.simBin, "make build-sim"}} {
		if _, err := os.Stat(b.path); err != nil {
			return fmt.Errorf("%s is missing: run '%s' first (make bench does)", b.path, b.make)
		}
	}
	if *assets == "" {
		return errors.New("no control plane binaries: pass --assets $(make -s envtest) (make bench does)")
	}
	runs, err := plan(*sizes, *latencies, *shards, *full)
	if err != nil {
		return err
	}
	if cfg.steady < pollInterval {
		return fmt.Errorf("--steady must be at least one poll interval (%s)", pollInterval)
	}

	logs := filepath.Join(*outDir, "logs")
	if err := os.RemoveAll(logs); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b, err := start(ctx, *assets, logs, cfg)
	if err != nil {
		return err
	}
	defer b.stop()

	rep := report{Machine: machine(), Command: command(*full), Started: time.Now().UTC().Format(time.RFC3339),
		ManagerArgs: cfg.managerArgs}
	for _, spec := range runs {
		res, err := b.run(ctx, spec)
		if err != nil {
			res.Error = err.Error()
			progress("run %s failed: %v (logs in %s)", spec, err, logs)
		}
		rep.Runs = append(rep.Runs, res)
		if ctx.Err() != nil {
			break
		}
	}
	if err := rep.write(*outDir); err != nil {
		return err
	}
	fmt.Print(rep.markdown())
	progress("wrote %s, %s and %s; logs in %s", filepath.Join(*outDir, "bench.md"),
		filepath.Join(*outDir, "bench.json"), filepath.Join(*outDir, "ready.svg"), logs)
	for _, r := range rep.Runs {
		if r.Error != "" {
			return errors.New("some runs failed; see the table")
		}
	}
	return ctx.Err()
}

// runSpec is one run: N Extensions at one PBX latency, on Shards managers (0 or 1: one unsharded
// manager, as without --shards).
type runSpec struct {
	N       int
	Latency time.Duration
	Shards  int
}

func (s runSpec) String() string {
	if s.sharded() {
		return fmt.Sprintf("N=%d latency=%s shards=%d", s.N, s.Latency, s.Shards)
	}
	return fmt.Sprintf("N=%d latency=%s", s.N, s.Latency)
}

// name is the run's namespace and log-file stem, such as n1000-20ms, or n10000-0ms-2shards.
func (s runSpec) name() string {
	if s.sharded() {
		return fmt.Sprintf("n%d-%dms-%dshards", s.N, s.Latency.Milliseconds(), s.Shards)
	}
	return fmt.Sprintf("n%d-%dms", s.N, s.Latency.Milliseconds())
}

// sharded tells whether the run has several shard managers instead of one unsharded manager.
func (s runSpec) sharded() bool { return s.Shards > 1 }

// managers is the number of manager processes of the run.
func (s runSpec) managers() int { return max(1, s.Shards) }

// maxShards bounds --shards: every shard is a manager process and a pbxsim client.
const maxShards = 16

// plan returns the runs, smallest first; at each size and latency, fewest shards first.
func plan(sizes, latencies, shards string, full bool) ([]runSpec, error) {
	var ns []int
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 90_000 {
			return nil, fmt.Errorf("--sizes: %q is not a number of Extensions between 1 and 90000", f)
		}
		ns = append(ns, n)
	}
	if full {
		ns = append(ns, 10_000)
	}
	var ls []time.Duration
	for _, f := range strings.Split(latencies, ",") {
		f = strings.TrimSpace(f)
		if f == "0" {
			f = "0s"
		}
		l, err := time.ParseDuration(f)
		if err != nil || l < 0 {
			return nil, fmt.Errorf("--latencies: %q is not a duration", f)
		}
		ls = append(ls, l)
	}
	var ks []int
	for _, f := range strings.Split(shards, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 || k > maxShards {
			return nil, fmt.Errorf("--shards: %q is not a number of shards between 1 and %d", f, maxShards)
		}
		ks = append(ks, k)
	}
	var runs []runSpec
	seen := map[runSpec]bool{}
	for _, n := range ns {
		for _, l := range ls {
			for _, k := range ks {
				if k > n {
					return nil, fmt.Errorf("--shards %d: more shards than the %d Extensions of a run", k, n)
				}
				s := runSpec{N: n, Latency: l}
				if k > 1 {
					s.Shards = k
				}
				if !seen[s] {
					seen[s] = true
					runs = append(runs, s)
				}
			}
		}
	}
	return runs, nil
}

// command is the make command that runs the bench as this invocation did.
func command(full bool) string {
	cmd := "make bench"
	if full {
		cmd += " BENCH_FULL=1"
	}
	var extra []string
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "assets", "manager", "pbxsim", "full":
		default:
			extra = append(extra, fmt.Sprintf("--%s=%s", f.Name, f.Value))
		}
	})
	if len(extra) > 0 {
		cmd += fmt.Sprintf(" BENCH_FLAGS='%s'", strings.Join(extra, " "))
	}
	return cmd
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...) }

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
