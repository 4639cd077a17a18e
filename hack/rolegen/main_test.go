package main

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/cloudpbx/pbx-operator/internal/controller"
)

// repo is the repository's root, from this package's directory.
var repo = filepath.Join("..", "..")

// TestCommittedListsAreCurrent fails when a committed file differs from what 'make manifests' (this
// command) writes from the kinds table and the CRDs: a row added to internal/controller/kinds.go,
// or a CRD, without the lists of kinds that follow from it.
func TestCommittedListsAreCurrent(t *testing.T) {
	files, err := generate(repo, controller.ManagedKinds())
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range slices.Sorted(maps.Keys(files)) {
		data, err := os.ReadFile(filepath.Join(repo, path))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(files[path], string(data)); diff != "" {
			t.Errorf("%s is not what 'make manifests' writes (hack/rolegen); run it and commit the result (-want +committed):\n%s", path, diff)
		}
	}
}

// fake is a copy of the repository's inputs of rolegen under a temporary directory, with changes.
type fake struct {
	// newKind adds a managed kind Voicemail: its CRD, made from PhoneNumber's, and, unless
	// noSample, its sample.
	newKind, noSample bool
	// removeMarkers removes the markers of the README's table of kinds.
	removeMarkers bool
}

func (f fake) root(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyFile := func(path string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(repo, path))
		if err != nil {
			t.Fatal(err)
		}
		if f.removeMarkers && path == "README.md" {
			data = []byte(strings.NewReplacer("<!-- kinds:table -->", "", "<!-- /kinds:table -->", "").Replace(string(data)))
		}
		writeFile(t, root, path, data)
	}
	inputs := []string{"config/rbac/role.yaml", "docs/argocd/health.lua"}
	for _, dir := range []string{"config/crd/bases", "config/samples"} {
		paths, err := filepath.Glob(filepath.Join(repo, dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			inputs = append(inputs, filepath.Join(dir, filepath.Base(p)))
		}
	}
	for _, l := range lists {
		inputs = append(inputs, l.file)
	}
	for _, p := range inputs {
		copyFile(p)
	}
	if !f.newKind {
		return root
	}
	data, err := os.ReadFile(filepath.Join(repo, "config/crd/bases/pbx.cloudpbx.dev_phonenumbers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	c["metadata"].(map[string]any)["name"] = "voicemails." + group
	spec := c["spec"].(map[string]any)
	spec["names"] = map[string]any{
		"kind": "Voicemail", "listKind": "VoicemailList", "plural": "voicemails", "singular": "voicemail",
		"shortNames": []string{"vm"}, "categories": []string{"pbx"},
	}
	version := spec["versions"].([]any)[0].(map[string]any)
	version["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)["description"] = "Voicemail is the mailbox of an extension.\nMore."
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "config/crd/bases/pbx.cloudpbx.dev_voicemails.yaml", out)
	if !f.noSample {
		writeFile(t, root, "config/samples/pbx_v1alpha1_voicemail.yaml", []byte("kind: Voicemail\n"))
	}
	return root
}

func writeFile(t *testing.T, root, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(root, path)), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, path), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNewKindJoinsEveryList: a managed kind added to the table (and its CRD) is in every list of
// kinds rolegen writes but those of the account kinds, and the README's table describes it from
// its CRD.
func TestNewKindJoinsEveryList(t *testing.T) {
	root := fake{newKind: true}.root(t)
	managed := append(controller.ManagedKinds(), "Voicemail")
	g, _, err := load(root, managed)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lists {
		content, err := l.write(g)
		if err != nil {
			t.Fatalf("%s %s: %v", l.file, l.region, err)
		}
		if l.accounts {
			if strings.Contains(content, "Voicemail") || !strings.Contains(content, "ClusterAccount") {
				t.Errorf("the list of account kinds of %s %s has the managed kind Voicemail, or not ClusterAccount:\n%s", l.file, l.region, content)
			}
			continue
		}
		if !strings.Contains(strings.ToLower(content), "voicemail") {
			t.Errorf("the list of %s %s lacks the new kind Voicemail:\n%s", l.file, l.region, content)
		}
	}
	files, err := generate(root, managed)
	if err != nil {
		t.Fatal(err)
	}
	if want := "| `Voicemail` | `vm` | namespaced | The mailbox of an extension. |\n"; !strings.Contains(files["README.md"], want) {
		t.Errorf("the README's table lacks the row %q:\n%s", want, files["README.md"])
	}
	if want := "  kind: Voicemail\n  path: github.com/cloudpbx/pbx-operator/api/v1alpha1\n"; !strings.Contains(files["PROJECT"], want) {
		t.Errorf("PROJECT lacks the resource Voicemail:\n%s", files["PROJECT"])
	}
}

// TestForgottenParts: rolegen refuses a kind that is in only one of the table and the CRDs, a
// managed kind without a sample, and a file whose markers are gone, rather than write lists
// without the kind.
func TestForgottenParts(t *testing.T) {
	cases := map[string]struct {
		reason  string
		fake    fake
		managed []string
		want    error
	}{
		"Current": {
			reason:  "The repository's own table and CRDs agree.",
			managed: controller.ManagedKinds(),
		},
		"RowWithoutCRD": {
			reason:  "A row in the kinds table needs the kind's CRD.",
			managed: append(controller.ManagedKinds(), "Voicemail"),
			want:    errNoCRD,
		},
		"CRDWithoutRow": {
			reason:  "A CRD of a kind that is neither managed nor an account kind needs its row in the table.",
			fake:    fake{newKind: true},
			managed: controller.ManagedKinds(),
			want:    errNotInTable,
		},
		"NoSample": {
			reason:  "Every managed kind has a sample in config/samples.",
			fake:    fake{newKind: true, noSample: true},
			managed: append(controller.ManagedKinds(), "Voicemail"),
			want:    errNoSample,
		},
		"MarkersRemoved": {
			reason:  "A file that lists kinds keeps its markers, or rolegen cannot write its list.",
			fake:    fake{removeMarkers: true},
			managed: controller.ManagedKinds(),
			want:    errNoMarkers,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := generate(tc.fake.root(t), tc.managed)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s\ngenerate(...): %v, want %v", tc.reason, err, tc.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	cases := map[string]struct {
		reason  string
		kind    string
		desc    string
		want    string
		wantErr bool
	}{
		"FirstSentence": {
			reason: "The summary is the first sentence, without the kind's name, over lines joined.",
			kind:   "PhoneNumber",
			desc:   "PhoneNumber is an external phone number (a DID) of the PBX client, and where its calls and text\nmessages go. Deleting it unassigns the number.",
			want:   "An external phone number (a DID) of the PBX client, and where its calls and text messages go.",
		},
		"NoPeriod": {
			reason: "A description without a period ends with one.",
			kind:   "Voicemail",
			desc:   "Voicemail is a mailbox",
			want:   "A mailbox.",
		},
		"NotTheKind": {
			reason:  "A doc comment that does not start with '<Kind> is' cannot be summarised.",
			kind:    "Voicemail",
			desc:    "A mailbox.",
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := crd{kind: tc.kind, description: tc.desc}.summary()
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s\nsummary(): %v, want an error: %t", tc.reason, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nsummary(): -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestChartCRDs: the chart's CRD templates have the spec of config/crd/bases byte for byte, are
// rendered only with crds.enabled and carry the keep annotation only with crds.keep; a template
// of a CRD that is gone is stale; a spec that Helm would read as a template is refused.
func TestChartCRDs(t *testing.T) {
	g, _, err := load(repo, controller.ManagedKinds())
	if err != nil {
		t.Fatal(err)
	}
	files, err := chartCRDs(g.crds)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(g.crds) || len(files) == 0 {
		t.Fatalf("%d templates for %d CRDs", len(files), len(g.crds))
	}
	for _, c := range g.crds {
		tmpl := files[chartCRDDir+"/"+c.file]
		_, want, _ := strings.Cut(c.text, "\nspec:\n")
		_, got, _ := strings.Cut(tmpl, "\nspec:\n")
		got, ok := strings.CutSuffix(got, "{{- end }}\n")
		if !ok || got != want {
			t.Errorf("%s: the template's spec is not config/crd/bases' byte for byte", c.file)
		}
		for _, line := range []string{
			`{{- if include "pbx-operator.crdsEnabled" . }}` + "\n",
			"  name: " + c.plural + "." + group + "\n",
			"    {{- if .Values.crds.keep }}\n",
			"    helm.sh/resource-policy: keep\n",
			`    {{- include "pbx-operator.labels" . | nindent 4 }}` + "\n",
		} {
			if !strings.Contains(tmpl, line) {
				t.Errorf("%s: the template lacks the line %q", c.file, line)
			}
		}
	}

	root := t.TempDir()
	writeFile(t, root, chartCRDDir+"/pbx.cloudpbx.dev_voicemails.yaml", []byte("{{- if false }}\n{{- end }}\n"))
	for path, content := range files {
		writeFile(t, root, path, []byte(content))
	}
	stale, err := staleChartCRDs(root, files)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{chartCRDDir + "/pbx.cloudpbx.dev_voicemails.yaml"}, stale); diff != "" {
		t.Errorf("stale templates (-want +got):\n%s", diff)
	}

	c := g.crds[0]
	c.text = strings.Replace(c.text, "description: ", "description: Use {{ .Values }} ", 1)
	if _, err := chartCRD(c); err == nil {
		t.Error("a spec with template delimiters is refused")
	}
}
