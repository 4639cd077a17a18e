package controller

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// PBXType is the PBX's name of a spec's extension type (Phone is "phone"); the kubectl plugin maps
// back with it.
func PBXType(t v1alpha1.ExtensionType) string { return strings.ToLower(string(t)) }

// pbxStatus is the PBX's status of an extension state. The PBX makes new extensions blocked, so
// the operator always sends the state; the API defaults it to Active.
func pbxStatus(s v1alpha1.ExtensionState) string {
	if s == v1alpha1.ExtensionStateBlocked {
		return "blocked"
	}
	return "active"
}

// extensionCreate is the PBX create body of an Extension's spec; groupID is the resolved group.
func extensionCreate(spec *v1alpha1.ExtensionSpec, groupID *int64) pbx.ExtensionCreate {
	return pbx.ExtensionCreate{
		Name:             spec.Name,
		Type:             PBXType(spec.Type),
		Status:           pbxStatus(spec.State),
		Label:            optString(spec.Label),
		CallerIDName:     optString(spec.CallerIDName),
		ExtraParams:      optString(spec.ExtraParams),
		ExtensionGroupID: optID(groupID),
		DialRuleID:       optID(idOrNil(spec.DialRuleID)),
	}
}

// extensionDiff returns the partial update that makes a PBX extension match the spec, and the
// names of the fields it changes. name and type never change in the PBX; the adapter checks them.
func extensionDiff(spec *v1alpha1.ExtensionSpec, groupID *int64, x *pbx.Extension) (pbx.ExtensionUpdate, []string) {
	var u pbx.ExtensionUpdate
	var diff []string
	if want := pbxStatus(spec.State); x.Status != want {
		u.Status = pbx.Set(want)
		diff = append(diff, "state")
	}
	for _, f := range []struct {
		name string
		want string
		have *string
		dst  *pbx.Opt[string]
	}{
		{"label", spec.Label, x.Label, &u.Label},
		{"callerIDName", spec.CallerIDName, x.CallerIDName, &u.CallerIDName},
	} {
		if v, changed := diffString(f.want, f.have); changed {
			*f.dst = v
			diff = append(diff, f.name)
		}
	}
	if v, changed := diffLoose(spec.ExtraParams, x.ExtraParams); changed {
		u.ExtraParams = v
		diff = append(diff, "extraParams")
	}
	if v, changed := diffID(groupID, x.ExtensionGroupID); changed {
		u.ExtensionGroupID = v
		diff = append(diff, "group")
	}
	if v, changed := diffID(idOrNil(spec.DialRuleID), x.DialRuleID); changed {
		u.DialRuleID = v
		diff = append(diff, "dialRuleID")
	}
	return u, diff
}

// ExtensionDiff names the fields of the PBX extension x that differ from spec, exactly as the
// Extension controller decides it (state, label, callerIDName, extraParams, group, dialRuleID);
// groupID is the spec's resolved group, nil for none. kubectl pbx plan shows the same changes.
func ExtensionDiff(spec *v1alpha1.ExtensionSpec, groupID *int64, x *pbx.Extension) []string {
	_, diff := extensionDiff(spec, groupID, x)
	return diff
}

// ExtensionClaim is the natural key two Extensions of an account must not share while neither
// records a PBX id: the extension's number.
func ExtensionClaim(e *v1alpha1.Extension) string { return "number=" + e.Spec.Name }

// idOrNil turns an optional id of the spec (0 for unset) into a pointer.
func idOrNil(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// phoneDiff returns the partial update that makes a phone's PBX settings match the spec, and the
// names of the settings it changes; a setting the spec leaves unset is left alone. have is nil
// when the settings were not read (a phone created in this pass): every set one is sent.
func phoneDiff(want *v1alpha1.PhoneSettings, have *pbx.Phone) (pbx.PhoneUpdate, []string) {
	var u pbx.PhoneUpdate
	var diff []string
	h := have
	if h == nil {
		h = &pbx.Phone{}
	}
	if want.AuthType != "" && (have == nil || h.AuthType != strings.ToLower(string(want.AuthType))) {
		u.AuthType = pbx.Set(strings.ToLower(string(want.AuthType)))
		diff = append(diff, "phone.authType")
	}
	record, transfers := want.Recording != v1alpha1.RecordingOff, want.Recording == v1alpha1.RecordingCallsAndTransfers
	for _, f := range []struct {
		name   string
		set    bool
		want   bool
		have   bool
		dst    *pbx.Opt[bool]
		unread bool
	}{
		{"phone.webRTC", want.WebRTC != "", want.WebRTC == v1alpha1.ToggleEnabled, h.AllowWebRTC, &u.AllowWebRTC, have == nil},
		{"phone.recording", want.Recording != "", record, h.RecordEnabled, &u.RecordEnabled, have == nil},
		{"phone.recording", want.Recording != "", transfers, h.RecordTransfer, &u.RecordTransfer, have == nil},
		{"phone.callScreening", want.CallScreening != "", want.CallScreening == v1alpha1.ToggleEnabled, h.CallScreeningEnabled, &u.CallScreeningEnabled, have == nil},
		{"phone.conferenceCallerNames", want.ConferenceCallerNames != "", want.ConferenceCallerNames == v1alpha1.ToggleEnabled,
			h.ConferenceAnnounceCallerName, &u.ConferenceAnnounceCallerName, have == nil},
		{"phone.conferenceEndOnExit", want.ConferenceEndOnExit != "", want.ConferenceEndOnExit == v1alpha1.ToggleEnabled,
			h.ConferenceEndOnExit, &u.ConferenceEndOnExit, have == nil},
	} {
		if f.set && (f.unread || f.want != f.have) {
			*f.dst = pbx.Set(f.want)
			if len(diff) == 0 || diff[len(diff)-1] != f.name {
				diff = append(diff, f.name)
			}
		}
	}
	if s := want.CallerNameSuffixOnTransfer; s != "" && (have == nil || h.AppendToCIDNameOnTransfer == nil || *h.AppendToCIDNameOnTransfer != s) {
		u.AppendToCIDNameOnTransfer = pbx.Set(s)
		diff = append(diff, "phone.callerNameSuffixOnTransfer")
	}
	if len(want.GeoList) > 0 && (have == nil || !sameCountries(want.GeoList, h.GeoList)) {
		u.GeoList = pbx.Set(strings.Join(want.GeoList, " "))
		diff = append(diff, "phone.geoList")
	}
	return u, diff
}

// hasPhoneSettings reports whether the spec sets any phone setting.
func hasPhoneSettings(p *v1alpha1.PhoneSettings) bool {
	return !equality.Semantic.DeepEqual(*p, v1alpha1.PhoneSettings{})
}

// sameCountries reports whether the PBX's space-separated country list holds the same countries
// as want, in any order.
func sameCountries(want []string, have *string) bool {
	if have == nil {
		return false
	}
	h := strings.Fields(*have)
	if len(h) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, c := range h {
		seen[c] = true
	}
	for _, c := range want {
		if !seen[c] {
			return false
		}
	}
	return true
}
