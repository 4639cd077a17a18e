package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// registers says whether a phone registers with the PBX as the Extension with a password.
func (w *world) registers(number, password string) bool {
	return w.sim.RegisterSIP(pbxsim.DemoClientID, pbxsim.DemoPrefix+"*"+number, password) == nil
}

// pbxPhone returns the simulator's phone settings of an extension (without the password, which the
// PBX never shows).
func (w *world) pbxPhone(id int64) map[string]any {
	for _, p := range w.sim.Snapshot().Phones {
		if fmt.Sprint(p["extension_id"]) == fmt.Sprint(id) {
			return p
		}
	}
	return nil
}

// sipSecret returns the credentials Secret, or nil while there is none.
func (w *world) sipSecret(name string) *corev1.Secret {
	var s corev1.Secret
	if err := k.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, &s); err != nil {
		return nil
	}
	return &s
}

func phone(secret string) func(*v1alpha1.Extension) {
	return func(e *v1alpha1.Extension) {
		e.Spec.Type = v1alpha1.ExtensionTypePhone
		e.Spec.WriteCredentialsSecretRef = v1alpha1.CredentialsSecretReference{Name: secret}
	}
}

func TestPhoneLineCredentials(t *testing.T) {
	w := newWorld(t, nil)
	e := ext(w.ns, "alice", "101", phone("alice-sip"), func(e *v1alpha1.Extension) {
		e.Spec.Phone = v1alpha1.PhoneSettings{
			AuthType: v1alpha1.PhoneAuthBoth, WebRTC: v1alpha1.ToggleEnabled,
			Recording: v1alpha1.RecordingCallsAndTransfers, GeoList: []string{"US", "DE"},
		}
	})
	w.create(e)
	w.waitSynced(e)

	s := w.sipSecret("alice-sip")
	if s == nil {
		t.Fatal("no credentials Secret")
	}
	pw := string(s.Data["password"])
	p := w.pbxPhone(e.Status.ID)
	if len(pw) < 20 || !w.registers("101", pw) {
		t.Fatalf("the PBX and the Secret hold different passwords (Secret %d chars)", len(pw))
	}
	if p["auth_type"] != "both" || p["allow_webrtc"] != true || p["record_enabled"] != true || p["record_transfer"] != true || p["geo_list"] != "US DE" {
		t.Errorf("phone settings in the PBX: %v", p)
	}
	want := map[string]string{"username": pbxsim.DemoPrefix + "*101", "domain": e.Status.Domain, "registrar": e.Status.Domain,
		"uri": "sip:" + pbxsim.DemoPrefix + "*101@" + e.Status.Domain}
	for key, v := range want {
		if string(s.Data[key]) != v {
			t.Errorf("Secret key %s: want %q, got %q", key, v, s.Data[key])
		}
	}
	if !metav1.IsControlledBy(s, e) || s.Labels[v1alpha1.LabelCredentials] != v1alpha1.LabelCredentialsSIP {
		t.Errorf("the Secret is not the Extension's: owners %v, labels %v", s.OwnerReferences, s.Labels)
	}
	for _, c := range conditions(e) {
		if strings.Contains(c.Message, pw) {
			t.Errorf("the password is in condition %s", c.Type)
		}
	}

	// Nothing to do in a steady state: no second password, no rewrite.
	writes := w.sim.RequestTotal(http.MethodPut, "")
	w.update(e, func() { setAnnotation(&e.Annotations, v1alpha1.AnnotationReconcileRequestedAt, "1") })
	w.g.Eventually(func() string {
		_ = k.Get(context.Background(), client.ObjectKeyFromObject(e), e)
		return e.Status.LastHandledReconcileAt
	}).Should(Equal("1"))
	if n := w.sim.RequestTotal(http.MethodPut, "") - writes; n != 0 {
		t.Errorf("a pass with nothing to do wrote %d times to the PBX", n)
	}
	if got := w.sipSecret("alice-sip"); string(got.Data["password"]) != pw {
		t.Errorf("the password changed without a rotation")
	}

	// Rotation on request: a new password in both places.
	w.update(e, func() { setAnnotation(&e.Annotations, v1alpha1.AnnotationRotateCredentials, "2026-11-28") })
	w.g.Eventually(func() bool {
		s := w.sipSecret("alice-sip")
		np := string(s.Data["password"])
		return np != pw && s.Annotations["pbx.cloudpbx.dev/password-set"] != "" && w.registers("101", np)
	}).Should(BeTrue(), "rotation sets a new password in the PBX and the Secret")
	w.waitSynced(e)

	// A drifted setting is put back; a deleted Secret is written again with the same password.
	rotated := string(w.sipSecret("alice-sip").Data["password"])
	if code := w.pbxCall(http.MethodPut, fmt.Sprintf("/extension/%d/phone/", e.Status.ID), `{"allow_webrtc": false}`); code != http.StatusOK {
		t.Fatalf("changing the phone behind the operator's back: %d", code)
	}
	if err := k.Delete(context.Background(), w.sipSecret("alice-sip")); err != nil {
		t.Fatal(err)
	}
	w.update(e, func() { setAnnotation(&e.Annotations, v1alpha1.AnnotationReconcileRequestedAt, "2") })
	w.g.Eventually(func() bool {
		s := w.sipSecret("alice-sip")
		return s != nil && w.pbxPhone(e.Status.ID)["allow_webrtc"] == true && w.registers("101", string(s.Data["password"]))
	}).Should(BeTrue(), "drift reverted and the Secret written again")
	if np := string(w.sipSecret("alice-sip").Data["password"]); np == rotated {
		t.Errorf("a deleted credentials Secret took its password with it: a new one is set, not the old one again")
	}
}

func TestPhonePasswordFromSecret(t *testing.T) {
	w := newWorld(t, nil)
	given := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bob-password", Namespace: w.ns},
		StringData: map[string]string{"pw": "correct-horse-battery"},
	}
	w.create(given)
	e := ext(w.ns, "bob", "102", phone("bob-sip"), func(e *v1alpha1.Extension) {
		e.Spec.PasswordSecretRef = v1alpha1.PasswordSecretReference{Name: "bob-password", Key: "pw"}
	})
	w.create(e)
	// A Secret the user did not opt in is not read: the message says how to give it.
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/" + v1alpha1.ReasonDependencyNotReady))
	if msg := message(e, v1alpha1.ConditionSynced); !strings.Contains(msg, "label secret bob-password "+v1alpha1.LabelCredentials+"=sip-password") {
		t.Errorf("message: %s", msg)
	}
	// Account credentials are never a SIP password: a Secret given as such is refused, whoever
	// names it (its clientSecret would be set in the PBX and written into the credentials Secret).
	w.update(given, func() { given.Labels = map[string]string{v1alpha1.LabelCredentials: v1alpha1.LabelCredentialsAccount} })
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/" + v1alpha1.ReasonInvalidSpec))
	if msg := message(e, v1alpha1.ConditionSynced); !strings.Contains(msg, "is given to the operator only as PBX account credentials (label pbx.cloudpbx.dev/credentials=true), not as a SIP password") {
		t.Errorf("message: %s", msg)
	}
	if s := w.sipSecret("bob-sip"); s != nil {
		t.Errorf("a credentials Secret was written while the password Secret was not given: %v", s.Data)
	}
	w.update(given, func() { given.Labels = map[string]string{v1alpha1.LabelCredentials: v1alpha1.LabelCredentialsPassword} })
	w.waitSynced(e)
	if !w.registers("102", "correct-horse-battery") {
		t.Errorf("the PBX does not have the given password")
	}
	if s := w.sipSecret("bob-sip"); string(s.Data["password"]) != "correct-horse-battery" {
		t.Errorf("the credentials Secret does not have the given password")
	}
	// The user changes the password: the PBX and the credentials Secret follow.
	w.update(given, func() { given.StringData = map[string]string{"pw": "another-horse"} })
	w.g.Eventually(func() bool { return w.registers("102", "another-horse") }).Should(BeTrue())
	w.g.Eventually(func() string { return string(w.sipSecret("bob-sip").Data["password"]) }).Should(Equal("another-horse"))
}

func TestPhoneCredentialsSecretNotOurs(t *testing.T) {
	w := newWorld(t, nil)
	other := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: w.ns},
		StringData: map[string]string{"token": "somebody else's"},
	}
	w.create(other)
	e := ext(w.ns, "carol", "103", phone("taken"))
	w.create(e)
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/" + v1alpha1.ReasonInvalidSpec))
	if msg := message(e, v1alpha1.ConditionSynced); !strings.Contains(msg, "exists and is not this Extension's") {
		t.Errorf("message: %s", msg)
	}
	var got corev1.Secret
	if err := k.Get(context.Background(), client.ObjectKeyFromObject(other), &got); err != nil || string(got.Data["token"]) != "somebody else's" || len(got.Data) != 1 {
		t.Errorf("somebody else's Secret was changed: %v %v", err, got.Data)
	}
}

func TestPhoneLineLostAnswers(t *testing.T) {
	w := newWorld(t, nil)
	// The password PUT is committed but its answer lost, twice: the same password is set again,
	// and the Secret and the PBX agree in the end.
	w.sim.AddFault(pbxsim.Fault{Method: http.MethodPut, Path: "/api/ver1.0/extension/{realm_id}/phone/", DropAfterCommit: true, Times: 2})
	e := ext(w.ns, "dave", "104", phone("dave-sip"))
	w.create(e)
	w.waitSynced(e)
	s := w.sipSecret("dave-sip")
	if s == nil || !w.registers("104", string(s.Data["password"])) {
		t.Fatalf("after lost answers the PBX and the Secret disagree")
	}
	w.fired(pbxsim.FiredDropAfterCommit, 2)
	if n := len(w.pbxExtensions(pbxsim.DemoPrefix + "*104")); n != 1 {
		t.Errorf("%d PBX extensions", n)
	}
}

// TestPhoneSettingsReadOncePerPoll: the PBX lists no phone settings, so each is a GET; passes of an
// Extension between two polls (its own edits here) use the settings last read or written instead
// of reading them again.
func TestPhoneSettingsReadOncePerPoll(t *testing.T) {
	w := newWorld(t, nil)
	w.setAccount(func(s *v1alpha1.AccountSpec) { s.PollIntervalSeconds = 3600 })
	e := ext(w.ns, "erin", "105", func(e *v1alpha1.Extension) {
		e.Spec.Phone = v1alpha1.PhoneSettings{WebRTC: v1alpha1.ToggleEnabled}
	})
	w.create(e)
	w.waitSynced(e)
	reads := func() int { return w.sim.RequestTotal(http.MethodGet, "/api/ver1.0/extension/{realm_id}/phone/") }
	before := reads()
	for _, label := range []string{"one", "two", "three"} {
		w.update(e, func() { e.Spec.Label = label })
		w.waitSynced(e)
	}
	if n := reads() - before; n != 0 {
		t.Errorf("three edits read the phone settings %d more times, want 0 (one read per poll interval)", n)
	}
	// A reconcile asked for looks at the PBX afresh, phone settings included.
	w.update(e, func() { setAnnotation(&e.Annotations, v1alpha1.AnnotationReconcileRequestedAt, "now") })
	w.g.Eventually(reads).Should(BeNumerically(">", before))
}
