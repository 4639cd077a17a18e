package plugin

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// KustomizationFile is the kustomization export writes with its directory output (--output-dir
// DIR), beside one file per kind: extensiongroups.yaml, extensions.yaml, phonenumbers.yaml and
// eventsubscriptions.yaml.
const KustomizationFile = "kustomization.yaml"

// manifest renders objects as YAML documents separated by "---", without the fields a manifest
// does not carry (creationTimestamp, status).
func manifest(objs []runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range objs {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil, err
		}
		delete(u, "status")
		if md, ok := u["metadata"].(map[string]any); ok {
			delete(md, "creationTimestamp")
		}
		data, err := yaml.Marshal(u)
		if err != nil {
			return nil, err
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	return buf.Bytes(), nil
}

// kinds are the export's objects by kind, in the order kubectl apply creates them (a kind before
// the kinds that refer to it), each with the file of the directory output.
func (e *Export) kinds() []exportedKind {
	return []exportedKind{
		{"ExtensionGroup", "extensiongroups.yaml", objects(e.Groups)},
		{"Extension", "extensions.yaml", objects(e.Extensions)},
		{"PhoneNumber", "phonenumbers.yaml", objects(e.PhoneNumbers)},
		{"EventSubscription", "eventsubscriptions.yaml", objects(e.EventSubscriptions)},
	}
}

// exportedKind is one kind of an export.
type exportedKind struct {
	kind, file string
	objects    []runtime.Object
}

func objects[T any, P interface {
	*T
	runtime.Object
}](items []T) []runtime.Object {
	out := make([]runtime.Object, 0, len(items))
	for i := range items {
		out = append(out, P(&items[i]))
	}
	return out
}

// YAML renders the export as one multi-document YAML stream, a kind before the kinds that refer
// to it, so that kubectl apply creates what an object names first.
func (e *Export) YAML() ([]byte, error) {
	var all []runtime.Object
	for _, k := range e.kinds() {
		all = append(all, k.objects...)
	}
	return manifest(all)
}

// WriteDir writes the export into dir, one file per kind with objects plus a kustomization.yaml
// listing them.
func (e *Export) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, k := range e.kinds() {
		if len(k.objects) == 0 {
			continue
		}
		data, err := manifest(k.objects)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, k.file), data, 0o644); err != nil {
			return err
		}
		kust += "- " + k.file + "\n"
	}
	return os.WriteFile(filepath.Join(dir, KustomizationFile), []byte(kust), 0o644)
}

// Counts says how many objects of each kind the export holds: "3 ExtensionGroups, 12 Extensions".
func (e *Export) Counts() string {
	var parts []string
	for _, k := range e.kinds() {
		parts = append(parts, fmt.Sprintf("%d %ss", len(k.objects), k.kind))
	}
	return strings.Join(parts, ", ")
}
