package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// helm runs the helm binary that 'make helm' builds.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := helmRun(t, args...)
	if err != nil {
		t.Fatalf("helm %v: %v", args, err)
	}
	return out
}

// helmRun runs helm against the local control plane and returns its output, or an error with
// what it wrote to stderr.
func helmRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		bin = filepath.Join(root, "bin", "helm")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("helm is not built: run 'make helm' (or 'make test', which does): %v", err)
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	cmd.Dir = root
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w\n%s%s", err, out.String(), errOut.String())
	}
	return out.String(), nil
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
			HonorLabels bool `json:"honorLabels"`
			TLSConfig   struct {
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
	if !objs[i].Spec.Endpoints[0].HonorLabels {
		t.Error("the ServiceMonitor honors the manager's labels: the pbx_* series' namespace is the object's, not the manager's (the alerts and the dashboard select it)")
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

// chartDir is the working tree's chart.
const chartDir = "charts/pbx-operator"

// rendered is the objects of a rendered chart, as the API server would read them.
type rendered []*unstructured.Unstructured

func render(t *testing.T, manifest string) rendered {
	t.Helper()
	var out rendered
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if obj != nil {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}

// get returns the object of a kind and name, or nil.
func (r rendered) get(kind, name string) *unstructured.Unstructured {
	for _, o := range r {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (r rendered) ofKind(kind string) rendered {
	var out rendered
	for _, o := range r {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// field is the value at a dotted path of obj (list items by their index), or nil.
func field(obj *unstructured.Unstructured, path string) any {
	var cur any = obj.Object
	for _, k := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// crdSpecs reads the specs of config/crd/bases by CRD name, the source of the chart's CRDs.
func crdSpecs(t *testing.T) map[string]any {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("config/crd/bases: %v", err)
	}
	out := map[string]any{}
	for _, p := range paths {
		data, err := os.ReadFile(p) //nolint:gosec // the repository's own files
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec any `json:"spec"`
		}
		if err := yaml.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		out[c.Metadata.Name] = c.Spec
	}
	return out
}

// TestHelmChartValues renders the chart with the values of the long run (CRDs, disruption budget,
// topology spread, digest, the ServiceMonitor's authorization) and checks the objects; those the
// local control plane can serve are also checked by the API server (a server-side dry run).
func TestHelmChartValues(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	kube := "--kube-version=" + serverVersion(t)
	const (
		manager = "pbx-operator-controller-manager"
		digest  = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	)
	lint := []string{"lint", "--strict", kube, chartDir, "--set", "podDisruptionBudget.enabled=true", "--set", "replicaCount=2",
		"--set", "metrics.serviceMonitor.enabled=true", "--set", "image.digest=" + digest,
		"--set-json", `topologySpreadConstraints=[{"maxSkew":1,"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"ScheduleAnyway"}]`}
	if out := helm(t, lint...); !strings.Contains(out, "0 chart(s) failed") {
		t.Errorf("helm lint --strict with the new values:\n%s", out)
	}
	specs := crdSpecs(t)
	selector := map[string]any{"app.kubernetes.io/name": "pbx-operator", "app.kubernetes.io/instance": "pbx-operator"}
	namespace(t, "pbx-operator-system")
	for name, tc := range map[string]struct {
		reason string
		args   []string
		check  func(t *testing.T, objs rendered)
	}{
		"CRDsByDefault": {
			reason: "The chart renders every CRD of config/crd/bases, with its spec, the chart's labels and the keep annotation.",
			check: func(t *testing.T, objs rendered) {
				crds := objs.ofKind("CustomResourceDefinition")
				if len(crds) != len(specs) {
					t.Errorf("%d CRDs rendered, config/crd/bases has %d", len(crds), len(specs))
				}
				for _, c := range crds {
					if diff := cmp.Diff(specs[c.GetName()], c.Object["spec"]); diff != "" {
						t.Errorf("%s: the spec differs from config/crd/bases (-config +chart):\n%s", c.GetName(), diff)
					}
					if got := c.GetAnnotations()["helm.sh/resource-policy"]; got != "keep" {
						t.Errorf("%s: helm.sh/resource-policy %q, want keep", c.GetName(), got)
					}
					if got := c.GetLabels()["app.kubernetes.io/part-of"]; got != "pbx-operator" {
						t.Errorf("%s: app.kubernetes.io/part-of %q, want pbx-operator", c.GetName(), got)
					}
				}
			},
		},
		"CRDsNotKept": {
			reason: "crds.keep=false leaves out the keep annotation: helm uninstall deletes the CRDs.",
			args:   []string{"--set", "crds.keep=false"},
			check: func(t *testing.T, objs rendered) {
				crds := objs.ofKind("CustomResourceDefinition")
				if len(crds) != len(specs) {
					t.Errorf("%d CRDs rendered, want %d", len(crds), len(specs))
				}
				for _, c := range crds {
					if _, ok := c.GetAnnotations()["helm.sh/resource-policy"]; ok {
						t.Errorf("%s has helm.sh/resource-policy with crds.keep=false", c.GetName())
					}
				}
			},
		},
		"CRDsDisabled": {
			reason: "crds.enabled=false renders no CRD.",
			args:   []string{"--set", "crds.enabled=false"},
			check: func(t *testing.T, objs rendered) {
				if n := len(objs.ofKind("CustomResourceDefinition")); n != 0 {
					t.Errorf("%d CRDs rendered with crds.enabled=false", n)
				}
			},
		},
		"DisruptionBudget": {
			reason: "The PodDisruptionBudget lets one manager pod go at a time, and selects the Deployment's pods.",
			args:   []string{"--set", "podDisruptionBudget.enabled=true", "--set", "replicaCount=2"},
			check: func(t *testing.T, objs rendered) {
				pdb := objs.get("PodDisruptionBudget", manager)
				if pdb == nil {
					t.Fatal("no PodDisruptionBudget")
				}
				if got := field(pdb, "spec.maxUnavailable"); got != int64(1) && got != float64(1) {
					t.Errorf("maxUnavailable %v, want 1", got)
				}
				if got := field(pdb, "spec.minAvailable"); got != nil {
					t.Errorf("minAvailable %v with maxUnavailable", got)
				}
				if got := field(pdb, "spec.unhealthyPodEvictionPolicy"); got != "AlwaysAllow" {
					t.Errorf("unhealthyPodEvictionPolicy %v, want AlwaysAllow", got)
				}
				podLabels := field(objs.get("Deployment", manager), "spec.template.metadata.labels").(map[string]any)
				for k, v := range field(pdb, "spec.selector.matchLabels").(map[string]any) {
					if podLabels[k] != v {
						t.Errorf("the PodDisruptionBudget selects %s=%v, which the manager pods lack", k, v)
					}
				}
			},
		},
		"DisruptionBudgetMinAvailable": {
			reason: "minAvailable, when set, is used instead of maxUnavailable.",
			args:   []string{"--set", "podDisruptionBudget.enabled=true", "--set", "podDisruptionBudget.minAvailable=50%"},
			check: func(t *testing.T, objs rendered) {
				pdb := objs.get("PodDisruptionBudget", manager)
				if pdb == nil {
					t.Fatal("no PodDisruptionBudget")
				}
				if got, other := field(pdb, "spec.minAvailable"), field(pdb, "spec.maxUnavailable"); got != "50%" || other != nil {
					t.Errorf("minAvailable %v and maxUnavailable %v, want 50%% and none", got, other)
				}
			},
		},
		"NoDisruptionBudget": {
			reason: "No PodDisruptionBudget by default.",
			check: func(t *testing.T, objs rendered) {
				if objs.get("PodDisruptionBudget", manager) != nil {
					t.Error("a PodDisruptionBudget by default")
				}
			},
		},
		"TopologySpread": {
			reason: "A constraint without labelSelector gets the manager pods' selector; one with keeps its own.",
			args: []string{"--set-json", `topologySpreadConstraints=[` +
				`{"maxSkew":1,"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"ScheduleAnyway"},` +
				`{"maxSkew":2,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"team":"pbx"}}}]`},
			check: func(t *testing.T, objs rendered) {
				want := []any{
					map[string]any{"maxSkew": int64(1), "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
						"labelSelector": map[string]any{"matchLabels": selector}},
					map[string]any{"maxSkew": int64(2), "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
						"labelSelector": map[string]any{"matchLabels": map[string]any{"team": "pbx"}}},
				}
				got := field(objs.get("Deployment", manager), "spec.template.spec.topologySpreadConstraints")
				if diff := cmp.Diff(want, got, numbersEqual); diff != "" {
					t.Errorf("topologySpreadConstraints (-want +got):\n%s", diff)
				}
			},
		},
		"Sharding": {
			reason: "sharding.shards renders one Deployment per shard beside the default one, each with its selector, shard and Lease, sharing the ServiceAccount; the metrics Service selects every manager pod.",
			args:   []string{"--set", "sharding.shards={a,b}", "--set", "replicaCount=2"},
			check: func(t *testing.T, objs rendered) {
				deployments := objs.ofKind("Deployment")
				if len(deployments) != 3 {
					t.Fatalf("%d Deployments, want the default one and one per shard", len(deployments))
				}
				service := objs.get("Service", "pbx-operator-controller-manager-metrics-service")
				if service == nil {
					t.Fatal("no metrics Service")
				}
				for name, want := range map[string]struct {
					shard string
					args  []string
				}{
					manager:        {args: []string{"--watch-label-selector=!pbx.cloudpbx.dev/shard"}},
					manager + "-a": {shard: "a", args: []string{"--shard=a", "--watch-label-selector=pbx.cloudpbx.dev/shard=a"}},
					manager + "-b": {shard: "b", args: []string{"--shard=b", "--watch-label-selector=pbx.cloudpbx.dev/shard=b"}},
				} {
					d := objs.get("Deployment", name)
					if d == nil {
						t.Errorf("no Deployment %s", name)
						continue
					}
					var args []string
					for _, a := range field(d, "spec.template.spec.containers.0.args").([]any) {
						args = append(args, a.(string))
					}
					var sharding []string
					for _, a := range args {
						if strings.HasPrefix(a, "--shard") || strings.HasPrefix(a, "--watch-label-selector") {
							sharding = append(sharding, a)
						}
					}
					if diff := cmp.Diff(want.args, sharding); diff != "" {
						t.Errorf("%s: the sharding flags (-want +got):\n%s", name, diff)
					}
					if got := field(d, "spec.replicas"); toFloat(got) != 2 {
						t.Errorf("%s: %v replicas, want replicaCount", name, got)
					}
					if got := field(d, "spec.template.spec.serviceAccountName"); got != manager {
						t.Errorf("%s: ServiceAccount %v, want the shared %s", name, got, manager)
					}
					podLabels := field(d, "spec.template.metadata.labels").(map[string]any)
					wantSelector := maps.Clone(selector)
					if want.shard != "" {
						wantSelector["pbx.cloudpbx.dev/shard"] = want.shard
					}
					if diff := cmp.Diff(wantSelector, field(d, "spec.selector.matchLabels")); diff != "" {
						t.Errorf("%s: the selector (-want +got):\n%s", name, diff)
					}
					for k, v := range field(service, "spec.selector").(map[string]any) {
						if podLabels[k] != v {
							t.Errorf("%s: the metrics Service selects %s=%v, which its pods lack", name, k, v)
						}
					}
					for k, v := range wantSelector {
						if podLabels[k] != v {
							t.Errorf("%s: its selector %s=%v does not select its own pods", name, k, v)
						}
					}
				}
				if n := len(objs.ofKind("ServiceAccount")); n != 1 {
					t.Errorf("%d ServiceAccounts, want the one the shards share", n)
				}
			},
		},
		"Unsharded": {
			reason: "Without shards, one Deployment that watches everything, as before.",
			check: func(t *testing.T, objs rendered) {
				if n := len(objs.ofKind("Deployment")); n != 1 {
					t.Errorf("%d Deployments, want 1", n)
				}
				for _, a := range field(objs.get("Deployment", manager), "spec.template.spec.containers.0.args").([]any) {
					if strings.HasPrefix(a.(string), "--shard") || strings.HasPrefix(a.(string), "--watch-label-selector") {
						t.Errorf("unsharded, the manager runs with %s", a)
					}
				}
			},
		},
		"ImageDigest": {
			reason: "image.digest is used instead of the tag.",
			args:   []string{"--set", "image.digest=" + digest, "--set", "image.tag=v9.9.9"},
			check: func(t *testing.T, objs rendered) {
				if got := field(objs.get("Deployment", manager), "spec.template.spec.containers.0.image"); got != "ghcr.io/cloudpbx/pbx-operator@"+digest {
					t.Errorf("image %v, want the repository at the digest", got)
				}
			},
		},
		"ImageTag": {
			reason: "Without a digest, the image is the repository at the tag, by default the appVersion.",
			check: func(t *testing.T, objs rendered) {
				got, _ := field(objs.get("Deployment", manager), "spec.template.spec.containers.0.image").(string)
				if !strings.HasPrefix(got, "ghcr.io/cloudpbx/pbx-operator:") || strings.Contains(got, "@") {
					t.Errorf("image %v, want the repository at a tag", got)
				}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			manifest := helm(t, append([]string{"template", "pbx-operator", chartDir, "--namespace", "pbx-operator-system", kube}, tc.args...)...)
			t.Log(tc.reason)
			tc.check(t, render(t, manifest))
			if out := kubectlIn(t, manifest, "apply", "--dry-run=server", "-f", "-"); !strings.Contains(out, "deployment.apps/pbx-operator") {
				t.Errorf("the server accepts the chart's objects:\n%s", out)
			}
		})
	}
}

// numbersEqual compares the numbers of decoded YAML whatever their Go type.
var numbersEqual = cmp.FilterValues(func(a, b any) bool { return isNumber(a) && isNumber(b) },
	cmp.Comparer(func(a, b any) bool { return toFloat(a) == toFloat(b) }))

func isNumber(v any) bool {
	switch v.(type) {
	case int, int64, float64:
		return true
	}
	return false
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

// TestHelmServiceMonitorAuthorization: the ServiceMonitor sends a bearer token from a Secret
// (authorization, not the deprecated bearerTokenFile) and verifies the server's certificate. By
// default the token is that of a ServiceAccount the chart makes and binds to the metrics-reader
// ClusterRole only; a Secret of the user's replaces it; a bearerTokenFile, still set, is used
// instead. The ServiceMonitor's CRD is not in the local control plane: checked as rendered.
func TestHelmServiceMonitorAuthorization(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	kube := "--kube-version=" + serverVersion(t)
	const scraper = "pbx-operator-metrics-scraper"
	for name, tc := range map[string]struct {
		args []string
		// secret and key name the token the ServiceMonitor sends; empty: none (bearerTokenFile).
		secret, key   string
		tokenFile     string
		chartIdentity bool
	}{
		"ChartIdentity": {secret: scraper + "-token", key: "token", chartIdentity: true},
		"OwnSecret": {
			args:   []string{"--set", "metrics.serviceMonitor.authorization.credentials.name=prometheus-token", "--set", "metrics.serviceMonitor.authorization.credentials.key=jwt"},
			secret: "prometheus-token", key: "jwt",
		},
		"DeprecatedTokenFile": {
			args:      []string{"--set", "metrics.serviceMonitor.bearerTokenFile=/var/run/secrets/kubernetes.io/serviceaccount/token"},
			tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
		},
		"NoAuthorization": {args: []string{"--set", "metrics.serviceMonitor.authorization.enabled=false"}},
	} {
		t.Run(name, func(t *testing.T) {
			manifest := helm(t, append([]string{"template", "pbx-operator", chartDir, "--namespace", "pbx-operator-system", kube,
				"--set", "metrics.serviceMonitor.enabled=true"}, tc.args...)...)
			checkServiceMonitorTLS(t, manifest)
			objs := render(t, manifest)
			sm := objs.ofKind("ServiceMonitor")[0]
			endpoint := field(sm, "spec.endpoints.0").(map[string]any)
			if got, _ := endpoint["bearerTokenFile"].(string); got != tc.tokenFile {
				t.Errorf("bearerTokenFile %q, want %q", got, tc.tokenFile)
			}
			var want any
			if tc.secret != "" {
				want = map[string]any{"type": "Bearer", "credentials": map[string]any{"name": tc.secret, "key": tc.key}}
			}
			if diff := cmp.Diff(want, endpoint["authorization"]); diff != "" {
				t.Errorf("authorization (-want +got):\n%s", diff)
			}
			sa, secret, binding := objs.get("ServiceAccount", scraper), objs.get("Secret", scraper+"-token"), objs.get("ClusterRoleBinding", scraper)
			if !tc.chartIdentity {
				if sa != nil || secret != nil || binding != nil {
					t.Error("the chart makes the scraper's identity though it is not used")
				}
				return
			}
			if sa == nil || secret == nil || binding == nil {
				t.Fatal("the chart makes the scraper's ServiceAccount, token Secret and ClusterRoleBinding")
			}
			if secret.Object["type"] != "kubernetes.io/service-account-token" || secret.GetAnnotations()["kubernetes.io/service-account.name"] != scraper {
				t.Errorf("the token Secret is the ServiceAccount's: %v", secret.Object)
			}
			if field(binding, "roleRef.name") != "pbx-operator-metrics-reader" || field(binding, "subjects.0.name") != scraper {
				t.Errorf("the scraper is bound to the metrics-reader ClusterRole only: %v", binding.Object)
			}
			for _, o := range objs {
				if o.GetKind() == "RoleBinding" || o.GetKind() == "ClusterRoleBinding" {
					if o.GetName() != scraper && strings.Contains(fmt.Sprint(o.Object["subjects"]), scraper) {
						t.Errorf("%s %s binds the scraper too", o.GetKind(), o.GetName())
					}
				}
			}
			// The scraper's objects without the ServiceMonitor, whose CRD the control plane lacks.
			var serve []string
			for _, o := range objs {
				if o.GetKind() != "ServiceMonitor" {
					data, err := json.Marshal(o.Object)
					if err != nil {
						t.Fatal(err)
					}
					serve = append(serve, string(data))
				}
			}
			if out := kubectlIn(t, strings.Join(serve, "\n"), "apply", "--dry-run=server", "-f", "-"); !strings.Contains(out, "serviceaccount/"+scraper) {
				t.Errorf("the server accepts the scraper's objects:\n%s", out)
			}
		})
	}
}

// TestHelmChartRefusals: values the chart refuses, with a message that says what to do.
func TestHelmChartRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	kube := "--kube-version=" + serverVersion(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"DisruptionBudgetWithoutBounds": {
			args: []string{"--set", "podDisruptionBudget.enabled=true", "--set", "podDisruptionBudget.maxUnavailable="},
			want: "podDisruptionBudget.enabled needs podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable",
		},
		"DigestNotSHA256": {
			args: []string{"--set", "image.digest=latest"},
			want: "/image/digest",
		},
		"TokenKeyOfChartSecret": {
			args: []string{"--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.serviceMonitor.authorization.credentials.key=jwt"},
			want: "credentials.key must be token",
		},
		"ShardNamedDefault": {
			args: []string{"--set", "sharding.shards={default}"},
			want: "/sharding/shards/0",
		},
		"ShardNotALabel": {
			args: []string{"--set", "sharding.shards={Team_A}"},
			want: "/sharding/shards/0",
		},
		"UnknownCRDsValue": {
			args: []string{"--set", "crds.install=true"},
			want: "additional properties 'install' not allowed",
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := helmRun(t, append([]string{"template", "pbx-operator", chartDir, kube}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template %v: %v, want an error with %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestHelmUpgradeFromPrevious upgrades a release of the previous chart (0.1.0, testdata), whose
// CRDs Helm installed from crds/ and does not own, to the working tree's chart by the steps of
// docs/upgrading.md: the CRDs are handed to the release, the upgrade applies the new CRDs (a
// changed one included), a resource survives it, and helm uninstall keeps the CRDs.
//
// The suite's CRDs are in place already, as a 0.1.0 install leaves them (Helm skips a crds/ file
// whose CRD exists). To see the upgrade change a CRD, the old chart's Account CRD is made to differ
// from the new one: its printer column Realm is replaced by one, Legacy, the new version lacks.
func TestHelmUpgradeFromPrevious(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	const (
		release  = "pbx-upgrade"
		ns       = "pbx-upgrade"
		accounts = "accounts.pbx.cloudpbx.dev"
	)
	old := filepath.Join(t.TempDir(), "old")
	untar(t, filepath.Join(root, "test", "e2e", "testdata", "pbx-operator-0.1.0.tgz"), old)
	oldChart := filepath.Join(old, "pbx-operator")
	oldCRD := filepath.Join(oldChart, "crds", "pbx.cloudpbx.dev_accounts.yaml")
	data, err := os.ReadFile(oldCRD) //nolint:gosec // the test's own copy
	if err != nil {
		t.Fatal(err)
	}
	const realm = "    - jsonPath: .status.realm\n      name: Realm\n      type: string\n"
	if strings.Count(string(data), realm) != 1 {
		t.Fatalf("the old Account CRD has no printer column Realm to change:\n%s", data)
	}
	data = []byte(strings.Replace(string(data), realm, "    - jsonPath: .status.legacy\n      name: Legacy\n      type: string\n", 1))
	if err := os.WriteFile(oldCRD, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := helmRun(t, "uninstall", release, "-n", ns, "--ignore-not-found"); err != nil {
			t.Log(err)
		}
		// Back to the CRDs the suite installed, without the metadata of a release that is gone.
		kubectl(t, "replace", "-f", filepath.Join(root, "config", "crd", "bases"))
	})

	// 0.1.0 as installed: its CRDs, which Helm does not own, and the release.
	kubectl(t, "replace", "-f", filepath.Join(oldChart, "crds"))
	namespace(t, ns)
	helm(t, "install", release, oldChart, "-n", ns)
	if got := printerColumns(t, accounts); !slices.Contains(got, "Legacy") || slices.Contains(got, "Realm") {
		t.Fatalf("the old Account CRD's columns: %v", got)
	}
	kubectlIn(t, `apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: survivor
spec:
  url: https://apiproxy.example/
  credentialsSecretRef:
    name: pbx-credentials
`, "apply", "-n", ns, "-f", "-")
	uid := kubectl(t, "get", "pbxaccount", "survivor", "-n", ns, "-o", "jsonpath={.metadata.uid}")

	// Without the steps, Helm refuses to take the CRDs, and changes nothing.
	if _, err := helmRun(t, "upgrade", release, chartDir, "-n", ns); err == nil || !strings.Contains(err.Error(), "invalid ownership metadata") {
		t.Errorf("helm upgrade without handing the CRDs over: %v, want Helm's invalid ownership metadata", err)
	}
	// --reuse-values keeps 0.1.0's defaults, which lack crds: the chart says what to do instead.
	if _, err := helmRun(t, "upgrade", release, chartDir, "-n", ns, "--reuse-values"); err == nil || !strings.Contains(err.Error(), "--reset-then-reuse-values") {
		t.Errorf("helm upgrade --reuse-values: %v, want the chart's advice to use --reset-then-reuse-values", err)
	}

	// The steps of docs/upgrading.md.
	for _, crd := range pbxCRDs(t) {
		kubectl(t, "label", crd, "app.kubernetes.io/managed-by=Helm", "--overwrite")
		kubectl(t, "annotate", crd, "meta.helm.sh/release-name="+release, "meta.helm.sh/release-namespace="+ns, "--overwrite")
	}
	helm(t, "upgrade", release, chartDir, "-n", ns, "--reset-then-reuse-values")

	version := chartVersion(t)
	specs := crdSpecs(t)
	for _, crd := range pbxCRDs(t) {
		var live struct {
			Metadata struct {
				Name        string            `json:"name"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				Versions []any `json:"versions"`
			} `json:"spec"`
		}
		if err := json.Unmarshal([]byte(kubectl(t, "get", crd, "-o", "json")), &live); err != nil {
			t.Fatal(err)
		}
		if got := live.Metadata.Labels["helm.sh/chart"]; got != "pbx-operator-"+version {
			t.Errorf("%s: helm.sh/chart %q, want pbx-operator-%s", live.Metadata.Name, got, version)
		}
		if got := live.Metadata.Annotations["helm.sh/resource-policy"]; got != "keep" {
			t.Errorf("%s: helm.sh/resource-policy %q, want keep", live.Metadata.Name, got)
		}
		want := specs[live.Metadata.Name].(map[string]any)["versions"]
		if diff := cmp.Diff(want, any(live.Spec.Versions), numbersEqual); diff != "" {
			t.Errorf("%s: the served versions differ from config/crd/bases (-want +live):\n%s", live.Metadata.Name, diff)
		}
	}
	if got := printerColumns(t, accounts); slices.Contains(got, "Legacy") || !slices.Contains(got, "Realm") {
		t.Errorf("the upgraded Account CRD's columns: %v, want the new version's (Realm, not Legacy)", got)
	}
	if got := kubectl(t, "get", "pbxaccount", "survivor", "-n", ns, "-o", "jsonpath={.metadata.uid}"); got != uid {
		t.Errorf("the Account after the upgrade has the uid %q, want %q (the same object)", got, uid)
	}

	// helm uninstall keeps the CRDs (crds.keep), and with them the resources.
	helm(t, "uninstall", release, "-n", ns)
	if got := len(pbxCRDs(t)); got != len(specs) {
		t.Errorf("%d pbx CRDs after helm uninstall, want %d", got, len(specs))
	}
	if got := kubectl(t, "get", "pbxaccount", "survivor", "-n", ns, "-o", "jsonpath={.metadata.uid}"); got != uid {
		t.Errorf("the Account after helm uninstall has the uid %q, want %q", got, uid)
	}
	kubectl(t, "delete", "pbxaccount", "survivor", "-n", ns, "--wait=false")
}

// pbxCRDs lists the CRDs of the pbx.cloudpbx.dev group as docs/upgrading.md does:
// kubectl get crd -o name | grep '\.pbx\.cloudpbx\.dev$'.
func pbxCRDs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, name := range strings.Fields(kubectl(t, "get", "crd", "-o", "name")) {
		if strings.HasSuffix(name, ".pbx.cloudpbx.dev") {
			out = append(out, name)
		}
	}
	return out
}

func printerColumns(t *testing.T, crd string) []string {
	t.Helper()
	out := kubectl(t, "get", "crd", crd, "-o", `jsonpath={range .spec.versions[0].additionalPrinterColumns[*]}{.name}{"\n"}{end}`)
	return strings.Split(strings.TrimSpace(out), "\n")
}

// chartVersion is the working tree's chart version.
func chartVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Version string `json:"version"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil || c.Version == "" {
		t.Fatalf("Chart.yaml: version %q: %v", c.Version, err)
	}
	return c.Version
}

// untar unpacks a gzipped tar archive into dir.
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive) //nolint:gosec // the repository's test data
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(path, filepath.Clean(dir)+string(filepath.Separator)) {
			t.Fatalf("%s: %s leaves the folder", archive, h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(io.LimitReader(tr, 10<<20))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
