package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// group is the API group whose resources the user roles cover.
const group = "pbx.cloudpbx.dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rolegen:", err)
		os.Exit(1)
	}
}

func run() error {
	crds, err := readCRDs("config/crd/bases")
	if err != nil {
		return err
	}
	manager, err := readRules("config/rbac/role.yaml")
	if err != nil {
		return err
	}
	roles := userRoles(crds)
	files := map[string]string{"config/crd/kustomization.yaml": kustomization(crds)}
	chart := "{{- if and .Values.rbac.create .Values.rbac.userRoles.create }}\n" + chartUserRolesHeader
	for i, r := range roles {
		files["config/rbac/pbx_"+r.name+"_role.yaml"] = r.doc + kustomizeRole("pbx-"+r.name+"-role", r.rules)
		if i > 0 {
			chart += "---\n"
		}
		chart += r.doc + helmRole("pbx-"+r.name+"-role", r.rules)
	}
	files["charts/pbx-operator/templates/user-roles.yaml"] = chart + "{{- end }}\n"
	managerRole, err := chartManagerRole(manager)
	if err != nil {
		return err
	}
	files["charts/pbx-operator/templates/clusterrole.yaml"] = managerRole
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil { //nolint:gosec // committed YAML, readable by all
			return err
		}
	}
	return nil
}

// crd is what the roles need of a CustomResourceDefinition.
type crd struct {
	file       string
	plural     string
	namespaced bool
}

func readCRDs(dir string) ([]crd, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []crd
	for _, p := range paths {
		data, err := os.ReadFile(p) //nolint:gosec // the repository's own files
		if err != nil {
			return nil, err
		}
		// The few fields read, rather than the apiextensions API types.
		var c struct {
			Spec struct {
				Group string `json:"group"`
				Scope string `json:"scope"`
				Names struct {
					Plural string `json:"plural"`
				} `json:"names"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if c.Spec.Group != group {
			return nil, fmt.Errorf("%s: group %q, want %q", p, c.Spec.Group, group)
		}
		out = append(out, crd{file: filepath.Base(p), plural: c.Spec.Names.Plural, namespaced: c.Spec.Scope == "Namespaced"})
	}
	slices.SortFunc(out, func(a, b crd) int { return strings.Compare(a.plural, b.plural) })
	return out, nil
}

func readRules(path string) ([]rbacv1.PolicyRule, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the repository's own file
	if err != nil {
		return nil, err
	}
	var r rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r.Rules, nil
}

func kustomization(crds []crd) string {
	var b strings.Builder
	b.WriteString("# The CustomResourceDefinitions, generated into bases/ by 'make manifests'; this list by\n# hack/rolegen.\nresources:\n")
	files := make([]string, 0, len(crds))
	for _, c := range crds {
		files = append(files, c.file)
	}
	slices.Sort(files)
	for _, f := range files {
		b.WriteString("- bases/" + f + "\n")
	}
	return b.String()
}

// role is a user role: its name (admin, editor, viewer), the comment that explains it, and its
// rules.
type role struct {
	name, doc string
	rules     []rbacv1.PolicyRule
}

func userRoles(crds []crd) []role {
	var all, namespaced, clusterScoped, status []string
	for _, c := range crds {
		all = append(all, c.plural)
		status = append(status, c.plural+"/status")
		if c.namespaced {
			namespaced = append(namespaced, c.plural)
		} else {
			clusterScoped = append(clusterScoped, c.plural)
		}
	}
	rule := func(resources []string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs}
	}
	readStatus := rule(status, "get")
	return []role{
		{
			name: "admin",
			doc: "# Grants full control over the pbx.cloudpbx.dev resources, for the people who administer them.\n" +
				"# Bind it with a RoleBinding (per namespace) or a ClusterRoleBinding; the manager does not use it.\n",
			rules: []rbacv1.PolicyRule{rule(all, "*"), readStatus},
		},
		{
			name: "editor",
			doc: "# Grants create, change and delete the namespaced pbx.cloudpbx.dev resources, and read the\n" +
				"# cluster-scoped ones (ClusterAccounts). It does not grant creating or changing ClusterAccounts:\n" +
				"# a ClusterAccount makes the operator read a Secret in another namespace, which is for admins.\n" +
				"# Bind it with a RoleBinding (per namespace) or a ClusterRoleBinding; the manager does not use it.\n",
			rules: []rbacv1.PolicyRule{
				rule(namespaced, "create", "delete", "get", "list", "patch", "update", "watch"),
				rule(clusterScoped, "get", "list", "watch"),
				readStatus,
			},
		},
		{
			name: "viewer",
			doc: "# Grants read-only access to pbx.cloudpbx.dev resources.\n" +
				"# Bind it with a RoleBinding (per namespace) or a ClusterRoleBinding; the manager does not use it.\n",
			rules: []rbacv1.PolicyRule{rule(all, "get", "list", "watch"), readStatus},
		},
	}
}

const chartUserRolesHeader = `# Roles for the people who use the API, to be bound by the cluster administrator with a RoleBinding
# (per namespace) or a ClusterRoleBinding; the manager does not use them. Written by hack/rolegen
# ('make manifests'), with the rules of config/rbac/pbx_admin_role.yaml, pbx_editor_role.yaml and
# pbx_viewer_role.yaml.
`

func kustomizeRole(name string, rules []rbacv1.PolicyRule) string {
	return "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  labels:\n" +
		"    app.kubernetes.io/name: pbx-operator\n    app.kubernetes.io/managed-by: kustomize\n" +
		"  name: " + name + "\nrules:\n" + rulesYAML(rules)
}

func helmRole(name string, rules []rbacv1.PolicyRule) string {
	return "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n" +
		"  name: {{ include \"pbx-operator.fullname\" . }}-" + name + "\n  labels:\n" +
		"    {{- include \"pbx-operator.labels\" . | nindent 4 }}\nrules:\n" + rulesYAML(rules)
}

// chartManagerRole is the chart's manager ClusterRole: the rules of config/rbac/role.yaml, in their
// order, with the Secrets rule left out when rbac.secrets.namespaces moves it to the per-namespace
// Roles of secrets-role.yaml.
func chartManagerRole(rules []rbacv1.PolicyRule) (string, error) {
	var b strings.Builder
	b.WriteString(`{{- if .Values.rbac.create }}
# The manager's permissions: the rules of config/rbac/role.yaml (generated by 'make manifests' from
# the +kubebuilder:rbac markers), in the same order, written by hack/rolegen. The one difference:
# when rbac.secrets.namespaces is set, the Secrets rule moves to the per-namespace Roles of
# secrets-role.yaml.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ include "pbx-operator.fullname" . }}-manager-role
  labels:
    {{- include "pbx-operator.labels" . | nindent 4 }}
rules:
`)
	secrets := 0
	for _, r := range rules {
		if slices.Equal(r.APIGroups, []string{""}) && slices.Equal(r.Resources, []string{"secrets"}) {
			secrets++
			b.WriteString("{{- if not .Values.rbac.secrets.namespaces }}\n" + rulesYAML([]rbacv1.PolicyRule{r}) + "{{- end }}\n")
			continue
		}
		b.WriteString(rulesYAML([]rbacv1.PolicyRule{r}))
	}
	if secrets != 1 {
		return "", fmt.Errorf("config/rbac/role.yaml has %d rules for Secrets alone, want 1", secrets)
	}
	return b.String() + "{{- end }}\n", nil
}

// rulesYAML writes rules as controller-gen does.
func rulesYAML(rules []rbacv1.PolicyRule) string {
	var b strings.Builder
	list := func(key string, items []string, first bool) {
		if len(items) == 0 {
			return
		}
		if first {
			b.WriteString("- " + key + ":\n")
		} else {
			b.WriteString("  " + key + ":\n")
		}
		for _, it := range items {
			if it == "*" || it == "" {
				it = `"` + it + `"`
			}
			b.WriteString("  - " + it + "\n")
		}
	}
	for _, r := range rules {
		list("apiGroups", r.APIGroups, true)
		list("resources", r.Resources, false)
		list("verbs", r.Verbs, false)
	}
	return b.String()
}
