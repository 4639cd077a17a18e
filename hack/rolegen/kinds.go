package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// The kinds that a part of the tree has and another lacks; rolegen stops on them.
var (
	errNoCRD      = errors.New("a kind without a CRD")
	errNotInTable = errors.New("a CRD of a kind neither in the kinds table nor an account kind")
	errNoSample   = errors.New("a kind without a sample, or a sample of no kind")
	errNoMarkers  = errors.New("a list without its markers")
)

// crd is what the lists need of a CustomResourceDefinition: one kind of the API.
type crd struct {
	file string
	// text is the CRD's file as controller-gen wrote it, which the chart's template copies.
	text       string
	kind       string
	plural     string
	shortNames []string
	categories []string
	namespaced bool
	// version is the CRD's first version (the API has one).
	version string
	// description is the CRD's description: the doc comment of the kind's Go type.
	description string
	// accountKinds is the enum of spec.accountRef.kind: the kinds a managed resource may name as
	// its account. Empty for the account kinds themselves.
	accountKinds []string
	// managed tells whether the kinds table of internal/controller has the kind.
	managed bool
}

// readCRDs reads the CRDs that controller-gen wrote into dir, sorted by plural.
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
					Kind       string   `json:"kind"`
					Plural     string   `json:"plural"`
					ShortNames []string `json:"shortNames"`
					Categories []string `json:"categories"`
				} `json:"names"`
				Versions []struct {
					Name   string `json:"name"`
					Schema struct {
						OpenAPIV3Schema struct {
							Description string `json:"description"`
							Properties  struct {
								Spec struct {
									Properties struct {
										AccountRef struct {
											Properties struct {
												Kind struct {
													Enum []string `json:"enum"`
												} `json:"kind"`
											} `json:"properties"`
										} `json:"accountRef"`
									} `json:"properties"`
								} `json:"spec"`
							} `json:"properties"`
						} `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if c.Spec.Group != group {
			return nil, fmt.Errorf("%s: group %q, want %q", p, c.Spec.Group, group)
		}
		if len(c.Spec.Versions) != 1 {
			return nil, fmt.Errorf("%s: %d versions, want 1", p, len(c.Spec.Versions))
		}
		v := c.Spec.Versions[0]
		out = append(out, crd{
			file: filepath.Base(p), text: string(data), kind: c.Spec.Names.Kind, plural: c.Spec.Names.Plural,
			shortNames: c.Spec.Names.ShortNames, categories: c.Spec.Names.Categories,
			namespaced: c.Spec.Scope == "Namespaced", version: v.Name,
			description:  v.Schema.OpenAPIV3Schema.Description,
			accountKinds: v.Schema.OpenAPIV3Schema.Properties.Spec.Properties.AccountRef.Properties.Kind.Enum,
		})
	}
	slices.SortFunc(out, func(a, b crd) int { return strings.Compare(a.plural, b.plural) })
	return out, nil
}

// orderKinds returns the kinds of the API in the order the lists show them: the account kinds (the
// values of a managed resource's spec.accountRef.kind, in their order), then the managed kinds in
// the order of the kinds table (managed, from internal/controller). It fails when the table and the
// CRDs disagree: a kind of the table without a CRD, or a CRD that is neither managed nor an
// account kind, so that a kind added to one and not the other stops 'make manifests'.
func orderKinds(crds []crd, managed []string) ([]crd, error) {
	byKind := make(map[string]crd, len(crds))
	for _, c := range crds {
		byKind[c.kind] = c
	}
	var accountKinds []string
	for _, name := range managed {
		c, ok := byKind[name]
		if !ok {
			return nil, fmt.Errorf("%w: the kinds table (internal/controller/kinds.go) has %s, which has no CRD in config/crd/bases: "+
				"is its type in api/ a root type (+kubebuilder:object:root)?", errNoCRD, name)
		}
		if len(c.accountKinds) == 0 {
			return nil, fmt.Errorf("%s: the managed kind %s has no enum of spec.accountRef.kind (ManagedSpec)", c.file, name)
		}
		if accountKinds == nil {
			accountKinds = c.accountKinds
		} else if !slices.Equal(accountKinds, c.accountKinds) {
			return nil, fmt.Errorf("%s: spec.accountRef.kind is one of %v, other managed kinds' %v", c.file, c.accountKinds, accountKinds)
		}
	}
	var out []crd
	for _, name := range accountKinds {
		c, ok := byKind[name]
		if !ok {
			return nil, fmt.Errorf("%w: spec.accountRef.kind may be %s, which has no CRD in config/crd/bases", errNoCRD, name)
		}
		out = append(out, c)
	}
	for _, name := range managed {
		c := byKind[name]
		c.managed = true
		out = append(out, c)
	}
	for _, c := range crds {
		if !slices.ContainsFunc(out, func(o crd) bool { return o.kind == c.kind }) {
			return nil, fmt.Errorf("%w: %s: %s is neither in the kinds table (internal/controller/kinds.go) nor an account kind "+
				"(the enum of spec.accountRef.kind): add its row to the table", errNotInTable, c.file, c.kind)
		}
	}
	for _, c := range out {
		if !slices.Contains(c.categories, "pbx") {
			return nil, fmt.Errorf("%s: %s is not in the category pbx (+kubebuilder:resource:categories=pbx): 'kubectl get pbx' would miss it", c.file, c.kind)
		}
		if len(c.shortNames) == 0 {
			return nil, fmt.Errorf("%s: %s has no short name (+kubebuilder:resource:shortName=...)", c.file, c.kind)
		}
		if _, err := c.summary(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// summary is the first sentence of the kind's description (its Go type's doc comment) without
// "<Kind> is ", capitalised: "A group of PBX extensions: ...".
func (c crd) summary() (string, error) {
	text := strings.Join(strings.Fields(c.description), " ")
	rest, ok := strings.CutPrefix(text, c.kind+" is ")
	if !ok || rest == "" {
		return "", fmt.Errorf("%s: the doc comment of %s starts %q, want %q followed by what it is", c.file, c.kind, firstWords(text), c.kind+" is")
	}
	if i := strings.Index(rest, ". "); i >= 0 {
		rest = rest[:i+1]
	}
	if !strings.HasSuffix(rest, ".") {
		rest += "."
	}
	return strings.ToUpper(rest[:1]) + rest[1:], nil
}

func firstWords(s string) string {
	if f := strings.Fields(s); len(f) > 3 {
		return strings.Join(f[:3], " ")
	}
	return s
}

// plurals is the kind's plural as prose writes it: ExtensionGroups.
func (c crd) plurals() string {
	if rest, ok := strings.CutPrefix(c.plural, strings.ToLower(c.kind)); ok {
		return c.kind + rest
	}
	return c.plural
}

// and joins items as prose does: "a", "a and b", "a, b and c".
func and(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// wrap breaks text into lines of at most width characters, each starting with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if line != indent && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}
