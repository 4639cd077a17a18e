package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
	for name, tc := range map[string]struct {
		args []string
		// read and write are the namespaces that get a Role to read, and to write, Secrets.
		read, write []string
		// serviceMonitor renders a ServiceMonitor, whose CRD the control plane does not have:
		// the objects are checked as rendered, not by the server.
		serviceMonitor bool
	}{
		"Defaults": {},
		"LeastPrivilege": {
			args: []string{"--set", "rbac.secrets.namespaces={team-a,team-b}", "--set", "watchNamespaces={team-a,team-b}",
				"--set", "rbac.secrets.writeNamespaces={team-a}", "--set", "logLevel=debug", "--set", "pollInterval=5m"},
			read: []string{"team-a", "team-b"}, write: []string{"team-a"},
		},
		"WriteNamespaces": {
			args:  []string{"--set", "rbac.secrets.writeNamespaces={team-b}"},
			write: []string{"team-b"},
		},
		"ServiceMonitor": {
			args:           []string{"--set", "metrics.serviceMonitor.enabled=true"},
			serviceMonitor: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			rendered := helm(t, append([]string{"template", "pbx-operator", chart, "--namespace", "pbx-operator-system", "--include-crds", kube}, tc.args...)...)
			for _, ns := range append(slices.Clone(tc.read), tc.write...) {
				namespace(t, ns)
			}
			if tc.serviceMonitor {
				checkServiceMonitorTLS(t, rendered)
			} else if out := kubectlIn(t, rendered, "apply", "--dry-run=server", "-f", "-"); !strings.Contains(out, "deployment.apps/pbx-operator") {
				t.Errorf("the server accepts the chart's objects, including the Deployment:\n%s", out)
			}
			checkManagerRules(t, rendered, tc.read, tc.write)
		})
	}
}

// object is what the checks read of a rendered object.
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Rules []rbacv1.PolicyRule `json:"rules"`
	Data  map[string][]byte   `json:"data"`
	Spec  struct {
		Endpoints []struct {
			TLSConfig struct {
				InsecureSkipVerify bool   `json:"insecureSkipVerify"`
				ServerName         string `json:"serverName"`
				CA                 struct {
					Secret struct {
						Name string `json:"name"`
						Key  string `json:"key"`
					} `json:"secret"`
				} `json:"ca"`
			} `json:"tlsConfig"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// objects decodes the rendered objects.
func objects(t *testing.T, rendered string) []object {
	t.Helper()
	var out []object
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
	for {
		var obj object
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, obj)
	}
}

// checkManagerRules compares the chart's manager rules with config/rbac/role.yaml, the rules
// controller-gen generates: config/ is their source, the chart must not drift. The ClusterRole
// never grants writing Secrets: only the Roles in the write namespaces do. Reading Secrets is in
// the ClusterRole, or in the Roles of the read namespaces when there are some.
func checkManagerRules(t *testing.T, rendered string, read, write []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(write) == 0 {
		// Without write namespaces, the manager's rules are config's without writing Secrets.
		for i, r := range want.Rules {
			if isSecretsRule(r) {
				want.Rules[i].Verbs = slices.DeleteFunc(slices.Clone(r.Verbs), isWrite)
			}
		}
	}
	var got []rbacv1.PolicyRule
	var readRoles, writeRoles []string
	for _, obj := range objects(t, rendered) {
		switch {
		case obj.Kind == "ClusterRole" && strings.HasSuffix(obj.Metadata.Name, "manager-role"):
			got = append(got, obj.Rules...)
			for _, r := range obj.Rules {
				if isSecretsRule(r) && slices.ContainsFunc(r.Verbs, isWrite) {
					t.Errorf("the manager's ClusterRole grants writing Secrets in every namespace: %v", r.Verbs)
				}
				if isSecretsRule(r) && len(read) > 0 {
					t.Errorf("with rbac.secrets.namespaces set, the ClusterRole grants reading Secrets: %v", r.Verbs)
				}
			}
		case obj.Kind == "Role" && slices.ContainsFunc(obj.Rules, isSecretsRule):
			got = append(got, obj.Rules...)
			if slices.ContainsFunc(obj.Rules, func(r rbacv1.PolicyRule) bool { return slices.ContainsFunc(r.Verbs, isWrite) }) {
				writeRoles = append(writeRoles, obj.Metadata.Namespace)
			} else {
				readRoles = append(readRoles, obj.Metadata.Namespace)
			}
		}
	}
	slices.Sort(readRoles)
	slices.Sort(writeRoles)
	if diff := cmp.Diff(read, readRoles, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("namespaces with a Role to read Secrets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(write, writeRoles, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("namespaces with a Role to write Secrets (-want +got):\n%s", diff)
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

// checkServiceMonitorTLS checks that the ServiceMonitor verifies the metrics server's certificate
// (never insecureSkipVerify) against the CA of a Secret the chart renders, for the metrics
// Service's name, and that the certificate in that Secret is valid for that name.
func checkServiceMonitorTLS(t *testing.T, rendered string) {
	t.Helper()
	objs := objects(t, rendered)
	i := slices.IndexFunc(objs, func(o object) bool { return o.Kind == "ServiceMonitor" })
	if i < 0 {
		t.Fatal("no ServiceMonitor rendered")
	}
	tlsc := objs[i].Spec.Endpoints[0].TLSConfig
	if tlsc.InsecureSkipVerify || tlsc.ServerName != "pbx-operator-controller-manager-metrics-service.pbx-operator-system.svc" || tlsc.CA.Secret.Key != "ca.crt" {
		t.Errorf("the ServiceMonitor verifies the metrics Service's certificate: %+v", tlsc)
	}
	j := slices.IndexFunc(objs, func(o object) bool { return o.Kind == "Secret" && o.Metadata.Name == tlsc.CA.Secret.Name })
	if j < 0 {
		t.Fatalf("the ServiceMonitor's CA Secret %q is rendered by the chart", tlsc.CA.Secret.Name)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(objs[j].Data["ca.crt"]) {
		t.Fatal("the Secret's ca.crt is a PEM certificate")
	}
	block, _ := pem.Decode(objs[j].Data["tls.crt"])
	if block == nil {
		t.Fatal("the Secret's tls.crt is a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: tlsc.ServerName, Roots: pool}); err != nil {
		t.Errorf("the metrics certificate verifies against the CA for %s: %v", tlsc.ServerName, err)
	}
	if !strings.Contains(rendered, "--metrics-cert-path=") || !strings.Contains(rendered, "secretName: "+tlsc.CA.Secret.Name) {
		t.Error("the manager serves the certificate of that Secret")
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

// isWrite tells whether an RBAC verb writes.
func isWrite(verb string) bool { return verb != "get" && verb != "list" && verb != "watch" }

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
