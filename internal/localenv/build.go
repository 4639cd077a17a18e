package localenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildBinaries builds the manager and pbxsim from the repository at root into <dir>/bin, with
// the flags 'make build' and the Dockerfile use, and returns that folder.
func BuildBinaries(root, dir string) (string, error) {
	bins := filepath.Join(dir, "bin")
	for _, b := range []struct{ out, pkg string }{{"manager", "./cmd"}, {"pbxsim", "./cmd/pbxsim"}} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(bins, b.out), b.pkg)
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building %s: %w\n%s", b.pkg, err, out)
		}
	}
	return bins, nil
}

// Suite is what a black-box test suite (test/e2e, test/chaos) runs against: the repository, the
// folder of the built binaries and the running control plane.
type Suite struct {
	Root string
	Bins string
	Env  *Env
}

// RunSuite is a black-box suite's TestMain: with -short it only runs m (whose tests skip); else it
// builds the manager and pbxsim from the repository two folders up, starts the control plane from
// KUBEBUILDER_ASSETS in a new temporary folder named after the suite, calls setup, runs m when
// setup returned 0, and stops everything. The folder, with every log, is kept when something
// failed. It returns the exit code.
func RunSuite(m *testing.M, name string, setup func(Suite) int) int {
	if Short() {
		return m.Run()
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		fmt.Fprintln(os.Stderr, ErrNoAssets)
		return 1
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "pbx-operator-"+name+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := Suite{Root: root}
	if s.Bins, err = BuildBinaries(root, dir); err == nil {
		s.Env, err = Start(assets, dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintf(os.Stderr, "logs are in %s\n", dir)
		return 1
	}
	code := setup(s)
	if code == 0 {
		code = m.Run()
	}
	s.Env.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "logs are in %s\n", dir)
	} else {
		os.RemoveAll(dir) //nolint:errcheck,gosec // a temporary folder
	}
	return code
}
