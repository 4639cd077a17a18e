package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudpbx/pbx-operator/internal/controller"
)

// group is the API group of every kind, whose resources the user roles cover.
const group = "pbx.cloudpbx.dev"

func main() {
	files, err := generate(".", controller.ManagedKinds())
	if err == nil {
		err = write(".", files)
	}
	if err == nil {
		err = removeStale(".", files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rolegen:", err)
		os.Exit(1)
	}
}

// generate returns the files that rolegen writes, by their path from root, the repository's root:
// the lists of kinds (lists), the chart's manager roles and the chart's CRD templates.
func generate(root string, managed []string) (map[string]string, error) {
	g, rules, err := load(root, managed)
	if err != nil {
		return nil, err
	}
	files, err := writeLists(g)
	if err != nil {
		return nil, err
	}
	managerRole, secretRoles, err := chartManagerRoles(rules)
	if err != nil {
		return nil, err
	}
	files["charts/pbx-operator/templates/clusterrole.yaml"] = managerRole
	files["charts/pbx-operator/templates/secrets-role.yaml"] = secretRoles
	crdTemplates, err := chartCRDs(g.crds)
	if err != nil {
		return nil, err
	}
	maps.Copy(files, crdTemplates)
	return files, nil
}

// load reads what the files are written from: the CRDs under root, with the managed kinds of the
// kinds table (managed, in its order), and the manager's rules.
func load(root string, managed []string) (*gen, []rbacv1.PolicyRule, error) {
	crds, err := readCRDs(filepath.Join(root, "config", "crd", "bases"))
	if err != nil {
		return nil, nil, err
	}
	kinds, err := orderKinds(crds, managed)
	if err != nil {
		return nil, nil, err
	}
	rules, err := readRules(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, nil, err
	}
	return &gen{root: root, crds: crds, kinds: kinds, roles: userRoles(kinds)}, rules, nil
}

// write writes files under root.
func write(root string, files map[string]string) error {
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, path)), 0o755); err != nil { //nolint:gosec // committed folders, readable by all
			return err
		}
		if err := os.WriteFile(filepath.Join(root, path), []byte(content), 0o644); err != nil { //nolint:gosec // committed files, readable by all
			return err
		}
	}
	return nil
}

// removeStale removes the chart's CRD templates under root that files does not have: those of
// CRDs that are gone from config/crd/bases.
func removeStale(root string, files map[string]string) error {
	stale, err := staleChartCRDs(root, files)
	if err != nil {
		return err
	}
	for _, p := range stale {
		if err := os.Remove(filepath.Join(root, p)); err != nil {
			return err
		}
	}
	return nil
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

// role is a user role: its name (admin, editor, viewer), the comment that explains it, its rules,
// and for the table of roles in docs/security.md what it may do and whom it is for.
type role struct {
	name, doc     string
	rules         []rbacv1.PolicyRule
	may, audience string
}

// userRoles returns the user roles over kinds, in the order of their files: admin, editor, viewer.
// Their rules list the resources by plural, sorted; what they may do lists the kinds in the order
// of kinds.
func userRoles(kinds []crd) []role {
	var all, namespaced, clusterScoped, status []string
	var allKinds, namespacedKinds, clusterScopedKinds []string
	for _, c := range kinds {
		all = append(all, c.plural)
		status = append(status, c.plural+"/status")
		allKinds = append(allKinds, c.plurals())
		if c.namespaced {
			namespaced = append(namespaced, c.plural)
			namespacedKinds = append(namespacedKinds, c.plurals())
		} else {
			clusterScoped = append(clusterScoped, c.plural)
			clusterScopedKinds = append(clusterScopedKinds, c.plurals())
		}
	}
	for _, l := range [][]string{all, namespaced, clusterScoped, status} {
		slices.Sort(l)
	}
	rule := func(resources []string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs}
	}
	readStatus := rule(status, "get")
	editorMay := "create, change, delete, get, list and watch " + and(namespacedKinds)
	if len(clusterScopedKinds) > 0 {
		editorMay += "; get, list and watch " + and(clusterScopedKinds)
	}
	return []role{
		{
			name: "admin",
			doc: "# Grants full control over the pbx.cloudpbx.dev resources, for the people who administer them.\n" +
				"# Bind it with a RoleBinding (per namespace) or a ClusterRoleBinding; the manager does not use it.\n",
			rules:    []rbacv1.PolicyRule{rule(all, "*"), readStatus},
			may:      "everything on " + and(allKinds) + "; get their status",
			audience: "platform administrators",
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
			may:      editorMay + "; get the status of all",
			audience: "the teams that manage their own numbers",
		},
		{
			name: "viewer",
			doc: "# Grants read-only access to pbx.cloudpbx.dev resources.\n" +
				"# Bind it with a RoleBinding (per namespace) or a ClusterRoleBinding; the manager does not use it.\n",
			rules:    []rbacv1.PolicyRule{rule(all, "get", "list", "watch"), readStatus},
			may:      "get, list and watch " + and(allKinds) + "; get their status",
			audience: "people who look: on-call, auditors, dashboards",
		},
	}
}

// kustomizeUserRole writes the user role name into config/rbac.
func kustomizeUserRole(name string) func(g *gen) (string, error) {
	return func(g *gen) (string, error) {
		for _, r := range g.roles {
			if r.name == name {
				return r.doc + kustomizeRole("pbx-"+r.name+"-role", r.rules), nil
			}
		}
		return "", fmt.Errorf("no user role %s", name)
	}
}

// chartUserRoles writes the user roles into the Helm chart.
func chartUserRoles(g *gen) (string, error) {
	chart := "{{- if and .Values.rbac.create .Values.rbac.userRoles.create }}\n" + chartUserRolesHeader
	for i, r := range g.roles {
		if i > 0 {
			chart += "---\n"
		}
		chart += r.doc + helmRole("pbx-"+r.name+"-role", r.rules)
	}
	return chart + "{{- end }}\n", nil
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

// chartManagerRoles returns the chart's manager ClusterRole and its per-namespace Secrets Roles.
// The ClusterRole has the rules of config/rbac/role.yaml, in their order, but for the Secrets
// rule, which is split: its read verbs (get, list, watch) stay in the ClusterRole unless
// rbac.secrets.namespaces moves them to Roles in those namespaces; its write verbs (create and
// patch, for the SIP credentials Secrets the manager writes) are only ever granted by Roles in the
// namespaces of rbac.secrets.writeNamespaces.
func chartManagerRoles(rules []rbacv1.PolicyRule) (clusterRole, secretRoles string, err error) {
	var b strings.Builder
	b.WriteString(`{{- if .Values.rbac.create }}
# The manager's permissions: the rules of config/rbac/role.yaml (generated by 'make manifests' from
# the +kubebuilder:rbac markers), in the same order, written by hack/rolegen. The one difference is
# the Secrets rule: reading Secrets moves to the per-namespace Roles of secrets-role.yaml when
# rbac.secrets.namespaces is set, and writing them (create, patch) is granted only there, in the
# namespaces of rbac.secrets.writeNamespaces.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ include "pbx-operator.fullname" . }}-manager-role
  labels:
    {{- include "pbx-operator.labels" . | nindent 4 }}
rules:
`)
	var read, write *rbacv1.PolicyRule
	for _, r := range rules {
		if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.Resources, []string{"secrets"}) {
			b.WriteString(rulesYAML([]rbacv1.PolicyRule{r}))
			continue
		}
		if read != nil {
			return "", "", errors.New("config/rbac/role.yaml has more than one rule for Secrets alone, want 1")
		}
		read, write = r.DeepCopy(), r.DeepCopy()
		read.Verbs = slices.DeleteFunc(read.Verbs, func(v string) bool { return !isRead(v) })
		write.Verbs = slices.DeleteFunc(write.Verbs, isRead)
		b.WriteString("{{- if not .Values.rbac.secrets.namespaces }}\n" + rulesYAML([]rbacv1.PolicyRule{*read}) + "{{- end }}\n")
	}
	if read == nil {
		return "", "", errors.New("config/rbac/role.yaml has no rule for Secrets alone, want 1")
	}
	clusterRole = b.String() + "{{- end }}\n"
	secretRoles = secretsRole("namespaces", "manager-secrets-role",
		"# Least privilege: lets the manager read the Secrets of this namespace only (the credentials of\n"+
			"# accounts), in place of the read verbs of the Secrets rule of its ClusterRole.\n", *read) +
		secretsRole("writeNamespaces", "manager-secrets-write-role",
			"# Lets the manager write Secrets in this namespace: the SIP credentials Secrets of phone\n"+
				"# Extensions with writeCredentialsSecretRef. It may write Secrets nowhere else.\n", *write)
	return clusterRole, secretRoles, nil
}

// isRead tells whether an RBAC verb only reads.
func isRead(verb string) bool { return verb == "get" || verb == "list" || verb == "watch" }

// secretsRole is the template of a Role with the Secrets rule r in each namespace of
// rbac.secrets.<value>, with doc, the comment that says what it is for.
func secretsRole(value, name, doc string, r rbacv1.PolicyRule) string {
	return `{{- if and .Values.rbac.create .Values.rbac.secrets.` + value + ` }}
{{- range $ns := uniq .Values.rbac.secrets.` + value + ` }}
---
` + doc + `# Written by hack/rolegen from the Secrets rule of config/rbac/role.yaml.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "pbx-operator.fullname" $ }}-` + name + `
  namespace: {{ $ns }}
  labels:
    {{- include "pbx-operator.labels" $ | nindent 4 }}
rules:
` + rulesYAML([]rbacv1.PolicyRule{r}) + `{{- end }}
{{- end }}
`
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
