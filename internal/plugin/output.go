package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
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
		{"ExtensionGroup", "extensiongroups.yaml", 0o644, objects(e.Groups)},
		{"Extension", "extensions.yaml", 0o644, objects(e.Extensions)},
		{"PhoneNumber", "phonenumbers.yaml", 0o644, objects(e.PhoneNumbers)},
		// Webhook URLs often carry a token: only the user reads them.
		{"EventSubscription", "eventsubscriptions.yaml", 0o600, objects(e.EventSubscriptions)},
	}
}

// exportedKind is one kind of an export.
type exportedKind struct {
	kind, file string
	mode       os.FileMode
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
		file := filepath.Join(dir, k.file)
		if len(k.objects) == 0 {
			// An earlier export's file of this kind would be read by kubectl pbx plan -f DIR.
			if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		data, err := manifest(k.objects)
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, data, k.mode); err != nil {
			return err
		}
		// WriteFile keeps the mode of a file that exists.
		if err := os.Chmod(file, k.mode); err != nil {
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
