package localenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
