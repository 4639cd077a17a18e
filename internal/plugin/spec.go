package plugin

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// The mapping below is the reverse of internal/controller's extension_convert.go and
// extensiongroup_convert.go: from a PBX object to the spec that matches it. Whether a field
// differs is the controllers' own decision (controller.ExtensionDiff and GroupDiff); the round-trip
// test fails when the reverse mapping drifts from it.

// specType is the spec's type of a PBX extension type ("phone" is Phone).
func specType(t string) (v1alpha1.ExtensionType, error) {
	for _, s := range []v1alpha1.ExtensionType{v1alpha1.ExtensionTypePhone, v1alpha1.ExtensionTypeQueue, v1alpha1.ExtensionTypeIVR, v1alpha1.ExtensionTypeFax} {
		if controller.PBXType(s) == t {
			return s, nil
		}
	}
	return "", fmt.Errorf("unknown extension type %q", t)
}

// specState is the spec's state of a PBX status: anything but blocked is Active, as the operator
// sends "active" for every state but Blocked.
func specState(status string) v1alpha1.ExtensionState {
	if status == pbx.StatusBlocked {
		return v1alpha1.ExtensionStateBlocked
	}
	return v1alpha1.ExtensionStateActive
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func loose(s *pbx.LooseString) string { return string(deref(s)) }

// extensionSpec is the spec that matches a PBX extension, with the group given as groupRef when
// the group has an exported name and as groupID otherwise.
func extensionSpec(x *pbx.Extension, groupName map[int64]string) (v1alpha1.ExtensionSpec, error) {
	t, err := specType(x.Type)
	if err != nil {
		return v1alpha1.ExtensionSpec{}, err
	}
	spec := v1alpha1.ExtensionSpec{
		Name:         pbx.ShortName(x.Name),
		Type:         t,
		State:        specState(x.Status),
		Label:        deref(x.Label),
		CallerIDName: deref(x.CallerIDName),
		ExtraParams:  loose(x.ExtraParams),
		DialRuleID:   deref(x.DialRuleID),
	}
	if id := deref(x.ExtensionGroupID); id != 0 {
		if name, ok := groupName[id]; ok {
			spec.GroupRef = &v1alpha1.GroupReference{Name: name}
		} else {
			spec.GroupID = id
		}
	}
	return spec, nil
}

// groupSpec is the spec that matches a PBX group.
func groupSpec(g *pbx.ExtensionGroup) v1alpha1.ExtensionGroupSpec {
	return v1alpha1.ExtensionGroupSpec{Name: g.Name, ExtraParams: loose(g.ExtraParams)}
}

// FieldChange is one field that applying a spec would change in the PBX.
type FieldChange struct {
	// Field is the spec field's JSON name (group for groupRef and groupID).
	Field string `json:"field"`
	// From is the PBX's value, empty when unset.
	From string `json:"from"`
	// To is the spec's value, empty when unset.
	To string `json:"to"`
}

func idText(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// extensionChanges lists what an update would change to make the PBX extension x match spec,
// whose group resolves to groupID (0 for none; -1 for a group that does not exist yet).
func extensionChanges(spec *v1alpha1.ExtensionSpec, groupID int64, x *pbx.Extension) []FieldChange {
	state := spec.State
	if state == "" {
		state = v1alpha1.ExtensionStateActive
	}
	have := deref(x.ExtensionGroupID)
	wantGroup := idText(groupID)
	if groupID < 0 {
		wantGroup = "(new group " + spec.GroupRef.Name + ")"
	}
	// Which fields change is the controller's decision; this only shows their values.
	var resolved *int64
	if groupID > 0 {
		resolved = &groupID
	}
	changed := controller.ExtensionDiff(spec, resolved, x)
	if groupID < 0 {
		changed = append(changed, "group")
	}
	var out []FieldChange
	for _, f := range []FieldChange{
		{"state", string(specState(x.Status)), string(state)},
		{"label", deref(x.Label), spec.Label},
		{"callerIDName", deref(x.CallerIDName), spec.CallerIDName},
		{"extraParams", loose(x.ExtraParams), spec.ExtraParams},
		{"group", idText(have), wantGroup},
		{"dialRuleID", idText(deref(x.DialRuleID)), idText(spec.DialRuleID)},
	} {
		if slices.Contains(changed, f.Field) {
			out = append(out, f)
		}
	}
	return out
}

// ParseType parses an extension type as the spec spells it (Phone, Queue, IVR, Fax), in any case.
func ParseType(s string) (v1alpha1.ExtensionType, error) {
	t, err := specType(strings.ToLower(s))
	if err != nil {
		return "", fmt.Errorf("--type %q: want Phone, Queue, IVR or Fax", s)
	}
	return t, nil
}

// groupChanges lists what an update would change to make the PBX group g match spec.
func groupChanges(spec *v1alpha1.ExtensionGroupSpec, g *pbx.ExtensionGroup) []FieldChange {
	changed := controller.GroupDiff(spec, g)
	var out []FieldChange
	for _, f := range []FieldChange{
		{"name", g.Name, spec.Name},
		{"extraParams", loose(g.ExtraParams), spec.ExtraParams},
	} {
		if slices.Contains(changed, f.Field) {
			out = append(out, f)
		}
	}
	return out
}

// extensionText shows a resolved extension reference: its id, the Extension a plan creates (-1),
// or none.
func extensionText(id *int64, ref string) string {
	switch {
	case id == nil:
		return ""
	case *id < 0:
		return "(new extension " + ref + ")"
	}
	return idText(*id)
}

// phoneNumberChanges lists what an update would change to make the DID d match spec, whose
// extensions resolve to extension and messageExtension (nil for none, -1 for one the plan
// creates).
func phoneNumberChanges(spec *v1alpha1.PhoneNumberSpec, extension, messageExtension *int64, d *pbx.DID) []FieldChange {
	changed := controller.PhoneNumberDiff(spec, extension, messageExtension, d)
	msgTo := ""
	if spec.Messages == v1alpha1.PhoneNumberMessagesEnabled {
		msgTo = extensionText(messageExtension, spec.MessageExtensionRef.Name)
	}
	var out []FieldChange
	for _, f := range []FieldChange{
		{"extension", idText(deref(d.ExtensionID)), extensionText(extension, spec.ExtensionRef.Name)},
		{"messages", string(controller.PhoneNumberMessages(d.AllowMessage)), string(spec.Messages)},
		{"messageExtension", idText(deref(d.MessageExtensionID)), msgTo},
		{"comment", deref(d.Comment), spec.Comment},
	} {
		if slices.Contains(changed, f.Field) {
			out = append(out, f)
		}
	}
	return out
}

// subscriptionChanges lists what an update would change to make the PBX subscription x match s;
// URLs are shown with their query (often a token) hidden.
func subscriptionChanges(s *v1alpha1.EventSubscription, x *pbx.Event) []FieldChange {
	changed := controller.EventDiff(s, x)
	var out []FieldChange
	for _, f := range []FieldChange{
		{"url", controller.ShownURL(x.URL), controller.ShownURL(controller.EventURL(s))},
		{"eventType", string(specEventType(x.EventType)), string(s.Spec.EventType)},
		{"method", x.Method, string(cmp.Or(s.Spec.Method, v1alpha1.EventMethodPOST))},
	} {
		if slices.Contains(changed, f.Field) {
			out = append(out, f)
		}
	}
	return out
}

// specEventType is the spec's event type of a PBX event type (dial-in is DialIn); an unknown one
// is kept as the PBX writes it.
func specEventType(t string) v1alpha1.EventType {
	for _, s := range []v1alpha1.EventType{v1alpha1.EventTypeDialIn, v1alpha1.EventTypeDialOut, v1alpha1.EventTypeAnswer,
		v1alpha1.EventTypeHangup, v1alpha1.EventTypeMessageIn, v1alpha1.EventTypeMessageOut, v1alpha1.EventTypeVoicemail} {
		if controller.PBXEventType(s) == t {
			return s
		}
	}
	return v1alpha1.EventType(t)
}
