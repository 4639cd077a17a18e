package controller_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// didPath is the template of a DID's path in the simulator's request counters and faults.
const didPath = "/api/ver1.0/client/{realm_id}/did/{id}"

// phoneNumber is a PhoneNumber of the world's account "pbx", changed by mods.
func phoneNumber(ns, name, number string, mods ...func(*v1alpha1.PhoneNumber)) *v1alpha1.PhoneNumber {
	p := &v1alpha1.PhoneNumber{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.PhoneNumberSpec{
			ManagedSpec: v1alpha1.ManagedSpec{AccountRef: v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "pbx"}},
			Number:      number,
		},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

// ringsAt routes a PhoneNumber to an Extension by reference.
func ringsAt(extension string) func(*v1alpha1.PhoneNumber) {
	return func(p *v1alpha1.PhoneNumber) {
		p.Spec.ExtensionRef = v1alpha1.PhoneNumberExtensionReference{Name: extension}
	}
}

// pbxDID returns the simulator's DID with a number, or nil.
func (w *world) pbxDID(number string) map[string]any {
	for _, d := range w.sim.Snapshot().DIDs {
		if d["name"] == number {
			return d
		}
	}
	return nil
}

// routedDIDs returns the numbers of the simulator's DIDs that ring at an extension, by PBX id.
func (w *world) routedDIDs() map[string]any {
	out := map[string]any{}
	for _, d := range w.sim.Snapshot().DIDs {
		if d["extension_id"] != nil {
			out[d["name"].(string)] = d["extension_id"]
		}
	}
	return out
}

// readyExtensions creates Extensions (name, number pairs) and waits until they are in sync.
func (w *world) readyExtensions(pairs ...string) []*v1alpha1.Extension {
	w.t.Helper()
	var out []*v1alpha1.Extension
	for i := 0; i < len(pairs); i += 2 {
		e := ext(w.ns, pairs[i], pairs[i+1])
		w.create(e)
		out = append(out, e)
	}
	for _, e := range out {
		w.waitSynced(e)
	}
	return out
}

// TestPhoneNumberLifecycle: a number waits for its Extension, is routed to it, rerouted, routed by
// raw id, unassigned by removing the extension, and unassigned when the resource is deleted.
func TestPhoneNumberLifecycle(t *testing.T) {
	w := newWorld(t, nil)
	p := phoneNumber(w.ns, "main", "74950000001", ringsAt("alice"), func(p *v1alpha1.PhoneNumber) {
		p.Spec.Messages = v1alpha1.PhoneNumberMessagesEnabled
		p.Spec.MessageExtensionRef = v1alpha1.PhoneNumberExtensionReference{Name: "alice"}
		p.Spec.Comment = "Alice's line"
	})
	w.create(p)
	w.g.Eventually(w.cond(p, v1alpha1.ConditionSynced)).Should(Equal("False/DependencyNotReady"))
	if m := message(p, v1alpha1.ConditionSynced); m != "The Extension alice (extensionRef) does not exist" {
		t.Errorf("waiting for the Extension: %q", m)
	}
	if d := w.pbxDID("74950000001"); d["extension_id"] != nil {
		t.Errorf("nothing is routed before the Extension is Ready: %v", d)
	}

	exts := w.readyExtensions("alice", "101", "bob", "102")
	alice, bob := exts[0], exts[1]
	// The Extension watch brings the number on as soon as alice is Ready, well before the
	// 15-second retry of DependencyNotReady.
	w.g.Eventually(w.cond(p, v1alpha1.ConditionSynced), 10*time.Second).Should(Equal("True/UpToDate"))
	w.waitSynced(p)
	d := w.pbxDID("74950000001")
	if d["extension_id"] != alice.Status.ID || d["allow_message"] != true || d["message_extension_id"] != alice.Status.ID || d["comment"] != "Alice's line" {
		t.Errorf("PBX DID after binding: %v (alice %d)", d, alice.Status.ID)
	}
	wantStatus := v1alpha1.PhoneNumberStatus{ExtensionID: alice.Status.ID, ExtensionFullName: "0003*101",
		Messages: v1alpha1.PhoneNumberMessagesEnabled, MessageExtensionID: alice.Status.ID}
	if got := p.Status; got.ID != d["id"] || p.Annotations[v1alpha1.AnnotationExternalID] != fmt.Sprint(d["id"]) ||
		got.ExtensionID != wantStatus.ExtensionID || got.ExtensionFullName != wantStatus.ExtensionFullName ||
		got.Messages != wantStatus.Messages || got.MessageExtensionID != wantStatus.MessageExtensionID {
		t.Errorf("status and annotations after binding: %+v %v", got, p.Annotations)
	}
	if p.Annotations[v1alpha1.AnnotationCreatePending] != "" {
		t.Errorf("binding a number is no create: %v", p.Annotations)
	}

	w.update(p, func() { p.Spec.ExtensionRef.Name = "bob" })
	w.waitSynced(p)
	if d = w.pbxDID("74950000001"); d["extension_id"] != bob.Status.ID || p.Status.ExtensionFullName != "0003*102" {
		t.Errorf("rerouted to bob (%d): %v, status %+v", bob.Status.ID, d, p.Status)
	}

	w.update(p, func() {
		p.Spec.ExtensionRef = v1alpha1.PhoneNumberExtensionReference{}
		p.Spec.ExtensionID = alice.Status.ID
	})
	w.waitSynced(p)
	if d = w.pbxDID("74950000001"); d["extension_id"] != alice.Status.ID || p.Status.ExtensionID != alice.Status.ID || p.Status.ExtensionFullName != "" {
		t.Errorf("routed by raw id to alice (%d): %v, status %+v", alice.Status.ID, d, p.Status)
	}

	w.update(p, func() { p.Spec.ExtensionID = 0 })
	w.waitSynced(p)
	if d = w.pbxDID("74950000001"); d["extension_id"] != nil || d["message_extension_id"] != alice.Status.ID || p.Status.ExtensionID != 0 {
		t.Errorf("no extension in the spec unassigns the calls only: %v, status %+v", d, p.Status)
	}

	w.update(p, func() { p.Spec.ExtensionRef.Name = "alice" })
	w.waitSynced(p)
	w.delete(p)
	w.gone(p)
	d = w.pbxDID("74950000001")
	if d == nil || d["extension_id"] != nil || d["allow_message"] != false || d["message_extension_id"] != nil || d["comment"] != "Alice's line" {
		t.Errorf("deleting the PhoneNumber unassigns the number and keeps it and its comment: %v", d)
	}
	if n := len(w.sim.Snapshot().DIDs); n != 5 {
		t.Errorf("the client keeps all its numbers: %d", n)
	}
}

// TestPhoneNumberOrphan: deletionPolicy Orphan leaves the number routed.
func TestPhoneNumberOrphan(t *testing.T) {
	w := newWorld(t, nil)
	alice := w.readyExtensions("alice", "101")[0]
	p := phoneNumber(w.ns, "sales", "74950000002", ringsAt("alice"), func(p *v1alpha1.PhoneNumber) {
		p.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
	})
	w.create(p)
	w.waitSynced(p)
	w.delete(p)
	w.gone(p)
	if d := w.pbxDID("74950000002"); d["extension_id"] != alice.Status.ID {
		t.Errorf("Orphan leaves the number ringing at alice (%d): %v", alice.Status.ID, d)
	}
}

// TestPhoneNumberNotInAccount: a number the provider has not given the client cannot be made; the
// resource says so and writes nothing.
func TestPhoneNumberNotInAccount(t *testing.T) {
	w := newWorld(t, nil)
	p := phoneNumber(w.ns, "missing", "74959999999")
	w.create(p)
	w.g.Eventually(w.cond(p, v1alpha1.ConditionReady)).Should(Equal("False/NotFound"))
	w.g.Eventually(w.cond(p, v1alpha1.ConditionSynced)).Should(Equal("False/NotFound"))
	want := fmt.Sprintf("The number 74959999999 is not in the PBX account of Account %s/pbx: numbers are allocated by the provider, "+
		"so the operator cannot create one; check the digits or ask the provider for the number", w.ns)
	if m := message(p, v1alpha1.ConditionSynced); m != want {
		t.Errorf("Synced message:\nwant %q\ngot  %q", want, m)
	}
	if m := message(p, v1alpha1.ConditionReady); m != want {
		t.Errorf("Ready message:\nwant %q\ngot  %q", want, m)
	}
	if n := w.writes(); n != 0 {
		t.Errorf("a missing number writes nothing to the PBX: %d writes", n)
	}
	w.delete(p)
	w.gone(p)
}

// TestPhoneNumberConflict: a second resource for one number gets Conflict, never writes, and its
// deletion leaves the first one's routing alone.
func TestPhoneNumberConflict(t *testing.T) {
	w := newWorld(t, nil)
	exts := w.readyExtensions("alice", "101", "bob", "102")
	alice := exts[0]
	first := phoneNumber(w.ns, "first", "74950000003", ringsAt("alice"))
	w.create(first)
	w.waitSynced(first)
	second := phoneNumber(w.ns, "second", "74950000003", ringsAt("bob"))
	w.create(second)
	w.g.Eventually(w.cond(second, v1alpha1.ConditionSynced)).Should(Equal("False/Conflict"))
	if r := w.cond(second, v1alpha1.ConditionReady)(); r != "False/Conflict" {
		t.Errorf("Ready of the second: %s", r)
	}
	if m, want := message(second, v1alpha1.ConditionSynced), w.ns+"/first already manages the PBX object with this natural key in this account"; m != want {
		t.Errorf("Conflict message:\nwant %q\ngot  %q", want, m)
	}
	// first reverts a write to the number at its next poll, so the PUTs are counted too.
	puts := w.sim.RequestTotal(http.MethodPut, didPath)
	w.waitPolls(2, "the account is checked twice more: the manager polled on after second found itself in Conflict")
	w.g.Expect(w.pbxDID("74950000003")["extension_id"]).To(Equal(alice.Status.ID), "the number still rings at alice")
	w.g.Expect(w.sim.RequestTotal(http.MethodPut, didPath)-puts).To(BeZero(), "the conflicting resource never wrote the number")
	if second.Status.ID != 0 {
		t.Errorf("the conflicting resource records no id: %d", second.Status.ID)
	}
	w.delete(second)
	w.gone(second)
	w.waitPolls(2, "the account is checked twice more: the manager polled on after second was deleted")
	w.g.Expect(w.pbxDID("74950000003")["extension_id"]).To(Equal(alice.Status.ID), "the number still rings at alice")
	w.g.Expect(w.sim.RequestTotal(http.MethodPut, didPath)-puts).To(BeZero(), "deleting the conflicting resource did not write the number")
	w.waitSynced(first)
}

// TestPhoneNumberWriteAnswersLost: PUTs that the PBX commits but answers with a 500, or whose
// answer is cut off, still end with the number routed as the spec says, and no other number
// routed anywhere.
func TestPhoneNumberWriteAnswersLost(t *testing.T) {
	w := newWorld(t, nil)
	exts := w.readyExtensions("alice", "101", "bob", "102")
	alice, bob := exts[0], exts[1]
	lose := func() {
		w.sim.AddFault(pbxsim.Fault{Method: http.MethodPut, Path: didPath, StatusAfterCommit: http.StatusInternalServerError, Times: 1})
		w.sim.AddFault(pbxsim.Fault{Method: http.MethodPut, Path: didPath, DropAfterCommit: true, Times: 1})
	}
	lose()
	p := phoneNumber(w.ns, "support", "74950000003", ringsAt("alice"))
	w.create(p)
	w.waitSynced(p)
	if got := w.routedDIDs(); len(got) != 1 || got["74950000003"] != alice.Status.ID {
		t.Errorf("want only 74950000003 ringing at alice (%d): %v", alice.Status.ID, got)
	}
	lose()
	w.update(p, func() { p.Spec.ExtensionRef.Name = "bob" })
	w.waitSynced(p)
	if got := w.routedDIDs(); len(got) != 1 || got["74950000003"] != bob.Status.ID {
		t.Errorf("want only 74950000003 ringing at bob (%d): %v", bob.Status.ID, got)
	}
	// A refresh of the account's DIDs may show a committed PUT before the next pass repeats it,
	// so not every fault need fire; each kind did at least once.
	fired := w.sim.FaultsFired()
	if fired[pbxsim.FiredStatusAfterCommit(http.StatusInternalServerError)] == 0 || fired[pbxsim.FiredDropAfterCommit] == 0 {
		t.Errorf("both kinds of lost answers happened: %v", fired)
	}
}

// TestPhoneNumberRecordedIDOfAnotherNumber: the id a resource records (restored from a backup of
// another PBX, or imported by mistake) is now another number's, one that another resource routes.
// The resource must not route that number; it binds its own by the digits.
func TestPhoneNumberRecordedIDOfAnotherNumber(t *testing.T) {
	w := newWorld(t, nil)
	exts := w.readyExtensions("alice", "101", "bob", "102")
	alice, bob := exts[0], exts[1]
	sales := phoneNumber(w.ns, "sales", "74950000002", ringsAt("bob"))
	w.create(sales)
	w.waitSynced(sales)
	support := phoneNumber(w.ns, "support", "74950000003", ringsAt("alice"), func(p *v1alpha1.PhoneNumber) {
		p.Annotations = map[string]string{v1alpha1.AnnotationExternalID: fmt.Sprint(sales.Status.ID)}
	})
	w.create(support)
	w.waitSynced(support)
	own := w.pbxDID("74950000003")["id"]
	if support.Status.ID != own || support.Annotations[v1alpha1.AnnotationExternalID] != fmt.Sprint(own) {
		t.Errorf("support records its own number's id %v: status %d, annotation %q", own, support.Status.ID,
			support.Annotations[v1alpha1.AnnotationExternalID])
	}
	if got := w.routedDIDs(); len(got) != 2 || got["74950000002"] != bob.Status.ID || got["74950000003"] != alice.Status.ID {
		t.Errorf("want 74950000002 at bob (%d) and 74950000003 at alice (%d): %v", bob.Status.ID, alice.Status.ID, got)
	}
	w.waitSynced(sales)
}

// TestPhoneNumberDriftReverted: a number rerouted in the PBX behind the operator's back goes back
// after a poll.
func TestPhoneNumberDriftReverted(t *testing.T) {
	w := newWorld(t, nil)
	alice := w.readyExtensions("alice", "101")[0]
	p := phoneNumber(w.ns, "main", "74950000001", ringsAt("alice"))
	w.create(p)
	w.waitSynced(p)
	if code := w.pbxCall(http.MethodPut, "/client/@me/did/"+fmt.Sprint(p.Status.ID), `{"extension_id":null}`); code != http.StatusOK {
		t.Fatalf("unassigning in the PBX: %d", code)
	}
	w.g.Eventually(func() any { return w.pbxDID("74950000001")["extension_id"] }, 5*pollInterval).Should(Equal(alice.Status.ID))
}

// TestPhoneNumberExtensionOfAnotherAccount: an extensionRef to an Extension of another account
// cannot work; the number is not touched.
func TestPhoneNumberExtensionOfAnotherAccount(t *testing.T) {
	w := newWorld(t, nil)
	w.waitReady(w.account("other", pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret))
	carol := ext(w.ns, "carol", "103", func(e *v1alpha1.Extension) { e.Spec.AccountRef.Name = "other" })
	w.create(carol)
	w.waitSynced(carol)
	p := phoneNumber(w.ns, "main", "74950000001", ringsAt("carol"))
	w.create(p)
	w.g.Eventually(w.cond(p, v1alpha1.ConditionSynced)).Should(Equal("False/InvalidSpec"))
	if m := message(p, v1alpha1.ConditionSynced); m != "The Extension carol (extensionRef) uses another account (Account other)" {
		t.Errorf("InvalidSpec message: %q", m)
	}
	if d := w.pbxDID("74950000001"); d["extension_id"] != nil {
		t.Errorf("the number is not routed: %v", d)
	}
}

// TestPhoneNumberRoutedElsewhereNeedsAdopt: a number that already rings somewhere the spec does not
// name is in use, by a person or another integration: the resource reports AlreadyExists and
// leaves it until adopted, as for any other PBX object it did not make. A free number, or one
// already routed as the spec says, is bound by its digits alone.
func TestPhoneNumberRoutedElsewhereNeedsAdopt(t *testing.T) {
	w := newWorld(t, nil)
	exts := w.readyExtensions("alice", "101", "bob", "102")
	alice, bob := exts[0], exts[1]
	did := w.pbxDID("74950000004")["id"]
	if code := w.pbxCall(http.MethodPut, fmt.Sprintf("/client/@me/did/%v", did), fmt.Sprintf(`{"extension_id":%d}`, bob.Status.ID)); code != http.StatusOK {
		t.Fatalf("routing the number in the PBX: %d", code)
	}
	w.sim.ResetRequests()
	p := phoneNumber(w.ns, "hotline", "74950000004", ringsAt("alice"))
	w.create(p)
	w.g.Eventually(w.cond(p, v1alpha1.ConditionReady)).Should(Equal("False/AlreadyExists"))
	if m := message(p, v1alpha1.ConditionSynced); !strings.Contains(m, v1alpha1.AnnotationAdopt) {
		t.Errorf("the condition says how to take the number over: %q", m)
	}
	w.waitPolls(2, "the account is checked twice more: the manager polled on after hotline found the number in use")
	w.g.Expect(w.pbxDID("74950000004")["extension_id"]).To(Equal(bob.Status.ID), "the number in use still rings at bob")
	if n := w.writes(); n != 0 {
		t.Errorf("a number in use is not touched before it is adopted: %d writes", n)
	}

	w.update(p, func() { p.Annotations = map[string]string{v1alpha1.AnnotationAdopt: "true"} })
	w.waitSynced(p)
	if d := w.pbxDID("74950000004"); d["extension_id"] != alice.Status.ID || p.Status.ID != d["id"] {
		t.Errorf("once adopted the number rings at alice (%d) and its id is recorded (%d): %v", alice.Status.ID, p.Status.ID, d)
	}

	// Already routed as the spec says (a resource deleted with Orphan and applied again): bound
	// without adopt, and without a write.
	w.update(p, func() { p.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan })
	w.waitSynced(p)
	w.delete(p)
	w.gone(p)
	w.sim.ResetRequests()
	again := phoneNumber(w.ns, "hotline", "74950000004", ringsAt("alice"))
	w.create(again)
	w.waitSynced(again)
	if again.Status.ID != did || again.Annotations[v1alpha1.AnnotationAdopt] != "" {
		t.Errorf("the number is bound by its digits: status id %d, want %v", again.Status.ID, did)
	}
	if n := w.writes(); n != 0 {
		t.Errorf("binding a number routed as the spec says writes nothing: %d writes", n)
	}
}

// TestPhoneNumberAfterDataLossWaitsForItsExtension: the PBX loses its data (its numbers ring
// nowhere again) and gives the id of the number's extension to another extension before the
// Extension finds its own again. The number must not be routed there: it waits for its Extension.
func TestPhoneNumberAfterDataLossWaitsForItsExtension(t *testing.T) {
	w := newWorld(t, nil)
	alice := w.readyExtensions("alice", "101")[0]
	old := alice.Status.ID
	p := phoneNumber(w.ns, "main", "74950000001", ringsAt("alice"))
	w.create(p)
	w.waitSynced(p)
	w.loseData(alice)
	w.takeID("/client/@me/extension/", `{"name":"199","type":"phone"}`, old, func() any { return w.pbxExtension("199")["id"] })

	w.g.Eventually(w.cond(p, v1alpha1.ConditionSynced), 10*pollInterval).Should(Equal("False/DependencyNotReady"))
	w.waitPolls(2, "the account is checked twice more: the manager polled on while the number waited for its Extension")
	w.g.Expect(w.pbxDID("74950000001")["extension_id"]).To(BeNil(), "the number does not ring at the other extension")

	w.pause(alice, "false")
	w.g.Eventually(func() any { return w.pbxExtension("101")["id"] }, 10*pollInterval).ShouldNot(BeNil())
	w.waitSynced(p)
	if d := w.pbxDID("74950000001"); d["extension_id"] != w.pbxExtension("101")["id"] {
		t.Errorf("the number rings at alice's new extension %v: %v", w.pbxExtension("101")["id"], d)
	}
}
