package controller

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// PBXEventType is the PBX's name of an event type: DialIn is dial-in (kubectl pbx maps back with
// it).
func PBXEventType(t v1alpha1.EventType) string {
	switch t {
	case v1alpha1.EventTypeDialIn:
		return pbx.EventDialIn
	case v1alpha1.EventTypeDialOut:
		return pbx.EventDialOut
	case v1alpha1.EventTypeAnswer:
		return pbx.EventAnswer
	case v1alpha1.EventTypeMessageIn:
		return pbx.EventMessageIn
	case v1alpha1.EventTypeMessageOut:
		return pbx.EventMessageOut
	case v1alpha1.EventTypeVoicemail:
		return pbx.EventVoicemail
	case v1alpha1.EventTypeHangup:
		return pbx.EventHangup
	default:
		// The API's enum admits no other; the PBX refuses what it does not know.
		return string(t)
	}
}

// eventURL is the URL the PBX is to call for a subscription: spec.url, or the in-cluster URL of
// spec.serviceRef, scheme://name.namespace.svc:port/path, whose namespace defaults to the
// subscription's and path to /. The Service is not read: the URL follows from the reference.
func eventURL(s *v1alpha1.EventSubscription) string {
	if s.Spec.URL != "" {
		return s.Spec.URL
	}
	ref := s.Spec.ServiceRef
	return fmt.Sprintf("%s://%s.%s.svc:%d%s", ref.Scheme, ref.Name, cmp.Or(ref.Namespace, s.Namespace), ref.Port, cmp.Or(ref.Path, "/"))
}

// shownURL is a webhook URL as status, conditions, events and logs show it: its query, which
// often carries a token, is replaced by REDACTED, so that a reader sees that there is one but
// not what it says (docs/eventsubscriptions.md).
func shownURL(u string) string {
	if base, _, ok := strings.Cut(u, "?"); ok {
		return base + "?REDACTED"
	}
	return u
}

// eventWant is the PBX form of a subscription's spec, with its URL resolved. Its URL, event type
// and method are the subscription's natural key within its extension.
func eventWant(s *v1alpha1.EventSubscription) pbx.EventCreate {
	return pbx.EventCreate{
		URL:       eventURL(s),
		EventType: PBXEventType(s.Spec.EventType),
		// The API defaults the method to POST; an object read before defaulting has none.
		Method: string(cmp.Or(s.Spec.Method, v1alpha1.EventMethodPOST)),
	}
}

// eventKey is the natural key of a subscription within its extension. The PBX allows several
// subscriptions with one key; the operator manages one per key and calls more a Conflict.
func eventKey(url, eventType, method string) string {
	return strings.ToUpper(method) + " " + eventType + " " + url
}

// eventSpecKey is the natural key of the subscription an EventSubscription asks for.
func eventSpecKey(s *v1alpha1.EventSubscription) string {
	want := eventWant(s)
	return eventKey(want.URL, want.EventType, want.Method)
}

// pbxEventKey is the natural key of a PBX subscription.
func pbxEventKey(x pbx.Event) string { return eventKey(x.URL, x.EventType, x.Method) }

// eventDiff returns the partial update that makes a PBX subscription match want, and the names of
// the fields it changes (empty when it is up to date). Every field is part of the natural key, and
// the PBX changes each in place.
func eventDiff(want pbx.EventCreate, x *pbx.Event) (pbx.EventUpdate, []string) {
	var u pbx.EventUpdate
	var diff []string
	if want.URL != x.URL {
		u.URL = pbx.Set(want.URL)
		diff = append(diff, "url")
	}
	if want.EventType != x.EventType {
		u.EventType = pbx.Set(want.EventType)
		diff = append(diff, "eventType")
	}
	if !strings.EqualFold(want.Method, x.Method) {
		u.Method = pbx.Set(want.Method)
		diff = append(diff, "method")
	}
	return u, diff
}

// EventURL is the URL the PBX is to call for a subscription, as the EventSubscription
// controller resolves it (spec.url, or the in-cluster URL of spec.serviceRef).
func EventURL(s *v1alpha1.EventSubscription) string { return eventURL(s) }

// EventSpecKey is the natural key of the subscription s asks for within its extension; EventKey
// is that of a PBX subscription. The controller finds subscriptions by it.
func EventSpecKey(s *v1alpha1.EventSubscription) string { return eventSpecKey(s) }

// EventKey is the natural key of a PBX subscription within its extension.
func EventKey(x pbx.Event) string { return pbxEventKey(x) }

// EventDiff names the fields of the PBX subscription x that differ from s, exactly as the
// EventSubscription controller decides it. kubectl pbx plan shows the same changes.
func EventDiff(s *v1alpha1.EventSubscription, x *pbx.Event) []string {
	_, diff := eventDiff(eventWant(s), x)
	return diff
}

// ShownURL is a webhook URL with its query (often a token) replaced by REDACTED, as status,
// events, logs and kubectl pbx show it.
func ShownURL(u string) string { return shownURL(u) }

// SubscriptionClaim is the natural key two EventSubscriptions of an account must not share while
// neither records a PBX id: the extension as the spec names it, and the URL, event type and
// method.
func SubscriptionClaim(s *v1alpha1.EventSubscription) string { return subscriptionClaim(s) }

// onlyHangup tells whether the PBX takes only Hangup subscriptions on extensions of type t: the
// docs advise only hangup on IVR and Queue extensions, and the PBX refuses other types there with
// an "ivr-type" error (UPSTREAM-API 3.5).
func onlyHangup(t v1alpha1.ExtensionType) bool {
	return t == v1alpha1.ExtensionTypeIVR || t == v1alpha1.ExtensionTypeQueue
}
