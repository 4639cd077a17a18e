package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

const usage = `Usage:
  monitoring names [--chart DIR]
      Print, as JSON, the metric names that every alert of the chart's PrometheusRule and every
      query of its dashboards select (parsed by Prometheus's PromQL parser).
  monitoring render --recording FILE [--chart DIR] [--out FILE] [--step D] [--rate-interval D]
      Draw the chart's dashboard as one SVG from a recording of the manager's /metrics (make bench
      writes one per run: bin/bench/metrics-RUN.txt), every query evaluated over the run by
      Prometheus's PromQL engine.
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "monitoring: error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("no command")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	chart := fs.String("chart", "charts/pbx-operator", "the chart's folder")
	switch args[0] {
	case "names":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		rep, err := names(*chart)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "render":
		recording := fs.String("recording", "", "the recorded scrapes (bin/bench/metrics-RUN.txt)")
		out := fs.String("out", "docs/dashboard.svg", "the SVG to write")
		step := fs.Duration("step", 0, "the evaluation step; 0 means the run's length over 240")
		rate := fs.Duration("rate-interval", 0, "what $__rate_interval stands for; 0 means four scrape intervals, at least 10s")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *recording == "" {
			return fmt.Errorf("render: --recording is required")
		}
		start := time.Now()
		if err := render(*chart, *recording, *out, *step, *rate); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "==> wrote %s from %s in %.1f s\n", *out, *recording, time.Since(start).Seconds())
		return nil
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", args[0])
}
