// Command kubectl-pbx is the kubectl plugin of pbx-operator (kubectl pbx ...): export an existing
// PBX account as ready-to-apply manifests, plan what applying manifests would do to the PBX, and
// show the status of the managed objects per account. The logic lives in internal/plugin; this
// package holds the command line: cobra commands, kubectl's own connection flags
// (k8s.io/cli-runtime), the output formats and shell completion.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// version is stamped by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

// completeExecPrefix starts the name kubectl looks for to complete a plugin's arguments
// (kubectl_complete-pbx for kubectl-pbx): a link by that name to this binary answers them.
const completeExecPrefix = "kubectl_complete-"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, commandLine(os.Args), genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}

// commandLine is the arguments to run for the process's argv.
func commandLine(argv []string) []string {
	if strings.HasPrefix(filepath.Base(argv[0]), completeExecPrefix) {
		// kubectl calls kubectl_complete-pbx with the words typed after "kubectl pbx": they are
		// what cobra's hidden completion command takes.
		return append([]string{cobra.ShellCompRequestCmd}, argv[1:]...)
	}
	return argv[1:]
}

// exitCode is an error that only sets the exit code, such as plan's 2 when there are changes:
// run prints nothing for it.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit code %d", int(c)) }

// run executes the command line args and returns the exit code: 0, 1 on an error (printed on
// ErrOut), or what the command asked for with an exitCode.
func run(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	root := newRootCommand(newKube(), streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
	return 1
}
