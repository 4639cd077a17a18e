package plugin

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// maxNameLength bounds the derived names to a DNS label, so they read well in kubectl and fit
// in label values should anyone select by them.
const maxNameLength = 63

// slug turns free text into a Kubernetes-style name part: lower-case ASCII letters and digits,
// every other run of characters one "-", no "-" at either end, at most n characters.
func slug(s string, n int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	out := b.String()
	if len(out) > n {
		out = strings.TrimRight(out[:n], "-")
	}
	return out
}

// groupNames gives every PBX group a Kubernetes name derived from its PBX name. Groups whose
// names derive to the same one keep it for the lowest id and get "-<id>" appended otherwise, so
// a group that appears later in the PBX never renames one exported before; a name with nothing
// usable (such as one in another script) becomes "group-<id>".
func groupNames(groups []pbx.ExtensionGroup) map[int64]string {
	sorted := slices.Clone(groups)
	slices.SortFunc(sorted, func(a, b pbx.ExtensionGroup) int { return cmp.Compare(a.ID, b.ID) })
	names := make(map[int64]string, len(groups))
	taken := map[string]bool{}
	for _, g := range sorted {
		id := strconv.FormatInt(g.ID, 10)
		base := slug(g.Name, maxNameLength-len(id)-1)
		name := base
		if base == "" {
			name = "group-" + id
		} else if taken[base] {
			name = base + "-" + id
		}
		taken[name] = true
		names[g.ID] = name
	}
	// A suffixed name may equal another group's plain one ("sales-12" named so in the PBX): the
	// later group in id order then takes "-<id>" again, which is unique because ids are.
	seen := map[string]int64{}
	for _, g := range sorted {
		if other, ok := seen[names[g.ID]]; ok && other != g.ID {
			names[g.ID] = "group-" + strconv.FormatInt(g.ID, 10)
		}
		seen[names[g.ID]] = g.ID
	}
	return names
}

// extensionName derives an Extension's name from its number and label: ext-101-alice-smith, or
// ext-101 without a usable label. Numbers are unique per client, so names never collide.
func extensionName(number, label string) string {
	base := "ext-" + slug(number, maxNameLength-4)
	if l := slug(label, maxNameLength-len(base)-1); l != "" {
		return base + "-" + l
	}
	return base
}
