package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

// Exit codes of plan, for CI gates.
const (
	planNoChanges = 0
	planError     = 1
	planChanges   = 2
)

// files collects repeated -f flags.
type files []string

func (f *files) String() string     { return fmt.Sprint([]string(*f)) }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func plan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("kubectl pbx plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var k kube
	k.register(fs)
	var (
		paths  files
		prune  bool
		output string
	)
	fs.Var(&paths, "f", "a manifest file, a directory of them, or - for stdin (repeatable)")
	fs.BoolVar(&prune, "prune", true, "plan the deletion of resources of the manifests' namespaces that the manifests do not hold")
	fs.StringVar(&output, "o", "", "output format: empty for text, json for scripts")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: kubectl pbx plan -f FILE|DIR|- [-n NS] [--prune=false] [-o json]\n\n"+
			"Shows what the operator would do to the PBX if the manifests were applied: create, update\n"+
			"(with a field diff), adopt, conflict, already exists, delete on removal. Writes nothing.\n"+
			"Exit code: 0 nothing to do, 2 changes or objects that would stall, 1 an error.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return planError, err
	}
	if len(paths) == 0 {
		return planError, fmt.Errorf("give the manifests with -f FILE, -f DIR or -f -")
	}
	if output != "" && output != "json" {
		return planError, fmt.Errorf("-o %q: want json or nothing", output)
	}
	ns, err := k.ns()
	if err != nil {
		return planError, err
	}
	c, err := k.client()
	if err != nil {
		return planError, err
	}
	cmd := plugin.PlanCommand{Kube: c, Paths: paths, Stdin: stdin, Namespace: ns, Prune: prune, Progress: progress(stderr), UserAgent: "kubectl-pbx/" + version}
	result, err := cmd.Run(ctx)
	if err != nil {
		return planError, err
	}
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(result)
	} else {
		err = result.WriteText(stdout)
	}
	if err != nil {
		return planError, err
	}
	if result.HasChanges() {
		return planChanges, nil
	}
	return planNoChanges, nil
}
