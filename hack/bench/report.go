package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// report is everything one bench invocation measured.
type report struct {
	Machine machineInfo `json:"machine"`
	Command string      `json:"command"`
	Started string      `json:"started"`
	// ManagerArgs are the manager flags beyond those a manager out of a cluster needs; none for
	// the figures of record.
	ManagerArgs []string `json:"managerArgs,omitempty"`
	Runs        []result `json:"runs"`
}

// merge reads the bench.json files of earlier invocations into one report: the machine and
// start of the first, every command, and all runs.
func merge(paths []string) (report, error) {
	var out report
	for i, p := range paths {
		data, err := os.ReadFile(strings.TrimSpace(p))
		if err != nil {
			return out, err
		}
		var r report
		if err := json.Unmarshal(data, &r); err != nil {
			return out, fmt.Errorf("%s: %w", p, err)
		}
		if i == 0 {
			out = r
			continue
		}
		if r.Command != out.Command {
			out.Command += "` and `" + r.Command
		}
		out.Runs = append(out.Runs, r.Runs...)
	}
	return out, nil
}

// write writes bench.md, bench.json and ready.svg into dir.
func (r report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	for name, content := range map[string][]byte{
		"bench.json": append(data, '\n'),
		"bench.md":   []byte(r.markdown()),
		"ready.svg":  []byte(plot(r.Runs)),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil { //nolint:gosec // results to share
			return err
		}
	}
	return nil
}

// markdown is the machine, the command and one table row per run.
func (r report) markdown() string {
	var b strings.Builder
	budget := 0
	if len(r.Runs) > 0 {
		budget = r.Runs[0].Budget
	}
	flags := "manager at default flags"
	if len(r.ManagerArgs) > 0 {
		flags = "EXPERIMENT: manager with " + strings.Join(r.ManagerArgs, " ")
	}
	fmt.Fprintf(&b, "Measured %s with `%s` on %d CPUs (%s), %s, %s; tenant budget %s requests/h; "+
		"%s; Account poll interval %d s.\n\n",
		r.Started, r.Command, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion, r.Machine.OS,
		thousands(budget), flags, int(pollInterval.Seconds()))
	// The managers column appears when some run is sharded, so that a table without one reads as
	// it always did.
	sharded := false
	for _, x := range r.Runs {
		sharded = sharded || x.Shards > 1
	}
	mgrCol, mgrSep := "", ""
	if sharded {
		mgrCol, mgrSep = " managers |", "---|"
	}
	b.WriteString("| N |" + mgrCol + " PBX latency | apply | all Ready after apply | PBX calls (create) | API-server writes (create) " +
		"| writes / object | manager CPU | apiserver + etcd CPU | manager RSS peak / steady " +
		"| steady: PBX calls per poll | steady: API writes | an edit Synced | delete all | leftovers | load avg |\n")
	b.WriteString("|---:|" + mgrSep + "---:|---:|---:|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	cols := 16
	if sharded {
		cols++
	}
	var failed []string
	for _, x := range r.Runs {
		row := []string{thousands(x.N)}
		if sharded {
			row = append(row, managersCell(x))
		}
		row = append(row, fmt.Sprintf("%d ms", x.LatencyMS))
		if x.Error != "" {
			what := fmt.Sprintf("N=%s at %d ms", thousands(x.N), x.LatencyMS)
			if x.Shards > 1 {
				what += fmt.Sprintf(" on %d shards", x.Shards)
			}
			failed = append(failed, what+": "+x.Error)
		}
		if x.ReadyFromStartSeconds == 0 {
			row = append(row, fmt.Sprintf("%.2f s", x.ApplySeconds), "failed")
			for len(row) < cols-1 {
				row = append(row, "–")
			}
			row = append(row, fmt.Sprintf("%.1f", x.LoadAvg))
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
			continue
		}
		total, user := objectWrites(x.Create.Writes)
		row = append(row,
			fmt.Sprintf("%.2f s", x.ApplySeconds),
			fmt.Sprintf("**%.2f s** (%.2f s from its start)", x.ReadySeconds, x.ReadyFromStartSeconds),
			calls(x.Create.PBXCalls),
			writes(x.Create.Writes),
			fmt.Sprintf("%.2f (manager %.2f)", float64(total)/float64(x.N), float64(total-user)/float64(x.N)),
			managerCPU(x),
			fmt.Sprintf("%.1f s", x.Create.CPU.APIServer+x.Create.CPU.Etcd),
			managerRSS(x),
			steadyCalls(x),
			fmt.Sprint(countWrites(x.Steady.Writes)),
			fmt.Sprintf("%.2f s", x.UpdateSeconds),
		)
		switch {
		case x.DeleteSkipped:
			row = append(row, "not run (--keep)", "–")
		case x.DeleteSeconds > 0:
			row = append(row, fmt.Sprintf("%.2f s", x.DeleteSeconds), fmt.Sprint(x.Leftovers))
		default:
			row = append(row, "failed", "–")
		}
		row = append(row, fmt.Sprintf("%.1f", x.LoadAvg))
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	b.WriteString("\nApply is `kubectl apply --server-side` of all Extensions at once; \"all Ready after apply\" counts from its " +
		"return. Writes are kube-apiserver's `apiserver_request_total` of POST, PUT, PATCH, DELETE and APPLY from the " +
		"apply's start until 5 s after the last Ready (the API server's own lease renewals left out); writes / object " +
		"counts those on Extensions and Events, with the user's apply, and without it for the manager. " +
		"The steady window is ")
	if len(r.Runs) > 0 {
		fmt.Fprintf(&b, "%.0f s ", r.Runs[0].Steady.Seconds)
	}
	b.WriteString("after that; load avg is the machine's 1-minute load average when the run started (2 CPUs are shared).\n")
	if sharded {
		b.WriteString("\nA run on K shards runs K managers, shard i with `--shard=s<i> --watch-label-selector=" + v1alpha1.LabelShard +
			"=s<i>` and leader election on its own Lease (the API server's lease writes are left out like its own), one " +
			"Account per shard on its own pbxsim client, and the N Extensions dealt out over the accounts in turn by the " +
			"same one apply, each labelled with its account's shard. Its counts and times are those of all managers " +
			"together; manager CPU is their sum (each shard's in brackets), manager RSS each manager's, and the steady " +
			"PBX calls per poll are all accounts' (and per account).\n")
	}
	for _, f := range failed {
		b.WriteString("\nFailed: " + f + "\n")
	}
	return b.String()
}

// managersCell says how many managers a run had: 1, or "2 shards × 5,000".
func managersCell(x result) string {
	if x.Shards <= 1 {
		return "1"
	}
	per := thousands(x.N / x.Shards)
	if x.N%x.Shards != 0 {
		per = "~" + per
	}
	return fmt.Sprintf("%d shards × %s", x.Shards, per)
}

// managerCPU is the managers' CPU time in the create phase: the sum, and each shard's.
func managerCPU(x result) string {
	if len(x.Managers) < 2 {
		return fmt.Sprintf("%.1f s", x.Create.CPU.Manager)
	}
	var parts []string
	for _, m := range x.Managers {
		parts = append(parts, fmt.Sprintf("%s %.1f", m.Shard, m.CreateCPUSeconds))
	}
	return fmt.Sprintf("%.1f s (%s)", x.Create.CPU.Manager, strings.Join(parts, ", "))
}

// managerRSS is the peak and steady resident memory of the manager, or of each shard's.
func managerRSS(x result) string {
	if len(x.Managers) < 2 {
		return fmt.Sprintf("%.0f / %.0f MiB", x.PeakRSSMiB, x.SteadyRSSMiB)
	}
	var parts []string
	for _, m := range x.Managers {
		parts = append(parts, fmt.Sprintf("%s %.0f / %.0f", m.Shard, m.PeakRSSMiB, m.SteadyRSSMiB))
	}
	return strings.Join(parts, ", ") + " MiB"
}

// objectWrites returns the writes on Extensions and Events, and the part of them that was the
// user's own apply (APPLY or POST of the Extensions themselves).
func objectWrites(ws []writeCount) (total, user int) {
	for _, w := range ws {
		if w.Resource != "extensions" && w.Resource != "events" {
			continue
		}
		total += w.Count
		if w.Resource == "extensions" && w.Subresource == "" && (w.Verb == "APPLY" || w.Verb == "POST") {
			user += w.Count
		}
	}
	return total, user
}

// ownLease is a renewal of a Lease: the API server's own identity lease, which is not the
// operator's, and in a sharded run the shard managers' leader election (a renewal every few
// seconds whatever the load, which an unsharded run of the bench does without).
func ownLease(w writeCount) bool { return w.Resource == "leases" }

func countWrites(ws []writeCount) int {
	n := 0
	for _, w := range ws {
		if !ownLease(w) {
			n += w.Count
		}
	}
	return n
}

// writes lists the writes by verb and resource, such as "PATCH extensions/status 100".
func writes(ws []writeCount) string {
	var parts []string
	for _, w := range ws {
		if ownLease(w) {
			continue
		}
		res := w.Resource
		if w.Subresource != "" {
			res += "/" + w.Subresource
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", w.Verb, res, thousands(w.Count)))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

// calls lists PBX calls by verb, such as "POST 100, GET 2".
func calls(c map[string]int) string {
	keys := slices.Sorted(maps.Keys(c))
	slices.SortStableFunc(keys, func(a, b string) int { return c[b] - c[a] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s", k, thousands(c[k])))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

// steadyCalls is the PBX calls per poll interval in the steady window, with the raw counts.
func steadyCalls(x result) string {
	total := 0
	for _, n := range x.Steady.PBXCalls {
		total += n
	}
	polls := x.Steady.Seconds / float64(x.PollIntervalSeconds)
	if polls <= 0 {
		return "–"
	}
	out := fmt.Sprintf("%.1f (%s in %.0f s)", float64(total)/polls, calls(x.Steady.PBXCalls), x.Steady.Seconds)
	if x.Shards > 1 {
		out += fmt.Sprintf("; %.1f per account", float64(total)/polls/float64(x.Shards))
	}
	return out
}

// thousands formats n with commas: 10,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
