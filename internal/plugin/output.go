package plugin

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// File names of export's directory output (--output-dir DIR).
const (
	GroupsFile        = "extensiongroups.yaml"
	ExtensionsFile    = "extensions.yaml"
	KustomizationFile = "kustomization.yaml"
)

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

func (e *Export) groupObjects() []runtime.Object {
	out := make([]runtime.Object, 0, len(e.Groups))
	for i := range e.Groups {
		out = append(out, &e.Groups[i])
	}
	return out
}

func (e *Export) extensionObjects() []runtime.Object {
	out := make([]runtime.Object, 0, len(e.Extensions))
	for i := range e.Extensions {
		out = append(out, &e.Extensions[i])
	}
	return out
}

// YAML renders the export as one multi-document YAML stream: groups first, then extensions, so
// that kubectl apply creates the groups the extensions refer to first.
func (e *Export) YAML() ([]byte, error) {
	return manifest(append(e.groupObjects(), e.extensionObjects()...))
}

// WriteDir writes the export into dir, one file per kind plus a kustomization.yaml listing them.
func (e *Export) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	groups, err := manifest(e.groupObjects())
	if err != nil {
		return err
	}
	exts, err := manifest(e.extensionObjects())
	if err != nil {
		return err
	}
	kust := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\n- %s\n", GroupsFile, ExtensionsFile)
	for name, data := range map[string][]byte{GroupsFile: groups, ExtensionsFile: exts, KustomizationFile: []byte(kust)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
