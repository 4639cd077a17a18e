package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// phoneNumber is a minimal PhoneNumber, changed by mods.
func phoneNumber(mods ...func(*v1alpha1.PhoneNumber)) *v1alpha1.PhoneNumber {
	p := &v1alpha1.PhoneNumber{
		ObjectMeta: metav1.ObjectMeta{Name: "main-line"},
		Spec: v1alpha1.PhoneNumberSpec{
			ManagedSpec: v1alpha1.ManagedSpec{AccountRef: accountRef()},
			Number:      "74950000001",
		},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

// routedTo routes a PhoneNumber to an Extension by reference.
func routedTo(name string) func(*v1alpha1.PhoneNumber) {
	return func(p *v1alpha1.PhoneNumber) {
		p.Spec.ExtensionRef = v1alpha1.PhoneNumberExtensionReference{Name: name}
	}
}

func TestPhoneNumberValidation(t *testing.T) {
	needAPIServer(t)

	type args struct {
		// obj is created; if update is set, the create must succeed and the update is checked.
		obj    *v1alpha1.PhoneNumber
		update func(*v1alpha1.PhoneNumber)
	}
	type want struct {
		// err is a part of the API server's message; empty means the request is accepted.
		err string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"Unassigned": {
			reason: "A number with no extension is valid: it is bound and left unassigned.",
			args:   args{obj: phoneNumber()},
		},
		"Full": {
			reason: "Every optional field within its bounds is valid.",
			args: args{obj: phoneNumber(routedTo("alice"), func(p *v1alpha1.PhoneNumber) {
				p.Spec.Messages = v1alpha1.PhoneNumberMessagesEnabled
				p.Spec.MessageExtensionRef = v1alpha1.PhoneNumberExtensionReference{Name: "bob"}
				p.Spec.Comment = "Alice's line"
				p.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
				p.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly
			})},
		},
		"ByIDs": {
			reason: "Raw PBX ids route extensions not managed by an Extension.",
			args: args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) {
				p.Spec.ExtensionID = 303001
				p.Spec.Messages = v1alpha1.PhoneNumberMessagesEnabled
				p.Spec.MessageExtensionID = 303002
			})},
		},
		"NotANumber": {
			reason: "A number is digits only, as the PBX lists it.",
			args:   args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) { p.Spec.Number = "+7 495 000-00-01" })},
			want:   want{err: "number must be the external number in digits only, as the PBX lists it (for example 74950000001): no +, spaces or dashes"},
		},
		"NonE164Number": {
			reason: "Numbers with a leading zero, which are not E.164, are PBX numbers too.",
			args:   args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) { p.Spec.Number = "000104839" })},
		},
		"NumberMissing": {
			reason: "A PhoneNumber binds a number.",
			args:   args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) { p.Spec.Number = "" })},
			want:   want{err: "spec.number: Required value"},
		},
		"NumberTooLong": {
			reason: "Numbers are bounded.",
			args:   args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) { p.Spec.Number = strings.Repeat("7", 33) })},
			want:   want{err: "spec.number: Too long: may not be more than 32 bytes"},
		},
		"NumberChanged": {
			reason: "A PhoneNumber binds one number for its life.",
			args:   args{obj: phoneNumber(), update: func(p *v1alpha1.PhoneNumber) { p.Spec.Number = "74950000002" }},
			want:   want{err: "number is immutable: a PhoneNumber binds one number; create another PhoneNumber for another number"},
		},
		"Rerouted": {
			reason: "Routing the number elsewhere is an ordinary edit.",
			args: args{obj: phoneNumber(routedTo("alice")), update: func(p *v1alpha1.PhoneNumber) {
				p.Spec.ExtensionRef = v1alpha1.PhoneNumberExtensionReference{}
				p.Spec.ExtensionID = 303002
			}},
		},
		"ExtensionRefAndID": {
			reason: "Calls to a number reach one extension, named one way.",
			args:   args{obj: phoneNumber(routedTo("alice"), func(p *v1alpha1.PhoneNumber) { p.Spec.ExtensionID = 303001 })},
			want:   want{err: "extensionRef and extensionID are mutually exclusive: set one of them, or neither to leave the number unassigned"},
		},
		"ExtensionRefNameTooLong": {
			reason: "Extension names are bounded as Kubernetes names are.",
			args: args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) {
				p.Spec.ExtensionRef = v1alpha1.PhoneNumberExtensionReference{Name: strings.Repeat("a", 254)}
			})},
			want: want{err: "spec.extensionRef.name: Too long: may not be more than 253 bytes"},
		},
		"ExtensionIDNotPositive": {
			reason: "PBX ids are positive.",
			args:   args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) { p.Spec.ExtensionID = -1 })},
			want:   want{err: "spec.extensionID: Invalid value: -1: spec.extensionID in body should be greater than or equal to 1"},
		},
		"MessageExtensionRefAndID": {
			reason: "Text messages go to one extension, named one way.",
			args: args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) {
				p.Spec.Messages = v1alpha1.PhoneNumberMessagesEnabled
				p.Spec.MessageExtensionRef = v1alpha1.PhoneNumberExtensionReference{Name: "alice"}
				p.Spec.MessageExtensionID = 303001
			})},
			want: want{err: "messageExtensionRef and messageExtensionID are mutually exclusive: set one of them, or neither"},
		},
		"MessageExtensionWithoutMessages": {
			reason: "An extension for messages means nothing unless the number takes them.",
			args: args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) {
				p.Spec.MessageExtensionRef = v1alpha1.PhoneNumberExtensionReference{Name: "alice"}
			})},
			want: want{err: "messageExtensionRef and messageExtensionID need messages: Enabled"},
		},
		"MessageExtensionWithMessagesDisabled": {
			reason: "Disabled messages go to no extension.",
			args: args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) {
				p.Spec.Messages = v1alpha1.PhoneNumberMessagesDisabled
				p.Spec.MessageExtensionID = 303001
			})},
			want: want{err: "messageExtensionRef and messageExtensionID need messages: Enabled"},
		},
		"MessagesUnknown": {
			reason: "messages is Enabled or Disabled.",
			args:   args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) { p.Spec.Messages = "true" })},
			want:   want{err: `spec.messages: Unsupported value: "true": supported values: "Enabled", "Disabled"`},
		},
		"CommentTooLong": {
			reason: "Comments are bounded as in the PBX.",
			args:   args{obj: phoneNumber(func(p *v1alpha1.PhoneNumber) { p.Spec.Comment = strings.Repeat("x", 256) })},
			want:   want{err: "spec.comment: Too long: may not be more than 255 bytes"},
		},
		"AccountRefChanged": {
			reason: "Moving a number to another account would leave it routed in the first.",
			args: args{obj: phoneNumber(), update: func(p *v1alpha1.PhoneNumber) {
				p.Spec.AccountRef.Name = "other"
			}},
			want: want{err: "accountRef is immutable"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, tc.reason, admit(t, tc.reason, tc.args.obj, tc.args.update), tc.want.err)
		})
	}
}

// TestPhoneNumberDefaults: the shared policies default as for every managed kind, and nothing the
// PBX owns is defaulted.
func TestPhoneNumberDefaults(t *testing.T) {
	needAPIServer(t)
	p := phoneNumber()
	p.SetNamespace(namespace(t))
	if err := k.Create(context.Background(), p); err != nil {
		t.Fatalf("creating a minimal PhoneNumber: %v", err)
	}
	if p.Spec.DeletionPolicy != v1alpha1.DeletionPolicyDelete || p.Spec.ManagementPolicy != v1alpha1.ManagementPolicyManage {
		t.Errorf("policies: want Delete and Manage by default, got %q and %q", p.Spec.DeletionPolicy, p.Spec.ManagementPolicy)
	}
	if p.Spec.Messages != "" || p.Spec.Comment != "" {
		t.Errorf("messages and comment are left to the PBX unless set: got %q and %q", p.Spec.Messages, p.Spec.Comment)
	}
}

// TestPhoneNumberManagedBlocks: the engine reaches the shared spec and status through the object
// contract.
func TestPhoneNumberManagedBlocks(t *testing.T) {
	p := phoneNumber()
	var obj client.Object = p
	m, ok := obj.(interface {
		GetManagedSpec() *v1alpha1.ManagedSpec
		GetManagedStatus() *v1alpha1.ManagedStatus
	})
	if !ok {
		t.Fatal("PhoneNumber does not implement the managed object contract")
	}
	if m.GetManagedSpec() != &p.Spec.ManagedSpec || m.GetManagedStatus() != &p.Status.ManagedStatus {
		t.Error("GetManagedSpec and GetManagedStatus must return the object's own blocks")
	}
}
