package controller

import (
	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// didRoute is where a PhoneNumber's spec sends its number, with the references resolved to PBX
// extension ids; nil is no extension.
type didRoute struct {
	extension        *int64
	messageExtension *int64
}

// PhoneNumberMessages is the PBX's allow_message as a PhoneNumber writes it.
func PhoneNumberMessages(allow bool) v1alpha1.PhoneNumberMessages {
	if allow {
		return v1alpha1.PhoneNumberMessagesEnabled
	}
	return v1alpha1.PhoneNumberMessagesDisabled
}

// phoneNumberDiff returns the partial update that makes a PBX DID match the spec, routed as r,
// and the names of the fields it changes (empty when the DID is up to date). The number itself
// never changes; the adapter checks it. A spec without messages leaves allow_message and
// message_extension_id alone, and one without a comment leaves the comment alone.
func phoneNumberDiff(spec *v1alpha1.PhoneNumberSpec, r didRoute, d *pbx.DID) (pbx.DIDUpdate, []string) {
	var u pbx.DIDUpdate
	var diff []string
	if v, changed := diffID(r.extension, d.ExtensionID); changed {
		u.ExtensionID = v
		diff = append(diff, "extension")
	}
	if spec.Messages != "" {
		if want := spec.Messages == v1alpha1.PhoneNumberMessagesEnabled; d.AllowMessage != want {
			u.AllowMessage = pbx.Set(want)
			diff = append(diff, "messages")
		}
		// Disabled sends no message anywhere, so it also clears the message extension.
		var msgExt *int64
		if spec.Messages == v1alpha1.PhoneNumberMessagesEnabled {
			msgExt = r.messageExtension
		}
		if v, changed := diffID(msgExt, d.MessageExtensionID); changed {
			u.MessageExtensionID = v
			diff = append(diff, "messageExtension")
		}
	}
	if spec.Comment != "" {
		if v, changed := diffString(spec.Comment, d.Comment); changed {
			u.Comment = v
			diff = append(diff, "comment")
		}
	}
	return u, diff
}

// phoneNumberInUse tells whether a DID routes somewhere the spec, routed as r, does not: calls to
// another extension, or, when the spec sets messages, text messages to another extension. Somebody
// uses such a number; a free one, one routed as the spec asks, or one routed where the resource
// last saw it ring (last, from its status: its own routing, before its Extension was made again)
// is not in use.
func phoneNumberInUse(spec *v1alpha1.PhoneNumberSpec, r, last didRoute, d *pbx.DID) bool {
	is := func(id, got *int64) bool { return id != nil && *id == *got }
	elsewhere := func(want, before, got *int64) bool { return got != nil && !is(want, got) && !is(before, got) }
	return elsewhere(r.extension, last.extension, d.ExtensionID) ||
		(spec.Messages != "" && elsewhere(r.messageExtension, last.messageExtension, d.MessageExtensionID))
}

// PhoneNumberClaim is the natural key two PhoneNumbers of an account must not share while
// neither records a PBX id: the number's digits.
func PhoneNumberClaim(p *v1alpha1.PhoneNumber) string { return "number=" + p.Spec.Number }

// PhoneNumberDiff names the fields of the PBX DID d that differ from spec, whose extensions
// resolve to the PBX ids extension and messageExtension (nil for none), exactly as the PhoneNumber
// controller decides it. kubectl pbx plan shows the same changes.
func PhoneNumberDiff(spec *v1alpha1.PhoneNumberSpec, extension, messageExtension *int64, d *pbx.DID) []string {
	_, diff := phoneNumberDiff(spec, didRoute{extension: extension, messageExtension: messageExtension}, d)
	return diff
}

// PhoneNumberInUse tells whether somebody else uses the DID d, as the PhoneNumber controller
// decides it before it binds a number by its digits: it routes elsewhere than spec, resolved to
// extension and messageExtension, and than the resource last saw it (its status).
func PhoneNumberInUse(p *v1alpha1.PhoneNumber, extension, messageExtension *int64, d *pbx.DID) bool {
	last := didRoute{extension: idOrNil(p.Status.ExtensionID), messageExtension: idOrNil(p.Status.MessageExtensionID)}
	return phoneNumberInUse(&p.Spec, didRoute{extension: extension, messageExtension: messageExtension}, last, d)
}

// PhoneNumberUnassign names the fields that deleting the PhoneNumber changes in its DID d (its
// routing), as the PhoneNumber controller does it.
func PhoneNumberUnassign(spec *v1alpha1.PhoneNumberSpec, d *pbx.DID) []string {
	_, diff := phoneNumberUnassign(spec, d)
	return diff
}

// phoneNumberUnassign returns the partial update that unassigns a PBX DID when its PhoneNumber is
// deleted, and the names of the fields it changes: calls reach no extension (extension_id null)
// and, if the spec set messages, text messages are refused and go nowhere (allow_message false,
// message_extension_id null). The comment stays: it is a note, not routing, the PBX cannot give
// back the one it replaced, and whether a PUT may change it is not confirmed (UPSTREAM-API 3.4).
func phoneNumberUnassign(spec *v1alpha1.PhoneNumberSpec, d *pbx.DID) (pbx.DIDUpdate, []string) {
	blank := v1alpha1.PhoneNumberSpec{Number: spec.Number}
	if spec.Messages != "" {
		blank.Messages = v1alpha1.PhoneNumberMessagesDisabled
	}
	return phoneNumberDiff(&blank, didRoute{}, d)
}
