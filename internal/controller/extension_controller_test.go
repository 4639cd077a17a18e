package controller_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestExtensionLifecycle(t *testing.T) {
	w := newWorld(t, nil)
	g := group(w.ns, "sales", "Sales")
	w.create(g)
	e := ext(w.ns, "alice", "101", label("Alice"), func(e *v1alpha1.Extension) {
		e.Spec.GroupRef = &v1alpha1.GroupReference{Name: "sales"}
		e.Spec.CallerIDName = "Alice Smith"
	})
	w.create(e)
	w.waitSynced(g)
	w.waitSynced(e)

	x := w.pbxExtension("101")
	if x == nil || x["status"] != "active" || x["label"] != "Alice" || x["caller_id_name"] != "Alice Smith" || x["extension_group_id"] != g.Status.ID {
		t.Fatalf("PBX extension after create: %v (group %d)", x, g.Status.ID)
	}
	// The id of an object the operator made is in status; the create-pending mark records that
	// its create made it (no external-id annotation: that would be a third write per create).
	if e.Status.FullName != "0003*101" || e.Status.Domain == "" || e.Status.ID != x["id"] ||
		e.Annotations[v1alpha1.AnnotationExternalID] != "" || e.Annotations[v1alpha1.AnnotationCreatePending] == "" {
		t.Errorf("status and annotations after create: %+v %v", e.Status, e.Annotations)
	}

	// A change of the spec reaches the PBX; a field removed from the spec is cleared there.
	w.update(e, func() {
		e.Spec.Label = "Alice S."
		e.Spec.CallerIDName = ""
		e.Spec.State = v1alpha1.ExtensionStateBlocked
	})
	w.waitSynced(e)
	x = w.pbxExtension("101")
	if x["label"] != "Alice S." || x["caller_id_name"] != nil || x["status"] != "blocked" {
		t.Errorf("PBX extension after update: %v", x)
	}
	w.update(e, func() { e.Spec.GroupRef = nil })
	w.waitSynced(e)
	if x = w.pbxExtension("101"); x["extension_group_id"] != nil {
		t.Errorf("removing groupRef takes the extension out of its group: %v", x)
	}

	w.delete(e)
	w.gone(e)
	if x = w.pbxExtension("101"); x != nil {
		t.Errorf("deleting the Extension deletes the PBX extension: %v", x)
	}
}

func TestOrphan(t *testing.T) {
	w := newWorld(t, nil)
	e := ext(w.ns, "fax", "300", func(e *v1alpha1.Extension) {
		e.Spec.Type = v1alpha1.ExtensionTypeFax
		e.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
	})
	w.create(e)
	w.waitSynced(e)
	w.delete(e)
	w.gone(e)
	if x := w.pbxExtension("300"); x == nil || x["type"] != "fax" {
		t.Errorf("Orphan leaves the PBX extension: %v", x)
	}
}

func TestDriftReverted(t *testing.T) {
	w := newWorld(t, nil)
	e := ext(w.ns, "bob", "102", label("Bob"))
	w.create(e)
	w.waitSynced(e)
	id := fmt.Sprint(e.Status.ID)
	if code := w.pbxCall(http.MethodPut, "/client/@me/extension/"+id, `{"label":"Hacked","status":"blocked"}`); code != http.StatusOK {
		t.Fatalf("changing the PBX behind the operator's back: %d", code)
	}
	w.g.Eventually(func() any { return w.pbxExtension("102")["label"] }, 5*pollInterval).Should(Equal("Bob"))
	w.g.Eventually(func() any { return w.pbxExtension("102")["status"] }).Should(Equal("active"))

	// An extension deleted behind the operator's back is made again.
	if code := w.pbxCall(http.MethodDelete, "/client/@me/extension/"+id, ""); code != http.StatusNoContent {
		t.Fatalf("deleting in the PBX: %d", code)
	}
	w.g.Eventually(func() int { return len(w.pbxExtensions("0003*102")) }, 5*pollInterval).Should(Equal(1))
	w.waitSynced(e)
}

func TestLostCreateResponse(t *testing.T) {
	w := newWorld(t, nil)
	w.sim.AddFault(pbxsim.Fault{Method: http.MethodPost, Path: "/api/ver1.0/client/{realm_id}/extension/", DropAfterCommit: true, Times: 1})
	e := ext(w.ns, "carol", "103")
	w.create(e)
	w.waitSynced(e)
	if n := len(w.pbxExtensions("0003*103")); n != 1 {
		t.Errorf("a create whose answer was lost ends with exactly one PBX extension, got %d", n)
	}
	if got := w.sim.RequestTotal(http.MethodPost, "/api/ver1.0/client/{realm_id}/extension/"); got != 1 {
		t.Errorf("the lost create is adopted, not repeated: %d POSTs", got)
	}
	w.fired(pbxsim.FiredDropAfterCommit, 1)
}

func TestRestartBetweenCreateAndStatusWrite(t *testing.T) {
	w := newWorld(t, nil)
	// As after a crash right after the create call: the PBX object exists, the resource has the
	// create-pending mark and no id.
	if code := w.pbxCall(http.MethodPost, "/client/@me/extension/", `{"name":"104","status":"active"}`); code != http.StatusCreated {
		t.Fatal(code)
	}
	e := ext(w.ns, "dave", "104", annotated(v1alpha1.AnnotationCreatePending, "2026-11-26T10:00:00Z"))
	w.create(e)
	w.waitSynced(e)
	if n := len(w.pbxExtensions("0003*104")); n != 1 {
		t.Errorf("want exactly one PBX extension, got %d", n)
	}
	if e.Status.ID != w.pbxExtension("104")["id"] {
		t.Errorf("the object the mark's create made is recorded in status: %v %d", e.Annotations, e.Status.ID)
	}
}

func TestInvalidSpecWaitsForChange(t *testing.T) {
	w := newWorld(t, nil)
	e := ext(w.ns, "erin", "105", func(e *v1alpha1.Extension) { e.Spec.GroupID = 999999 })
	w.create(e)
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/InvalidSpec"))
	if m := message(e, v1alpha1.ConditionSynced); m != "The PBX rejected the spec: extension_group_id: extension group 999999 does not exist" {
		t.Errorf("the condition carries the PBX's message: %q", m)
	}
	posts := func() int { return w.sim.RequestTotal(http.MethodPost, "/api/ver1.0/client/{realm_id}/extension/") }
	w.waitPolls(3, "the account is checked three more times: two poll intervals went by with the manager reconciling")
	w.g.Expect(posts()).To(Equal(1), "a spec the PBX rejected is not sent again before it changes")
	w.update(e, func() { e.Spec.GroupID = 0 })
	w.waitSynced(e)
	if n := posts(); n != 2 {
		t.Errorf("a spec change retries once: %d POSTs", n)
	}
}

func TestAlreadyExistsAndAdopt(t *testing.T) {
	w := newWorld(t, nil)
	if code := w.pbxCall(http.MethodPost, "/client/@me/extension/", `{"name":"106","label":"Theirs"}`); code != http.StatusCreated {
		t.Fatal(code)
	}
	e := ext(w.ns, "frank", "106", label("Mine"))
	w.create(e)
	w.g.Eventually(w.cond(e, v1alpha1.ConditionReady)).Should(Equal("False/AlreadyExists"))
	w.waitPolls(2, "the account is checked twice more: the manager polled on after frank found the extension somebody else's")
	w.g.Expect(w.pbxExtension("106")["label"]).To(Equal("Theirs"), "an extension that is somebody else's is not written before it is adopted")
	w.update(e, func() { e.Annotations = map[string]string{v1alpha1.AnnotationAdopt: "true"} })
	w.waitSynced(e)
	if x := w.pbxExtension("106"); x["label"] != "Mine" || len(w.pbxExtensions("0003*106")) != 1 {
		t.Errorf("after adoption the PBX extension follows the spec: %v", x)
	}
}

func TestImportByExternalID(t *testing.T) {
	w := newWorld(t, nil)
	if code := w.pbxCall(http.MethodPost, "/client/@me/extension/", `{"name":"107","status":"active"}`); code != http.StatusCreated {
		t.Fatal(code)
	}
	id := fmt.Sprint(w.pbxExtension("107")["id"])
	e := ext(w.ns, "gina", "107", label("Imported"), annotated(v1alpha1.AnnotationExternalID, id))
	w.create(e)
	w.waitSynced(e)
	if x := w.pbxExtension("107"); x["label"] != "Imported" || fmt.Sprint(e.Status.ID) != id {
		t.Errorf("import by external-id: %v, status id %d", x, e.Status.ID)
	}
}

func TestConflict(t *testing.T) {
	w := newWorld(t, nil)
	first := ext(w.ns, "first", "108")
	w.create(first)
	w.waitSynced(first)
	second := ext(w.ns, "second", "108", label("other"))
	w.create(second)
	w.g.Eventually(w.cond(second, v1alpha1.ConditionSynced)).Should(Equal("False/Conflict"))
	w.waitPolls(2, "the account is checked twice more: the manager polled on after second found itself in Conflict")
	w.g.Expect(w.pbxExtensions("0003*108")).To(HaveLen(1), "the conflicting resource makes no twin")
	if x := w.pbxExtension("108"); x["label"] != nil {
		t.Errorf("the conflicting resource never writes: %v", x)
	}
}

func TestDeleteGroupWithMembers(t *testing.T) {
	w := newWorld(t, nil)
	g := group(w.ns, "support", "Support")
	w.create(g)
	e := ext(w.ns, "hank", "109", func(e *v1alpha1.Extension) { e.Spec.GroupRef = &v1alpha1.GroupReference{Name: "support"} })
	w.create(e)
	w.waitSynced(e)
	w.delete(g)
	w.gone(g)
	if n := len(w.sim.Snapshot().ExtensionGroups); n != 0 {
		t.Errorf("the PBX group is deleted: %d left", n)
	}
	if x := w.pbxExtension("109"); x == nil || x["extension_group_id"] != nil {
		t.Errorf("its member stays, outside any group: %v", x)
	}
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/DependencyNotReady"))
}

func TestPausedStillDeletable(t *testing.T) {
	w := newWorld(t, nil)
	e := ext(w.ns, "ivy", "110")
	w.create(e)
	w.waitSynced(e)
	w.update(e, func() { e.Annotations[v1alpha1.AnnotationPaused] = "true"; e.Spec.Label = "ignored" })
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/Paused"))
	w.waitPolls(2, "the account is checked twice more: a poll interval went by with the manager reconciling")
	w.g.Expect(w.pbxExtension("110")["label"]).To(BeNil(), "a paused resource does not write its changed spec to the PBX")
	w.delete(e)
	w.gone(e)
	if x := w.pbxExtension("110"); x != nil {
		t.Errorf("a paused resource is still deleted with its PBX object: %v", x)
	}
}

func TestObserveOnlyWritesNothing(t *testing.T) {
	w := newWorld(t, nil)
	if code := w.pbxCall(http.MethodPost, "/client/@me/extension/", `{"name":"111","label":"As is"}`); code != http.StatusCreated {
		t.Fatal(code)
	}
	writes := w.writes()
	e := ext(w.ns, "jack", "111", label("Wanted"), func(e *v1alpha1.Extension) { e.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly })
	w.create(e)
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/Drifted"))
	missing := ext(w.ns, "kate", "112", func(e *v1alpha1.Extension) { e.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly })
	w.create(missing)
	w.g.Eventually(w.cond(missing, v1alpha1.ConditionReady)).Should(Equal("False/Unavailable"))
	w.delete(e)
	w.gone(e)
	if n := w.writes(); n != writes {
		t.Errorf("ObserveOnly makes no writes: %d", n-writes)
	}
	if x := w.pbxExtension("111"); x == nil {
		t.Errorf("deleting an ObserveOnly resource leaves the PBX object")
	}
}

func TestUnauthorizedAndSecretRotation(t *testing.T) {
	w := newWorld(t, nil)
	a := w.account("rotating", pbxsim.DemoTrustedAppID, "wrong-secret")
	w.g.Eventually(w.cond(a, v1alpha1.ConditionReady)).Should(Equal("False/Unauthorized"))
	s := &corev1.Secret{}
	s.Name, s.Namespace = "rotating", w.ns
	w.update(s, func() {
		s.Data = map[string][]byte{"clientID": []byte(pbxsim.DemoTrustedAppID), "clientSecret": []byte(pbxsim.DemoAppSecret), "url": []byte(w.srv.URL + "/")}
	})
	w.waitReady(a)
	if a.Status.ClientPrefix != pbxsim.DemoPrefix || a.Status.ExtensionNameLength != 3 || a.Status.Realm != v1alpha1.RealmClient {
		t.Errorf("account status: %+v", a.Status)
	}
}

func TestForbidden(t *testing.T) {
	w := newWorld(t, nil)
	a := w.account("readonly", pbxsim.DemoReadOnlyAppID, pbxsim.DemoAppSecret)
	w.waitReady(a)
	e := ext(w.ns, "leo", "113", func(e *v1alpha1.Extension) { e.Spec.AccountRef.Name = "readonly" })
	w.create(e)
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/Forbidden"))
	if got := w.cond(e, v1alpha1.ConditionReady)(); got != "False/Forbidden" {
		t.Errorf("an object the app may not see is not Ready, for that reason: Ready %s", got)
	}
}

func TestTokenInvalidation(t *testing.T) {
	w := newWorld(t, nil)
	e := ext(w.ns, "mia", "114")
	w.create(e)
	w.waitSynced(e)
	w.sim.InvalidateTokens()
	w.update(e, func() { e.Spec.Label = "after invalidation" })
	w.waitSynced(e)
	if x := w.pbxExtension("114"); x["label"] != "after invalidation" {
		t.Errorf("the change after a token invalidation: %v", x)
	}
}

func TestRateLimited(t *testing.T) {
	w := newWorld(t, nil)
	w.sim.SetRateLimit(pbxsim.DemoClientID, w.sim.RequestTotal("", "")) // the budget is spent
	e := ext(w.ns, "ned", "115")
	w.create(e)
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/RateLimited"))
	if m := message(e, v1alpha1.ConditionSynced); !strings.HasPrefix(m, "Waiting for the PBX request budget to reset: ") {
		t.Errorf("message: %q", m)
	}
	// The client holds every call until the window resets (an hour here): nothing reaches the PBX,
	// neither for a pass made from now on (a new Extension's) nor for the account's own check.
	calls := w.sim.RequestTotal("", "")
	probe := ext(w.ns, "probe", "118")
	w.create(probe)
	w.g.Eventually(w.cond(probe, v1alpha1.ConditionSynced)).Should(Equal("False/RateLimited"),
		"a pass made after the budget was spent needed the PBX, and was held for the reset")
	a := &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Name: "pbx", Namespace: w.ns}}
	w.g.Eventually(w.cond(a, v1alpha1.ConditionReady)).Should(Equal("False/RateLimited"),
		"the account's check after the budget was spent waits for the reset too")
	w.g.Expect(w.sim.RequestTotal("", "")-calls).To(BeZero(), "the held calls did not reach the PBX")
}

func TestServerErrorsBackOff(t *testing.T) {
	w := newWorld(t, nil)
	w.sim.AddFault(pbxsim.Fault{Method: http.MethodPost, Path: "/api/ver1.0/client/{realm_id}/extension/", Status: http.StatusServiceUnavailable, Times: 3})
	e := ext(w.ns, "olga", "116")
	w.create(e)
	w.waitSynced(e)
	if n := len(w.pbxExtensions("0003*116")); n != 1 {
		t.Errorf("after three 503s the extension exists once: %d", n)
	}
	w.fired(pbxsim.FiredStatus(http.StatusServiceUnavailable), 3)
}

func TestReconcileRequestedAt(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	const first = 424242
	cfg.FirstIDs.ExtensionGroups = first
	w := newWorld(t, &cfg)
	// The simulator's first group does not exist yet: the PBX answers 400, a terminal error that
	// waits for a change.
	e := ext(w.ns, "quinn", "117", func(e *v1alpha1.Extension) { e.Spec.GroupID = first })
	w.create(e)
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/InvalidSpec"))
	// The group appears in the PBX with that id; nothing retries by itself.
	if code := w.pbxCall(http.MethodPost, "/client/@me/extension_group/", `{"name":"Late"}`); code != http.StatusCreated {
		t.Fatal(code)
	}
	w.waitPolls(2, "the account is checked twice more: the manager polled on after the group appeared")
	w.g.Expect(w.cond(e, v1alpha1.ConditionSynced)()).To(Equal("False/InvalidSpec"), "a spec the PBX rejected is not tried again by itself")
	w.update(e, func() {
		e.Annotations = map[string]string{v1alpha1.AnnotationReconcileRequestedAt: time.Now().Format(time.RFC3339)}
	})
	w.waitSynced(e)
	if x := w.pbxExtension("117"); x == nil || x["extension_group_id"] != int64(first) {
		t.Errorf("after the requested reconcile the extension exists in group %d: %v", first, x)
	}
}

// TestAccountMovedToAnotherURL: an account whose URL changes (a proxy in front of the PBX, say)
// reaches the PBX only at the new URL from then on, for every read and write, the snapshot's lists
// included, which outlive the connection they were made for.
func TestAccountMovedToAnotherURL(t *testing.T) {
	w := newWorld(t, nil)
	first := ext(w.ns, "before-move", "121")
	w.create(first)
	w.waitSynced(first)
	moved := httptest.NewServer(w.sim)
	t.Cleanup(moved.Close)
	// The Secret's owner names the new PBX first: the credentials go only where it says.
	s := &corev1.Secret{}
	s.Name, s.Namespace = "pbx", w.ns
	w.update(s, func() { s.StringData = map[string]string{"url": moved.URL + "/"} })
	w.setAccount(func(s *v1alpha1.AccountSpec) { s.URL = moved.URL + "/" })
	w.srv.Close() // the old address answers no more
	second := ext(w.ns, "after-move", "122")
	w.create(second)
	w.waitSynced(second)
	w.update(first, func() { first.Spec.Label = "after the move" })
	w.waitSynced(first)
	if x := w.pbxExtension("121"); x["label"] != "after the move" {
		t.Errorf("the change after the move: %v", x)
	}
}
