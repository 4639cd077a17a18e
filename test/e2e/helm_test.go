package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// helm runs the helm binary that 'make helm' builds.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		bin = filepath.Join(root, "bin", "helm")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("helm is not built: run 'make helm' (or 'make test', which does): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %v: %v\n%s%s", args, err, out.String(), errOut.String())
	}
	return out.String()
}

func TestHelmChart(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	const chart = "charts/pbx-operator"
	// helm built with 'go install' assumes Kubernetes 1.20 offline; the local control plane's
	// version is the one to check against.
	kube := "--kube-version=" + serverVersion(t)
	if out := helm(t, "lint", "--strict", kube, chart); !strings.Contains(out, "0 chart(s) failed") {
		t.Errorf("helm lint:\n%s", out)
	}
	namespace(t, "pbx-operator-system")
	for name, args := range map[string][]string{
		"Defaults": nil,
		"LeastPrivilege": {"--set", "rbac.secrets.namespaces={team-a,team-b}", "--set", "watchNamespaces={team-a,team-b}",
			"--set", "logLevel=debug", "--set", "pollInterval=5m"},
	} {
		t.Run(name, func(t *testing.T) {
			rendered := helm(t, append([]string{"template", "pbx-operator", chart, "--namespace", "pbx-operator-system", "--include-crds", kube}, args...)...)
			if name == "LeastPrivilege" {
				for _, ns := range []string{"team-a", "team-b"} {
					namespace(t, ns)
				}
			}
			out := kubectlIn(t, rendered, "apply", "--dry-run=server", "-f", "-")
			if !strings.Contains(out, "deployment.apps/pbx-operator") {
				t.Errorf("the server accepts the chart's objects, including the Deployment:\n%s", out)
			}
			checkManagerRules(t, rendered, name == "LeastPrivilege")
		})
	}
}

// checkManagerRules compares the chart's manager ClusterRole with config/rbac/role.yaml, the
// rules controller-gen generates: config/ is their source, the chart must not drift. With Secrets
// scoped to namespaces, the Secrets rule moves to namespaced Roles.
func checkManagerRules(t *testing.T, rendered string, scopedSecrets bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	var got []rbacv1.PolicyRule
	secretRoles := 0
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
	for {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch {
		case obj.Kind == "ClusterRole" && strings.HasSuffix(obj.Metadata.Name, "manager-role"):
			got = append(got, obj.Rules...)
		case obj.Kind == "Role" && slices.ContainsFunc(obj.Rules, isSecretsRule):
			secretRoles++
			if scopedSecrets {
				got = append(got, obj.Rules...)
			}
		}
	}
	if scopedSecrets && secretRoles != 2 {
		t.Errorf("with rbac.secrets.namespaces set, want a Secrets Role in each of the 2 namespaces, got %d", secretRoles)
	}
	if !scopedSecrets && secretRoles != 0 {
		t.Errorf("by default the Secrets rule is in the ClusterRole; got %d namespaced Secrets Roles", secretRoles)
	}
	norm := func(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
		out := slices.Clone(rules)
		for i := range out {
			slices.Sort(out[i].Verbs)
			slices.Sort(out[i].Resources)
			slices.Sort(out[i].APIGroups)
		}
		// Rules with the same groups and resources are one rule, whichever role holds them.
		merged := map[string]rbacv1.PolicyRule{}
		for _, r := range out {
			k := strings.Join(r.APIGroups, ",") + "/" + strings.Join(r.Resources, ",")
			if m, ok := merged[k]; ok {
				r.Verbs = slices.Compact(slices.Sorted(slices.Values(append(m.Verbs, r.Verbs...))))
			}
			merged[k] = r
		}
		out = out[:0]
		for _, r := range merged {
			out = append(out, r)
		}
		slices.SortFunc(out, func(a, b rbacv1.PolicyRule) int {
			return strings.Compare(strings.Join(a.APIGroups, ",")+strings.Join(a.Resources, ","), strings.Join(b.APIGroups, ",")+strings.Join(b.Resources, ","))
		})
		return out
	}
	if diff := cmp.Diff(norm(want.Rules), norm(got)); diff != "" {
		t.Errorf("the chart's manager rules differ from config/rbac/role.yaml (-config +chart):\n%s", diff)
	}
}

// serverVersion is the kube-apiserver's version, such as v1.37.2.
func serverVersion(t *testing.T) string {
	t.Helper()
	var v struct {
		ServerVersion struct {
			GitVersion string `json:"gitVersion"`
		} `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, "version", "-o", "json")), &v); err != nil || v.ServerVersion.GitVersion == "" {
		t.Fatalf("reading the server version: %v", err)
	}
	return v.ServerVersion.GitVersion
}

func isSecretsRule(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "secrets") }

// TestKustomizeDeploy checks that 'make deploy' (config/default) is accepted by the API server.
func TestKustomizeDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	namespace(t, "pbx-operator-system")
	rendered := kubectl(t, "kustomize", filepath.Join(root, "config", "default"))
	out := kubectlIn(t, rendered, "apply", "--dry-run=server", "-f", "-")
	for _, want := range []string{"deployment.apps/pbx-operator-controller-manager", "clusterrole.rbac.authorization.k8s.io/pbx-operator-manager-role"} {
		if !strings.Contains(out, want) {
			t.Errorf("config/default applies %s:\n%s", want, out)
		}
	}
}

// namespace makes sure a namespace exists, whichever test made it first.
func namespace(t *testing.T, name string) {
	t.Helper()
	kubectlIn(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+name+"\n", "apply", "-f", "-")
}
