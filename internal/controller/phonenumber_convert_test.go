package controller

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

func TestPhoneNumberDiff(t *testing.T) {
	comment := "Main line"
	base := pbx.DID{ID: 470001, Name: "74950000001", ClientID: 1, ExtensionID: ptr[int64](303001), Comment: &comment}
	spec := v1alpha1.PhoneNumberSpec{Number: "74950000001", ExtensionRef: v1alpha1.PhoneNumberExtensionReference{Name: "alice"}}
	alice := didRoute{extension: ptr[int64](303001)}
	type args struct {
		spec  func(*v1alpha1.PhoneNumberSpec)
		pbx   func(*pbx.DID)
		route didRoute
	}
	type want struct {
		body string // the PUT body
		diff []string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"UpToDate": {
			reason: "A DID routed as the spec says sends nothing.",
			args:   args{route: alice},
			want:   want{body: `{}`},
		},
		"Rerouted": {
			reason: "Another extension is sent as its id.",
			args:   args{route: didRoute{extension: ptr[int64](303002)}},
			want:   want{body: `{"extension_id":303002}`, diff: []string{"extension"}},
		},
		"Unassigned": {
			reason: "No extension in the spec unassigns the number with null.",
			want:   want{body: `{"extension_id":null}`, diff: []string{"extension"}},
		},
		"AssignedFromNothing": {
			reason: "An unassigned DID gets the spec's extension.",
			args:   args{pbx: func(d *pbx.DID) { d.ExtensionID = nil }, route: alice},
			want:   want{body: `{"extension_id":303001}`, diff: []string{"extension"}},
		},
		"MessagesUnsetLeftAlone": {
			reason: "A spec without messages leaves the DID's message settings as they are.",
			args: args{pbx: func(d *pbx.DID) { d.AllowMessage, d.MessageExtensionID = true, ptr[int64](303009) },
				route: didRoute{extension: ptr[int64](303001), messageExtension: ptr[int64](303001)}},
			want: want{body: `{}`},
		},
		"MessagesEnabled": {
			reason: "Enabled allows messages and routes them to the message extension.",
			args: args{spec: func(s *v1alpha1.PhoneNumberSpec) { s.Messages = v1alpha1.PhoneNumberMessagesEnabled },
				route: didRoute{extension: ptr[int64](303001), messageExtension: ptr[int64](303002)}},
			want: want{body: `{"allow_message":true,"message_extension_id":303002}`, diff: []string{"messages", "messageExtension"}},
		},
		"MessagesEnabledWithoutExtension": {
			reason: "Enabled without a message extension clears the one the DID has.",
			args: args{spec: func(s *v1alpha1.PhoneNumberSpec) { s.Messages = v1alpha1.PhoneNumberMessagesEnabled },
				pbx: func(d *pbx.DID) { d.AllowMessage, d.MessageExtensionID = true, ptr[int64](303009) }, route: alice},
			want: want{body: `{"message_extension_id":null}`, diff: []string{"messageExtension"}},
		},
		"MessagesDisabled": {
			reason: "Disabled refuses messages and clears the message extension.",
			args: args{spec: func(s *v1alpha1.PhoneNumberSpec) { s.Messages = v1alpha1.PhoneNumberMessagesDisabled },
				pbx: func(d *pbx.DID) { d.AllowMessage, d.MessageExtensionID = true, ptr[int64](303009) }, route: alice},
			want: want{body: `{"allow_message":false,"message_extension_id":null}`, diff: []string{"messages", "messageExtension"}},
		},
		"MessagesDisabledUpToDate": {
			reason: "A DID that refuses messages and has no message extension matches Disabled.",
			args:   args{spec: func(s *v1alpha1.PhoneNumberSpec) { s.Messages = v1alpha1.PhoneNumberMessagesDisabled }, route: alice},
			want:   want{body: `{}`},
		},
		"CommentSet": {
			reason: "A comment in the spec replaces the PBX's.",
			args:   args{spec: func(s *v1alpha1.PhoneNumberSpec) { s.Comment = "Alice's line" }, route: alice},
			want:   want{body: `{"comment":"Alice's line"}`, diff: []string{"comment"}},
		},
		"CommentUnsetLeftAlone": {
			reason: "A spec without a comment never clears the provider's.",
			args:   args{route: alice},
			want:   want{body: `{}`},
		},
		"CommentFromNull": {
			reason: "A DID without a comment gets the spec's.",
			args: args{spec: func(s *v1alpha1.PhoneNumberSpec) { s.Comment = "Alice's line" },
				pbx: func(d *pbx.DID) { d.Comment = nil }, route: alice},
			want: want{body: `{"comment":"Alice's line"}`, diff: []string{"comment"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, d := spec, base
			if tc.args.spec != nil {
				tc.args.spec(&s)
			}
			if tc.args.pbx != nil {
				tc.args.pbx(&d)
			}
			u, diff := phoneNumberDiff(&s, tc.args.route, &d)
			checkDIDUpdate(t, tc.reason, u, diff, tc.want.body, tc.want.diff)
		})
	}
}

func TestPhoneNumberUnassign(t *testing.T) {
	comment := "Alice's line"
	routed := pbx.DID{ID: 470001, Name: "74950000001", ExtensionID: ptr[int64](303001), AllowMessage: true,
		MessageExtensionID: ptr[int64](303002), Comment: &comment}
	cases := map[string]struct {
		reason string
		spec   v1alpha1.PhoneNumberSpec
		pbx    pbx.DID
		body   string
		diff   []string
	}{
		"CallsOnly": {
			reason: "A spec that never set messages unassigns the calls and leaves the message settings and the comment.",
			spec:   v1alpha1.PhoneNumberSpec{Number: "74950000001", ExtensionID: 303001, Comment: comment},
			pbx:    routed,
			body:   `{"extension_id":null}`,
			diff:   []string{"extension"},
		},
		"WithMessages": {
			reason: "A spec that set messages also refuses them and clears their extension; the comment stays.",
			spec: v1alpha1.PhoneNumberSpec{Number: "74950000001", ExtensionID: 303001, Messages: v1alpha1.PhoneNumberMessagesEnabled,
				MessageExtensionID: 303002, Comment: comment},
			pbx:  routed,
			body: `{"allow_message":false,"extension_id":null,"message_extension_id":null}`,
			diff: []string{"extension", "messages", "messageExtension"},
		},
		"AlreadyUnassigned": {
			reason: "A DID that is unassigned already needs no call.",
			spec:   v1alpha1.PhoneNumberSpec{Number: "74950000001", Messages: v1alpha1.PhoneNumberMessagesDisabled},
			pbx:    pbx.DID{ID: 470001, Name: "74950000001", Comment: &comment},
			body:   `{}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u, diff := phoneNumberUnassign(&tc.spec, &tc.pbx)
			checkDIDUpdate(t, tc.reason, u, diff, tc.body, tc.diff)
		})
	}
}

// checkDIDUpdate compares a DID update's PUT body (with sorted keys) and the names of its fields
// with the wanted ones.
func checkDIDUpdate(t *testing.T, reason string, u pbx.DIDUpdate, diff []string, wantBody string, wantDiff []string) {
	t.Helper()
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(v)
	if d := cmp.Diff(wantBody, string(body)); d != "" {
		t.Errorf("%s\nbody: -want +got:\n%s", reason, d)
	}
	if d := cmp.Diff(wantDiff, diff); d != "" {
		t.Errorf("%s\ndiff: -want +got:\n%s", reason, d)
	}
}

// TestDIDFieldLedger makes sure every field of the PBX's DID is either managed from the spec,
// shown in status, used for identity, or deliberately left alone: a new field in the client makes
// this test fail until someone decides.
func TestDIDFieldLedger(t *testing.T) {
	ledger := map[string]string{
		"ID": "identity (status.id)", "Name": "identity (spec.number)", "Domain": "ignored: null in every example",
		"ClientID": "ignored: the account's client", "ExtensionID": "spec.extensionRef / spec.extensionID, status.extensionID",
		"AllowMessage": "spec.messages, status.messages", "MessageExtensionID": "spec.messageExtensionRef / spec.messageExtensionID, status.messageExtensionID",
		"Comment": "spec.comment", "CreateDate": "ignored: read-only",
	}
	typ := reflect.TypeFor[pbx.DID]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() && ledger[f.Name] == "" {
			t.Errorf("DID.%s is not in the field ledger: map it to the spec or status, or list it as ignored", f.Name)
		}
	}
}

func TestPhoneNumberInUse(t *testing.T) {
	alice, bob, carol := int64(303001), int64(303002), int64(303003)
	cases := map[string]struct {
		reason   string
		spec     v1alpha1.PhoneNumberSpec
		last     didRoute
		did      pbx.DID
		wantUsed bool
	}{
		"Free":         {reason: "A number that rings nowhere is free.", did: pbx.DID{}},
		"AsTheSpecSay": {reason: "A number routed as the spec asks is not in use.", did: pbx.DID{ExtensionID: &alice}},
		"Elsewhere": {reason: "A number ringing at an extension the spec does not name is in use.",
			did: pbx.DID{ExtensionID: &bob}, wantUsed: true},
		"WhereItRangForThisResource": {reason: "A number ringing where the resource last saw it (its Extension made again since) is its own.",
			last: didRoute{extension: &carol}, did: pbx.DID{ExtensionID: &carol}},
		"MessagesElsewhere": {reason: "With messages in the spec, text messages to another extension are a use.",
			spec: v1alpha1.PhoneNumberSpec{Messages: v1alpha1.PhoneNumberMessagesEnabled}, did: pbx.DID{ExtensionID: &alice, MessageExtensionID: &bob}, wantUsed: true},
		"MessagesNotManaged": {reason: "Without messages in the spec, where text messages go is not the resource's business.",
			did: pbx.DID{ExtensionID: &alice, MessageExtensionID: &bob}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := phoneNumberInUse(&tc.spec, didRoute{extension: &alice, messageExtension: &alice}, tc.last, &tc.did); got != tc.wantUsed {
				t.Errorf("%s\nin use: got %v, want %v", tc.reason, got, tc.wantUsed)
			}
		})
	}
}
