package controller

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

func TestPBXEventType(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     v1alpha1.EventType
		want   string
	}{
		"DialIn":     {reason: "PascalCase maps to the PBX's dashed lower case.", in: v1alpha1.EventTypeDialIn, want: "dial-in"},
		"DialOut":    {reason: "PascalCase maps to the PBX's dashed lower case.", in: v1alpha1.EventTypeDialOut, want: "dial-out"},
		"Answer":     {reason: "One word is lower-cased.", in: v1alpha1.EventTypeAnswer, want: "answer"},
		"Hangup":     {reason: "One word is lower-cased.", in: v1alpha1.EventTypeHangup, want: "hangup"},
		"MessageIn":  {reason: "PascalCase maps to the PBX's dashed lower case.", in: v1alpha1.EventTypeMessageIn, want: "message-in"},
		"MessageOut": {reason: "PascalCase maps to the PBX's dashed lower case.", in: v1alpha1.EventTypeMessageOut, want: "message-out"},
		"Voicemail":  {reason: "One word is lower-cased.", in: v1alpha1.EventTypeVoicemail, want: "voicemail"},
		"Unknown":    {reason: "A value the API does not admit goes to the PBX as written, which refuses it.", in: "Ring", want: "Ring"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := PBXEventType(tc.in); got != tc.want {
				t.Errorf("%s\npbxEventType(%q): want %q, got %q", tc.reason, tc.in, tc.want, got)
			}
		})
	}
}

func TestEventWant(t *testing.T) {
	sub := func(spec v1alpha1.EventSubscriptionSpec) *v1alpha1.EventSubscription {
		return &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "calls", Name: "sub"}, Spec: spec}
	}
	cases := map[string]struct {
		reason string
		in     *v1alpha1.EventSubscription
		want   pbx.EventCreate
	}{
		"URL": {
			reason: "spec.url goes to the PBX as written.",
			in: sub(v1alpha1.EventSubscriptionSpec{URL: "https://hooks.example/calls?x=1", EventType: v1alpha1.EventTypeAnswer,
				Method: v1alpha1.EventMethodGET}),
			want: pbx.EventCreate{URL: "https://hooks.example/calls?x=1", EventType: "answer", Method: "GET"},
		},
		"MethodUnset": {
			reason: "An object read before the API's defaulting is a POST.",
			in:     sub(v1alpha1.EventSubscriptionSpec{URL: "https://hooks.example/", EventType: v1alpha1.EventTypeHangup}),
			want:   pbx.EventCreate{URL: "https://hooks.example/", EventType: "hangup", Method: "POST"},
		},
		"ServiceInOwnNamespace": {
			reason: "A Service without a namespace is in the subscription's, and an unset path is /.",
			in: sub(v1alpha1.EventSubscriptionSpec{EventType: v1alpha1.EventTypeDialIn, Method: v1alpha1.EventMethodPOST,
				ServiceRef: v1alpha1.ServiceReference{Name: "hooks", Port: 8080, Scheme: v1alpha1.URLSchemeHTTP}}),
			want: pbx.EventCreate{URL: "http://hooks.calls.svc:8080/", EventType: "dial-in", Method: "POST"},
		},
		"ServiceElsewhere": {
			reason: "A Service's namespace and path are used as given.",
			in: sub(v1alpha1.EventSubscriptionSpec{EventType: v1alpha1.EventTypeVoicemail, Method: v1alpha1.EventMethodPOST,
				ServiceRef: v1alpha1.ServiceReference{Name: "crm", Namespace: "crm", Port: 443, Scheme: v1alpha1.URLSchemeHTTPS, Path: "/pbx/calls?src=pbx"}}),
			want: pbx.EventCreate{URL: "https://crm.crm.svc:443/pbx/calls?src=pbx", EventType: "voicemail", Method: "POST"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, eventWant(tc.in)); diff != "" {
				t.Errorf("%s\neventWant: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestShownURL(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   string
	}{
		"NoQuery": {
			reason: "A URL without a query is shown as it is.",
			in:     "https://hooks.example/calls",
			want:   "https://hooks.example/calls",
		},
		"Query": {
			reason: "A query often carries a token: it is shown only as being there.",
			in:     "https://hooks.example/calls?token=s3cret&x=1",
			want:   "https://hooks.example/calls?REDACTED",
		},
		"EmptyQuery": {
			reason: "A bare ? is shown as a query too, so that nothing of its shape is told.",
			in:     "https://hooks.example/calls?",
			want:   "https://hooks.example/calls?REDACTED",
		},
		"QueryWithoutPath": {
			reason: "A query right after the host is hidden too.",
			in:     "http://hooks.crm.svc:8080?token=s3cret",
			want:   "http://hooks.crm.svc:8080?REDACTED",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := shownURL(tc.in); got != tc.want {
				t.Errorf("%s\nshownURL(%q): want %q, got %q", tc.reason, tc.in, tc.want, got)
			}
		})
	}
}

func TestEventDiff(t *testing.T) {
	want := pbx.EventCreate{URL: "https://hooks.example/calls", EventType: "hangup", Method: "POST"}
	cases := map[string]struct {
		reason string
		pbx    pbx.Event
		body   string // the PUT body
		diff   []string
	}{
		"UpToDate": {
			reason: "A matching subscription sends nothing.",
			pbx:    pbx.Event{ID: 9, URL: "https://hooks.example/calls", EventType: "hangup", Method: "POST"},
			body:   `{}`,
		},
		"MethodCase": {
			reason: "HTTP methods compare without case.",
			pbx:    pbx.Event{ID: 9, URL: "https://hooks.example/calls", EventType: "hangup", Method: "post"},
			body:   `{}`,
		},
		"URLChanged": {
			reason: "A new URL is sent alone.",
			pbx:    pbx.Event{ID: 9, URL: "https://old.example/calls", EventType: "hangup", Method: "POST"},
			body:   `{"url":"https://hooks.example/calls"}`,
			diff:   []string{"url"},
		},
		"Everything": {
			reason: "Each differing field is sent, under the PBX's names.",
			pbx:    pbx.Event{ID: 9, URL: "https://old.example/", EventType: "answer", Method: "GET"},
			body:   `{"event_type":"hangup","method":"POST","url":"https://hooks.example/calls"}`,
			diff:   []string{"url", "eventType", "method"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u, diff := eventDiff(want, &tc.pbx)
			b, err := json.Marshal(u)
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(v)
			if d := cmp.Diff(tc.body, string(body)); d != "" {
				t.Errorf("%s\nbody: -want +got:\n%s", tc.reason, d)
			}
			if d := cmp.Diff(tc.diff, diff); d != "" {
				t.Errorf("%s\ndiff: -want +got:\n%s", tc.reason, d)
			}
		})
	}
}

func TestSubscriptionClaim(t *testing.T) {
	base := v1alpha1.EventSubscription{
		ObjectMeta: metav1.ObjectMeta{Namespace: "calls", Name: "a"},
		Spec: v1alpha1.EventSubscriptionSpec{ExtensionRef: v1alpha1.ExtensionReference{Name: "alice"}, EventType: v1alpha1.EventTypeHangup,
			Method: v1alpha1.EventMethodPOST, URL: "http://hooks.calls.svc:80/"},
	}
	byService := base
	byService.Name = "b"
	byService.Spec.URL = ""
	byService.Spec.ServiceRef = v1alpha1.ServiceReference{Name: "hooks", Port: 80, Scheme: v1alpha1.URLSchemeHTTP}
	byID := base
	byID.Spec.ExtensionRef = v1alpha1.ExtensionReference{}
	byID.Spec.ExtensionID = 303001
	getter := base
	getter.Spec.Method = v1alpha1.EventMethodGET

	if subscriptionClaim(&base) != subscriptionClaim(&byService) {
		t.Errorf("a url and a serviceRef that resolve to the same URL claim the same subscription: %q, %q",
			subscriptionClaim(&base), subscriptionClaim(&byService))
	}
	for name, other := range map[string]*v1alpha1.EventSubscription{"ExtensionID": &byID, "Method": &getter} {
		if subscriptionClaim(&base) == subscriptionClaim(other) {
			t.Errorf("%s: another extension or method is another subscription: both claim %q", name, subscriptionClaim(other))
		}
	}
}

func TestOnlyHangup(t *testing.T) {
	for typ, want := range map[v1alpha1.ExtensionType]bool{
		v1alpha1.ExtensionTypePhone: false, v1alpha1.ExtensionTypeFax: false,
		v1alpha1.ExtensionTypeIVR: true, v1alpha1.ExtensionTypeQueue: true,
	} {
		if got := onlyHangup(typ); got != want {
			t.Errorf("onlyHangup(%s): want %t, got %t (the PBX takes only hangup on IVR and Queue extensions)", typ, want, got)
		}
	}
}

// TestEventFieldLedger makes sure every field of the PBX's event subscription is managed from the
// spec or used for identity: a new field in the client makes this test fail until someone decides.
func TestEventFieldLedger(t *testing.T) {
	ledger := map[string]string{
		"ID": "identity (status.id)", "URL": "spec.url / spec.serviceRef, status.url",
		"EventType": "spec.eventType", "Method": "spec.method",
	}
	typ := reflect.TypeFor[pbx.Event]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() && ledger[f.Name] == "" {
			t.Errorf("Event.%s is not in the field ledger: map it to the spec or status, or list it as ignored", f.Name)
		}
	}
}
