package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// gen is what the writers of the lists read.
type gen struct {
	// root is the repository's root; the writers read the files they fill in from it.
	root string
	// crds are the CRDs, sorted by plural; kinds are the same in the order of the lists
	// (orderKinds): the account kinds, then the managed kinds in the order of the kinds table.
	crds, kinds []crd
	// roles are the user roles (admin, editor, viewer).
	roles []role
}

// A list is one place outside the code that lists the kinds of the API, and its writer. Without a
// region, the writer writes the whole file. With one, it writes the part of the file between two
// markers, which the file keeps: "<!-- kinds:REGION -->" and "<!-- /kinds:REGION -->" in Markdown
// (inline in a sentence or a table cell, or on lines of their own around a block), the lines
// "# kinds:REGION" and "# /kinds:REGION" in YAML.
type list struct {
	file, region string
	// accounts says that the list is of the account kinds only; the others list every kind, or
	// every managed kind.
	accounts bool
	write    func(g *gen) (string, error)
}

// lists are the lists of kinds that 'make manifests' writes. A new kind is a row of the kinds
// table and a CRD; every list follows from them.
var lists = []list{
	{file: "config/crd/kustomization.yaml", write: func(g *gen) (string, error) { return kustomization(g.crds), nil }},
	{file: "config/rbac/pbx_admin_role.yaml", write: kustomizeUserRole("admin")},
	{file: "config/rbac/pbx_editor_role.yaml", write: kustomizeUserRole("editor")},
	{file: "config/rbac/pbx_viewer_role.yaml", write: kustomizeUserRole("viewer")},
	{file: "charts/pbx-operator/templates/user-roles.yaml", write: chartUserRoles},
	{file: "config/samples/kustomization.yaml", write: samplesKustomization},
	{file: "PROJECT", write: project},
	{file: "charts/pbx-operator/Chart.yaml", region: "description", write: chartDescription},
	{file: "charts/pbx-operator/README.md.gotmpl", region: "kinds", write: kindNames},
	{file: "charts/pbx-operator/README.md.gotmpl", region: "crds", write: crdNames},
	{file: "README.md", region: "table", write: readmeTable},
	{file: "docs/conditions.md", region: "managed", write: managedKindNames},
	{file: "docs/conditions.md", region: "accounts", accounts: true, write: accountKindNames},
	{file: "docs/promises.md", region: "managed", write: managedKindNames},
	{file: "docs/security.md", region: "roles", write: rolesTable},
	{file: "docs/argocd.md", region: "health-per-kind", write: argoCDPerKind},
}

// writeLists returns the files of lists, written.
func writeLists(g *gen) (map[string]string, error) {
	files := map[string]string{}
	for _, l := range lists {
		content, err := l.write(g)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.file, err)
		}
		if l.region == "" {
			files[l.file] = content
			continue
		}
		text, ok := files[l.file]
		if !ok {
			data, err := os.ReadFile(filepath.Join(g.root, l.file))
			if err != nil {
				return nil, err
			}
			text = string(data)
		}
		if text, err = replaceRegion(text, l.file, l.region, content); err != nil {
			return nil, err
		}
		files[l.file] = text
	}
	return files, nil
}

// replaceRegion returns text, the content of file, with the part between the markers of region
// replaced by content. Markdown files, and the templates helm-docs writes them from, have HTML
// comments as markers; the others, YAML comment lines.
func replaceRegion(text, file, region, content string) (string, error) {
	begin, end := "<!-- kinds:"+region+" -->", "<!-- /kinds:"+region+" -->"
	if !strings.HasSuffix(file, ".md") && !strings.HasSuffix(file, ".md.gotmpl") {
		begin, end = "# kinds:"+region+"\n", "# /kinds:"+region+"\n"
	}
	if strings.Count(text, begin) != 1 || strings.Count(text, end) != 1 {
		return "", fmt.Errorf("%w: %s: want the markers %q and %q once each, around the list that 'make manifests' writes",
			errNoMarkers, file, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	before, rest, _ := strings.Cut(text, begin)
	_, after, ok := strings.Cut(rest, end)
	if !ok {
		return "", fmt.Errorf("%w: %s: the marker %q is before %q", errNoMarkers, file, strings.TrimSpace(end), strings.TrimSpace(begin))
	}
	return before + begin + content + end + after, nil
}

// names returns the kinds' names, each in backticks, joined with commas.
func names(kinds []crd) string {
	var out []string
	for _, k := range kinds {
		out = append(out, "`"+k.kind+"`")
	}
	return strings.Join(out, ", ")
}

func kindNames(g *gen) (string, error) { return names(g.kinds), nil }

func managedKindNames(g *gen) (string, error) {
	return names(slices.DeleteFunc(slices.Clone(g.kinds), func(k crd) bool { return !k.managed })), nil
}

func accountKindNames(g *gen) (string, error) {
	return names(slices.DeleteFunc(slices.Clone(g.kinds), func(k crd) bool { return k.managed })), nil
}

// crdNames names the CRDs as the chart's table of objects does: `accounts`, ... `.pbx.cloudpbx.dev`.
func crdNames(g *gen) (string, error) {
	var out []string
	for _, k := range g.kinds {
		out = append(out, "`"+k.plural+"`")
	}
	return strings.Join(out, ", ") + " `." + group + "`", nil
}

func chartDescription(g *gen) (string, error) {
	var kinds []string
	for _, k := range g.kinds {
		kinds = append(kinds, k.kind)
	}
	return "description: >-\n" + wrap("A Kubernetes operator that manages a cloud PBX from custom resources ("+
		strings.Join(kinds, ", ")+").", "  ", 100), nil
}

// readmeTable is the README's table of kinds: a row per kind, from its CRD, with a link to
// docs/<plural>.md when there is one.
func readmeTable(g *gen) (string, error) {
	var b strings.Builder
	b.WriteString("\n| kind | short name | scope | what it is |\n|---|---|---|---|\n")
	for _, k := range g.kinds {
		summary, err := k.summary()
		if err != nil {
			return "", err
		}
		doc := filepath.Join("docs", k.plural+".md")
		if _, err := os.Stat(filepath.Join(g.root, doc)); err == nil {
			summary += " See [" + doc + "](" + doc + ")."
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		scope := "cluster"
		if k.namespaced {
			scope = "namespaced"
		}
		short := "`" + strings.Join(k.shortNames, "`, `") + "`"
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.kind, short, scope, strings.ReplaceAll(summary, "|", `\|`))
	}
	return b.String(), nil
}

// rolesTable is the table of user roles in docs/security.md, from least to most: a row per role,
// with what it may do (from the same lists of kinds as its rules) and whom it is for.
func rolesTable(g *gen) (string, error) {
	var b strings.Builder
	b.WriteString("\n| role | may | for |\n|---|---|---|\n")
	for _, r := range slices.Backward(g.roles) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.name, r.may, r.audience)
	}
	return b.String(), nil
}

// argoCDPerKind is the Argo CD Helm chart snippet of docs/argocd.md with one health key per kind,
// each docs/argocd/health.lua.
func argoCDPerKind(g *gen) (string, error) {
	script, err := os.ReadFile(filepath.Join(g.root, "docs", "argocd", "health.lua"))
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(script), "\n"), "\n")
	var b strings.Builder
	b.WriteString("\n```yaml\nconfigs:\n  cm:\n")
	for _, k := range g.kinds {
		b.WriteString("    resource.customizations.health." + group + "_" + k.kind + ": |\n")
		for _, l := range lines {
			if l != "" {
				l = "      " + l
			}
			b.WriteString(l + "\n")
		}
	}
	b.WriteString("```\n")
	return b.String(), nil
}

const samplesHeader = `## The samples work against the demo tenant of pbxsim ('make run-sim' or 'go run ./cmd/pbxsim').
## The samples of the kinds (every managed kind has one), the accounts first, then in the order of
## the kinds table: hack/rolegen ('make manifests') writes this list.
`

// samplesKustomization lists the samples of config/samples, pbx_<version>_<kind>.yaml, in the order
// of the kinds. A managed kind without a sample, or a sample of no kind, is an error.
func samplesKustomization(g *gen) (string, error) {
	paths, err := filepath.Glob(filepath.Join(g.root, "config", "samples", "*.yaml"))
	if err != nil {
		return "", err
	}
	left := map[string]bool{}
	for _, p := range paths {
		if f := filepath.Base(p); f != "kustomization.yaml" {
			left[f] = true
		}
	}
	b := strings.Builder{}
	b.WriteString(samplesHeader + "resources:\n")
	for _, k := range g.kinds {
		f := "pbx_" + k.version + "_" + strings.ToLower(k.kind) + ".yaml"
		switch {
		case left[f]:
			b.WriteString("- " + f + "\n")
			delete(left, f)
		case k.managed:
			return "", fmt.Errorf("%w: no sample of %s: want config/samples/%s", errNoSample, k.kind, f)
		}
	}
	if len(left) > 0 {
		return "", fmt.Errorf("%w: config/samples has %v, the sample of no kind (pbx_<version>_<kind>.yaml)", errNoSample, slices.Sorted(maps.Keys(left)))
	}
	return b.String(), nil
}

// project is kubebuilder's PROJECT with a resource per kind, in the order of the kinds. The rest
// of the file, and any other field of a resource (kubebuilder's, when it writes one), is kept.
func project(g *gen) (string, error) {
	data, err := os.ReadFile(filepath.Join(g.root, "PROJECT"))
	if err != nil {
		return "", err
	}
	var header strings.Builder
	for line := range strings.Lines(string(data)) {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header.WriteString(line)
	}
	var p map[string]any
	if err := yaml.Unmarshal(data, &p); err != nil {
		return "", err
	}
	domain, _ := p["domain"].(string)
	repo, _ := p["repo"].(string)
	short, ok := strings.CutSuffix(group, "."+domain)
	if !ok || repo == "" {
		return "", fmt.Errorf("want a repo and the domain of the group %s, found %q and %q", group, repo, domain)
	}
	existing := map[string]map[string]any{}
	old, _ := p["resources"].([]any)
	for _, r := range old {
		if r, ok := r.(map[string]any); ok {
			if kind, ok := r["kind"].(string); ok {
				existing[kind] = r
			}
		}
	}
	resources := make([]any, 0, len(g.kinds))
	for _, k := range g.kinds {
		r := existing[k.kind]
		if r == nil {
			r = map[string]any{}
		}
		api, _ := r["api"].(map[string]any)
		if api == nil {
			api = map[string]any{}
		}
		api["crdVersion"] = "v1"
		if k.namespaced {
			api["namespaced"] = true
		} else {
			delete(api, "namespaced")
		}
		r["api"], r["domain"], r["group"], r["kind"] = api, domain, short, k.kind
		r["path"], r["version"] = repo+"/api/"+k.version, k.version
		resources = append(resources, r)
	}
	p["resources"] = resources
	out, err := yaml.Marshal(p)
	if err != nil {
		return "", err
	}
	return header.String() + string(out), nil
}
