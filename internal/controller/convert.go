package controller

import (
	"strconv"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// The helpers below compare one optional spec field with its PBX value. In the spec an unset
// string or id means "clear it in the PBX" (null); the PBX's empty string and null are the same.

// optString is the create value of an optional string: unset stays unset (the PBX's default,
// null).
func optString(s string) pbx.Opt[string] {
	if s == "" {
		return pbx.Opt[string]{}
	}
	return pbx.Set(s)
}

// optID is the create value of an optional id.
func optID(id *int64) pbx.Opt[int64] {
	if id == nil {
		return pbx.Opt[int64]{}
	}
	return pbx.Set(*id)
}

// diffString returns the update of a string field, and whether it differs.
func diffString(want string, have *string) (pbx.Opt[string], bool) {
	h := ""
	if have != nil {
		h = *have
	}
	switch want {
	case h:
		return pbx.Opt[string]{}, false
	case "":
		return pbx.Null[string](), true
	default:
		return pbx.Set(want), true
	}
}

// diffLoose is diffString for the PBX's loosely typed strings.
func diffLoose(want string, have *pbx.LooseString) (pbx.Opt[string], bool) {
	if have == nil {
		return diffString(want, nil)
	}
	h := string(*have)
	return diffString(want, &h)
}

// diffID returns the update of an optional id field, and whether it differs.
func diffID(want, have *int64) (pbx.Opt[int64], bool) {
	switch {
	case want == nil && have == nil:
		return pbx.Opt[int64]{}, false
	case want == nil:
		return pbx.Null[int64](), true
	case have != nil && *want == *have:
		return pbx.Opt[int64]{}, false
	default:
		return pbx.Set(*want), true
	}
}

// knownID is the PBX id a resource already manages: status.id, or the external-id annotation
// (set by the operator, restored from a backup without status, or set by a user to import).
func knownID(obj interface {
	GetAnnotations() map[string]string
	GetManagedStatus() *v1alpha1.ManagedStatus
}) int64 {
	if id := obj.GetManagedStatus().ID; id != 0 {
		return id
	}
	id, err := strconv.ParseInt(obj.GetAnnotations()[v1alpha1.AnnotationExternalID], 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}
