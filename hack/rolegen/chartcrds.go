package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// chartCRDDir is the folder of the chart's CRD templates, one per file of config/crd/bases.
const chartCRDDir = "charts/pbx-operator/templates/crds"

// chartCRDs returns the chart's CRD templates by their path from the repository's root: each is
// the CRD controller-gen wrote, rendered only with crds.enabled, with the chart's labels and, with
// crds.keep, the annotation that keeps it on helm uninstall. Its spec is the file's, byte for byte,
// so that what Helm applies is what config/crd/bases holds.
func chartCRDs(crds []crd) (map[string]string, error) {
	files := make(map[string]string, len(crds))
	for _, c := range crds {
		t, err := chartCRD(c)
		if err != nil {
			return nil, fmt.Errorf("config/crd/bases/%s: %w", c.file, err)
		}
		files[chartCRDDir+"/"+c.file] = t
	}
	return files, nil
}

func chartCRD(c crd) (string, error) {
	head, spec, ok := strings.Cut(c.text, "\nspec:\n")
	if !ok {
		return "", fmt.Errorf("no line \"spec:\"")
	}
	var h struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(head), &h); err != nil {
		return "", err
	}
	if h.APIVersion != "apiextensions.k8s.io/v1" || h.Kind != "CustomResourceDefinition" {
		return "", fmt.Errorf("%s %s, want an apiextensions.k8s.io/v1 CustomResourceDefinition", h.APIVersion, h.Kind)
	}
	name, _ := h.Metadata["name"].(string)
	annotations, _ := h.Metadata["annotations"].(map[string]any)
	delete(h.Metadata, "name")
	delete(h.Metadata, "annotations")
	if name == "" || len(h.Metadata) > 0 {
		return "", fmt.Errorf("metadata has %v besides name and annotations, or no name: rolegen writes only those", slices.Sorted(maps.Keys(h.Metadata)))
	}
	var b strings.Builder
	b.WriteString(`{{- if include "pbx-operator.crdsEnabled" . }}
# The CustomResourceDefinition of ` + c.plurals() + `, written by hack/rolegen ('make manifests') from
# config/crd/bases/` + c.file + ` (controller-gen, from api/): its spec is
# that file's, byte for byte; its metadata adds the chart's labels.
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ` + name + `
  annotations:
`)
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		v, ok := annotations[k].(string)
		if !ok {
			return "", fmt.Errorf("the annotation %s is not a string", k)
		}
		b.WriteString("    " + k + ": " + v + "\n")
	}
	b.WriteString(`    {{- if .Values.crds.keep }}
    # helm uninstall, and an upgrade or rollback to a release without this CRD, leave it in place,
    # and with it every ` + c.kind + `: deleting a CRD deletes its resources.
    helm.sh/resource-policy: keep
    {{- end }}
  labels:
    {{- include "pbx-operator.labels" . | nindent 4 }}
spec:
`)
	if strings.Contains(spec, "{{") || strings.Contains(spec, "}}") {
		return "", fmt.Errorf("the spec has template delimiters ({{ or }}), which Helm would read as a template")
	}
	b.WriteString(spec)
	if !strings.HasSuffix(spec, "\n") {
		b.WriteString("\n")
	}
	b.WriteString("{{- end }}\n")
	return b.String(), nil
}

// staleChartCRDs returns the files of the chart's CRD folder under root that files does not have:
// the templates of CRDs that config/crd/bases no longer has.
func staleChartCRDs(root string, files map[string]string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(root, chartCRDDir, "*"))
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, p := range paths {
		rel := chartCRDDir + "/" + filepath.Base(p)
		if _, ok := files[rel]; !ok {
			stale = append(stale, rel)
		}
	}
	return stale, nil
}
