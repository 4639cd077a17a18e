package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

func status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kubectl pbx status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var k kube
	k.register(fs)
	var (
		output    string
		all       bool
		maxErrors int
	)
	fs.StringVar(&output, "o", "", "output format: empty for text, json for scripts")
	fs.BoolVar(&all, "all-namespaces", false, "every namespace")
	fs.BoolVar(&all, "A", false, "shorthand for --all-namespaces")
	fs.IntVar(&maxErrors, "errors", 10, "how many of the last errors to show per account")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: kubectl pbx status [-n NS | -A] [-o json]\n\n"+
			"One screen per account: managed objects by Ready and Synced reason, the drifted ones and the\n"+
			"last errors, from the custom resources' status.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if output != "" && output != "json" {
		return fmt.Errorf("-o %q: want json or nothing", output)
	}
	ns := ""
	if !all {
		var err error
		if ns, err = k.ns(); err != nil {
			return err
		}
	}
	c, err := k.client()
	if err != nil {
		return err
	}
	report, err := plugin.ReadStatus(ctx, c, ns, maxErrors)
	if err != nil {
		return err
	}
	if output == "json" {
		return report.WriteJSON(stdout)
	}
	return report.WriteText(stdout)
}
