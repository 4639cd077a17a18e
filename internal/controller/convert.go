package controller

import (
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
