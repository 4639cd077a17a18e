package controller

import (
	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// groupCreate is the PBX create body of an ExtensionGroup's spec.
func groupCreate(spec *v1alpha1.ExtensionGroupSpec) pbx.ExtensionGroupCreate {
	return pbx.ExtensionGroupCreate{Name: spec.Name, ExtraParams: optString(spec.ExtraParams)}
}

// GroupDiff names the fields of the PBX group g that differ from spec (name, extraParams), exactly
// as the ExtensionGroup controller decides it. kubectl pbx plan shows the same changes.
func GroupDiff(spec *v1alpha1.ExtensionGroupSpec, g *pbx.ExtensionGroup) []string {
	_, diff := groupDiff(spec, g)
	return diff
}

// GroupClaim is the natural key two ExtensionGroups of an account must not share while neither
// records a PBX id: the group's name.
func GroupClaim(g *v1alpha1.ExtensionGroup) string { return "name=" + g.Spec.Name }

// groupDiff returns the partial update that makes a PBX group match the spec, and the names of
// the fields it changes (empty when the group is up to date).
func groupDiff(spec *v1alpha1.ExtensionGroupSpec, g *pbx.ExtensionGroup) (pbx.ExtensionGroupUpdate, []string) {
	var u pbx.ExtensionGroupUpdate
	var diff []string
	if spec.Name != g.Name {
		u.Name = pbx.Set(spec.Name)
		diff = append(diff, "name")
	}
	if v, changed := diffLoose(spec.ExtraParams, g.ExtraParams); changed {
		u.ExtraParams = v
		diff = append(diff, "extraParams")
	}
	return u, diff
}
