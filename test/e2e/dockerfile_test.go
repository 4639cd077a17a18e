package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfile keeps the Dockerfile honest without a container runtime: it must copy every
// folder the manager is built from, and build it with the flags the Makefile uses (which the e2e
// tests build their manager with).
func TestDockerfile(t *testing.T) {
	root := filepath.Join("..", "..")
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	docker := string(data)
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "../../cmd").Output()
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(root)
	for _, dir := range strings.Fields(string(out)) {
		rel, _ := filepath.Rel(abs, dir)
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		if top == "cmd" {
			if !strings.Contains(docker, "COPY cmd/main.go cmd/main.go") {
				t.Errorf("the Dockerfile does not copy cmd/main.go")
			}
			continue
		}
		if !strings.Contains(docker, "COPY "+top+"/ "+top+"/") {
			t.Errorf("the manager is built from %s, which the Dockerfile does not copy", rel)
		}
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"GO_BUILD_FLAGS", "LDFLAGS"} {
		mk := regexp.MustCompile(`(?m)^` + v + ` \?= (.*)$`).FindStringSubmatch(string(makefile))
		df := regexp.MustCompile(`(?m)^ARG ` + v + `="?([^"\n]*)"?$`).FindStringSubmatch(docker)
		if mk == nil || df == nil || mk[1] != df[1] {
			t.Errorf("%s: the Makefile has %q and the Dockerfile %q; they must match", v, mk, df)
		}
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(gomod))
	if goVersion == nil || !strings.Contains(docker, "ARG GO_VERSION="+goVersion[1]+"\n") {
		t.Errorf("the Dockerfile's GO_VERSION must be the Go version of go.mod (%v)", goVersion)
	}
	if !strings.Contains(docker, "FROM gcr.io/distroless/static:nonroot") || !strings.Contains(docker, "USER 65532:65532") {
		t.Errorf("the image must be distroless and run as the non-root user 65532")
	}
}
