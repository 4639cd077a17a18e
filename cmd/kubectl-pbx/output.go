package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats of -o, as kubectl spells them; without -o, the commands print text for a
// terminal.
const (
	outputJSON = "json"
	outputYAML = "yaml"
)

// outputFormat is the value of -o/--output: empty (text), json or yaml. An unknown format fails
// when the flag is parsed, before anything is read.
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }

// Type names the value in the help: -o, --output format.
func (o *outputFormat) Type() string { return "format" }

func (o *outputFormat) Set(v string) error {
	switch v {
	case outputJSON, outputYAML:
		*o = outputFormat(v)
		return nil
	}
	return fmt.Errorf("unknown output format %q: want json or yaml (or no -o for text)", v)
}

// addOutputFlag defines -o/--output on c.
func addOutputFlag(c *cobra.Command, o *outputFormat) {
	c.Flags().VarP(o, "output", "o", "output format: json or yaml (default: text)")
	mustRegister(c, "output", fixedValues(outputJSON, outputYAML))
}

// print writes v in the format: text with the result's own writer, or v's JSON (its json tags)
// or the same as YAML.
func (o outputFormat) print(w io.Writer, v any, text func(io.Writer) error) error {
	switch o {
	case outputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case outputYAML:
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return text(w)
}
