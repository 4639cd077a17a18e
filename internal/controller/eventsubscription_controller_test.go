package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

const (
	eventsPath = "/api/ver1.0/extension/{realm_id}/event/"
	eventPath  = "/api/ver1.0/extension/{realm_id}/event/{id}"
)

// evsub builds an EventSubscription of the world's account on the Extension extension, sending
// Hangup events to url by POST.
func evsub(ns, name, extension, url string, mods ...func(*v1alpha1.EventSubscription)) *v1alpha1.EventSubscription {
	s := &v1alpha1.EventSubscription{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.EventSubscriptionSpec{
			ManagedSpec:  v1alpha1.ManagedSpec{AccountRef: v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "pbx"}},
			ExtensionRef: v1alpha1.ExtensionReference{Name: extension},
			EventType:    v1alpha1.EventTypeHangup,
			Method:       v1alpha1.EventMethodPOST,
			URL:          url,
		},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

// onEvent sets the event type.
func onEvent(t v1alpha1.EventType) func(*v1alpha1.EventSubscription) {
	return func(s *v1alpha1.EventSubscription) { s.Spec.EventType = t }
}

// onExtensionID names the extension by its PBX id instead of an Extension.
func onExtensionID(id int64) func(*v1alpha1.EventSubscription) {
	return func(s *v1alpha1.EventSubscription) {
		s.Spec.ExtensionRef = v1alpha1.ExtensionReference{}
		s.Spec.ExtensionID = id
	}
}

// pbxEvents returns the simulator's subscriptions of an extension.
func (w *world) pbxEvents(extensionID int64) []map[string]any {
	var out []map[string]any
	for _, e := range w.sim.Snapshot().Events {
		if e["extension_id"] == extensionID {
			out = append(out, e)
		}
	}
	return out
}

func TestEventSubscriptionLifecycle(t *testing.T) {
	w := newWorld(t, nil)
	alice := w.ready(ext(w.ns, "alice", "151"))
	s := evsub(w.ns, "alice-hangup", "alice", "https://hooks.example/calls")
	w.create(s)
	w.waitSynced(s)

	evs := w.pbxEvents(alice)
	if len(evs) != 1 || evs[0]["url"] != "https://hooks.example/calls" || evs[0]["event_type"] != "hangup" || evs[0]["method"] != "POST" {
		t.Fatalf("PBX subscriptions of alice after create: %v", evs)
	}
	id := evs[0]["id"]
	// The id is in status; the mark, written before the create, recorded the URL, event type and
	// method the subscription was made with and the extension it lives on.
	if s.Status.ID != id || s.Status.URL != "https://hooks.example/calls" || s.Status.ExtensionID != alice ||
		s.Annotations[v1alpha1.AnnotationExternalID] != "" || s.Annotations[v1alpha1.AnnotationCreatePending] == "" ||
		s.Annotations[v1alpha1.AnnotationRealm] != fmt.Sprintf("extension/%d", alice) ||
		!strings.HasPrefix(s.Annotations[v1alpha1.AnnotationExternalKey], `{"id":0,"keys":[`) {
		t.Errorf("status and annotations after create: %+v %v", s.Status, s.Annotations)
	}

	// A new target and method change the subscription in place: a PUT, not a second POST.
	w.update(s, func() {
		s.Spec.URL = ""
		s.Spec.ServiceRef = v1alpha1.ServiceReference{Name: "hooks", Port: 8080, Scheme: v1alpha1.URLSchemeHTTP, Path: "/calls"}
		s.Spec.Method = v1alpha1.EventMethodGET
	})
	w.waitSynced(s)
	svcURL := "http://hooks." + w.ns + ".svc:8080/calls"
	evs = w.pbxEvents(alice)
	if len(evs) != 1 || evs[0]["id"] != id || evs[0]["url"] != svcURL || evs[0]["method"] != "GET" || s.Status.URL != svcURL {
		t.Errorf("after the change, the same PBX subscription calls %s by GET: %v (status url %q)", svcURL, evs, s.Status.URL)
	}
	if posts, puts := w.sim.RequestTotal(http.MethodPost, eventsPath), w.sim.RequestTotal(http.MethodPut, eventPath); posts != 1 || puts != 1 {
		t.Errorf("one create and one update: %d POSTs, %d PUTs", posts, puts)
	}

	// A subscription whose key was changed in the PBX is no longer taken for the resource's (it
	// may be another integration's that took the id): it is left as it is, and the resource
	// subscribes again at the next poll.
	if code := w.pbxCall(http.MethodPut, fmt.Sprintf("/extension/%d/event/%v", alice, id), `{"event_type":"answer"}`); code != http.StatusOK {
		t.Fatalf("changing the subscription behind the operator's back: %d", code)
	}
	w.g.Eventually(func() int { return len(w.pbxEvents(alice)) }, 5*pollInterval).Should(Equal(2))
	w.waitNewID(s, id.(int64))
	w.waitSynced(s)
	types := map[any]any{}
	for _, e := range w.pbxEvents(alice) {
		types[e["id"]] = e["event_type"]
	}
	if s.Status.ID == id || types[id] != "answer" || types[s.Status.ID] != "hangup" {
		t.Errorf("the changed subscription %v stays, the resource has a new one (%d): %v", id, s.Status.ID, types)
	}

	w.delete(s)
	w.gone(s)
	if evs := w.pbxEvents(alice); len(evs) != 1 || evs[0]["id"] != id {
		t.Errorf("deleting the EventSubscription deletes its own PBX subscription only: %v", evs)
	}
	if code := w.pbxCall(http.MethodDelete, fmt.Sprintf("/extension/%d/event/%v", alice, id), ""); code != http.StatusNoContent {
		t.Fatalf("deleting the changed subscription: %d", code)
	}

	// Orphan leaves the PBX subscription in place.
	kept := evsub(w.ns, "alice-answer", "alice", "https://hooks.example/calls", onEvent(v1alpha1.EventTypeAnswer),
		func(s *v1alpha1.EventSubscription) { s.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan })
	w.create(kept)
	w.waitSynced(kept)
	w.delete(kept)
	w.gone(kept)
	if evs := w.pbxEvents(alice); len(evs) != 1 || evs[0]["event_type"] != "answer" {
		t.Errorf("Orphan leaves the PBX subscription: %v", evs)
	}
}

// TestEventSubscriptionLostCreate: the PBX allows identical subscriptions, so a create whose answer
// is lost (dropped, or a 5xx after the commit) must be found and adopted, never made twice.
func TestEventSubscriptionLostCreate(t *testing.T) {
	w := newWorld(t, nil)
	alice := w.ready(ext(w.ns, "alice", "152"))
	for i, fault := range []pbxsim.Fault{
		{Method: http.MethodPost, Path: eventsPath, DropAfterCommit: true, Times: 1},
		{Method: http.MethodPost, Path: eventsPath, StatusAfterCommit: http.StatusBadGateway, Times: 1},
	} {
		w.sim.AddFault(fault)
		typ := []v1alpha1.EventType{v1alpha1.EventTypeDialIn, v1alpha1.EventTypeAnswer}[i]
		s := evsub(w.ns, strings.ToLower(string(typ)), "alice", "https://hooks.example/calls", onEvent(typ))
		w.create(s)
		w.waitSynced(s)
		if evs := w.pbxEvents(alice); len(evs) != i+1 || evs[i]["id"] != s.Status.ID {
			t.Errorf("%s: want exactly one PBX subscription per resource, the resource's (%d): %v", typ, s.Status.ID, evs)
		}
	}
	if posts := w.sim.RequestTotal(http.MethodPost, eventsPath); posts != 2 {
		t.Errorf("the lost creates are adopted, not repeated: %d POSTs", posts)
	}
	w.fired(pbxsim.FiredDropAfterCommit, 1)
	w.fired(pbxsim.FiredStatusAfterCommit(http.StatusBadGateway), 1)
}

// TestEventSubscriptionQueryNotShown: a webhook URL's query, which often carries a token, reaches
// the PBX but is never shown: not in status.url, not in a condition, not in an event.
func TestEventSubscriptionQueryNotShown(t *testing.T) {
	w := newWorld(t, nil)
	alice := w.ready(ext(w.ns, "alice", "158"))
	const hook, shown = "https://hooks.example/calls?token=s3cret", "https://hooks.example/calls?REDACTED"
	s := evsub(w.ns, "alice-hangup", "alice", hook)
	w.create(s)
	w.waitSynced(s)
	if evs := w.pbxEvents(alice); len(evs) != 1 || evs[0]["url"] != hook {
		t.Fatalf("the PBX calls the URL with its query: %v", evs)
	}
	if s.Status.URL != shown {
		t.Errorf("status.url hides the query: want %q, got %q", shown, s.Status.URL)
	}

	// Two identical subscriptions made behind the operator's back: the Conflict describes them
	// without the query.
	events := fmt.Sprintf("/extension/%d/event/", alice)
	for range 2 {
		if code := w.pbxCall(http.MethodPost, events, `{"url":"`+hook+`","event_type":"answer","method":"POST"}`); code != http.StatusCreated {
			t.Fatal(code)
		}
	}
	twin := evsub(w.ns, "alice-answer", "alice", hook, onEvent(v1alpha1.EventTypeAnswer))
	w.create(twin)
	w.g.Eventually(w.cond(twin, v1alpha1.ConditionSynced)).Should(Equal("False/Conflict"))
	if m := message(twin, v1alpha1.ConditionSynced); !strings.Contains(m, shown) || strings.Contains(m, "s3cret") {
		t.Errorf("the Conflict names the URL without its query: %q", m)
	}
	var evl eventsv1.EventList
	if err := k.List(context.Background(), &evl, client.InNamespace(w.ns)); err != nil {
		t.Fatal(err)
	}
	if len(evl.Items) == 0 {
		t.Error("the test sees the resources' events")
	}
	for _, ev := range evl.Items {
		if strings.Contains(ev.Note, "s3cret") {
			t.Errorf("an event shows the query: %q", ev.Note)
		}
	}
}

// TestEventSubscriptionNotOurs: an identical subscription that the operator did not make is
// somebody else's (AlreadyExists) until the user adopts it; several are a Conflict; the
// external-id annotation imports one by id.
func TestEventSubscriptionNotOurs(t *testing.T) {
	w := newWorld(t, nil)
	alice := w.ready(ext(w.ns, "alice", "153"))
	events := fmt.Sprintf("/extension/%d/event/", alice)
	if code := w.pbxCall(http.MethodPost, events, `{"url":"https://crm.example/calls","event_type":"hangup","method":"POST"}`); code != http.StatusCreated {
		t.Fatal(code)
	}
	theirs := w.pbxEvents(alice)[0]["id"]

	s := evsub(w.ns, "crm", "alice", "https://crm.example/calls")
	w.create(s)
	w.g.Eventually(w.cond(s, v1alpha1.ConditionReady)).Should(Equal("False/AlreadyExists"))
	w.waitPolls(2, "the account is checked twice more: the manager polled on after crm found the subscription somebody else's")
	w.g.Expect(w.pbxEvents(alice)).To(HaveLen(1), "a subscription that is somebody else's is left alone, and none is made beside it, until it is adopted")
	w.update(s, func() { s.Annotations = map[string]string{v1alpha1.AnnotationAdopt: "true"} })
	w.waitSynced(s)
	if s.Status.ID != theirs || len(w.pbxEvents(alice)) != 1 {
		t.Errorf("adoption takes the existing subscription %v: status id %d, PBX %v", theirs, s.Status.ID, w.pbxEvents(alice))
	}

	// Two identical subscriptions: the operator does not guess.
	for range 2 {
		if code := w.pbxCall(http.MethodPost, events, `{"url":"https://crm.example/calls","event_type":"answer","method":"POST"}`); code != http.StatusCreated {
			t.Fatal(code)
		}
	}
	twin := evsub(w.ns, "crm-answer", "alice", "https://crm.example/calls", onEvent(v1alpha1.EventTypeAnswer))
	w.create(twin)
	w.g.Eventually(w.cond(twin, v1alpha1.ConditionSynced)).Should(Equal("False/Conflict"))
	if m := message(twin, v1alpha1.ConditionSynced); !strings.Contains(m, "2 subscriptions of the PBX extension") {
		t.Errorf("the Conflict names the duplicates: %q", m)
	}

	// The external-id annotation picks one by id, and the spec is applied to it.
	pick := w.pbxEvents(alice)[1]["id"]
	imported := evsub(w.ns, "crm-dialout", "alice", "https://crm.example/outgoing", onEvent(v1alpha1.EventTypeDialOut),
		func(s *v1alpha1.EventSubscription) {
			s.Annotations = map[string]string{v1alpha1.AnnotationExternalID: fmt.Sprint(pick)}
		})
	w.create(imported)
	w.waitSynced(imported)
	var got map[string]any
	for _, e := range w.pbxEvents(alice) {
		if e["id"] == pick {
			got = e
		}
	}
	if imported.Status.ID != pick || got["url"] != "https://crm.example/outgoing" || got["event_type"] != "dial-out" {
		t.Errorf("import by external-id updates that subscription: status id %d, PBX %v", imported.Status.ID, got)
	}
}

// TestEventSubscriptionIVR: the PBX takes only hangup on IVR (and Queue) extensions. Through an
// Extension the operator says so before calling the PBX; through a raw id the PBX's refusal shows.
func TestEventSubscriptionIVR(t *testing.T) {
	w := newWorld(t, nil)
	menu := w.ready(ext(w.ns, "menu", "154", func(e *v1alpha1.Extension) { e.Spec.Type = v1alpha1.ExtensionTypeIVR }))

	byRef := evsub(w.ns, "menu-answer", "menu", "https://hooks.example/calls", onEvent(v1alpha1.EventTypeAnswer))
	w.create(byRef)
	w.g.Eventually(w.cond(byRef, v1alpha1.ConditionSynced)).Should(Equal("False/InvalidSpec"))
	if m := message(byRef, v1alpha1.ConditionSynced); m != "The Extension menu is of type IVR, which takes only Hangup subscriptions: the PBX refuses Answer there (an ivr-type error)" {
		t.Errorf("the condition explains the refusal: %q", m)
	}
	if posts := w.sim.RequestTotal(http.MethodPost, eventsPath); posts != 0 {
		t.Errorf("nothing known to fail is sent: %d POSTs", posts)
	}

	byID := evsub(w.ns, "menu-dialout", "", "https://hooks.example/calls", onEvent(v1alpha1.EventTypeDialOut), onExtensionID(menu))
	w.create(byID)
	w.g.Eventually(w.cond(byID, v1alpha1.ConditionSynced)).Should(Equal("False/InvalidSpec"))
	if m := message(byID, v1alpha1.ConditionSynced); !strings.HasPrefix(m, "The PBX rejected the spec: ") || !strings.Contains(m, "ivr-type") {
		t.Errorf("the condition carries the PBX's message: %q", m)
	}
	if r := w.cond(byID, v1alpha1.ConditionReady)(); r != "False/Unavailable" {
		t.Errorf("a refused subscription is not Ready: %s", r)
	}

	// Hangup works on an IVR extension.
	w.update(byRef, func() { byRef.Spec.EventType = v1alpha1.EventTypeHangup })
	w.waitSynced(byRef)
	if evs := w.pbxEvents(menu); len(evs) != 1 || evs[0]["event_type"] != "hangup" {
		t.Errorf("a Hangup subscription on the IVR extension: %v", evs)
	}
}

// TestEventSubscriptionLimit: the account reports the client's limit of subscriptions, and a
// subscription beyond it says which limit stopped it.
func TestEventSubscriptionLimit(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	cfg.Clients[0].Limits.Events = 1
	w := newWorld(t, &cfg)
	a := &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "pbx"}}
	used := func() string {
		if err := k.Get(context.Background(), client.ObjectKeyFromObject(a), a); err != nil {
			return err.Error()
		}
		l := a.Status.Limits.EventSubscriptions
		if l.Used == nil {
			return fmt.Sprintf("%d/unknown", l.Limit)
		}
		return fmt.Sprintf("%d/%d", l.Limit, *l.Used)
	}
	w.g.Eventually(used).Should(Equal("1/0"))

	w.ready(ext(w.ns, "alice", "155"))
	first := evsub(w.ns, "first", "alice", "https://hooks.example/calls")
	w.create(first)
	w.waitSynced(first)
	w.g.Eventually(used, 5*pollInterval).Should(Equal("1/1"), "the account's next check counts the subscription")

	second := evsub(w.ns, "second", "alice", "https://hooks.example/calls", onEvent(v1alpha1.EventTypeAnswer))
	w.create(second)
	w.g.Eventually(w.cond(second, v1alpha1.ConditionSynced)).Should(Equal("False/InvalidSpec"))
	if m := message(second, v1alpha1.ConditionSynced); !strings.HasPrefix(m, "The PBX client's limit of 1 event subscriptions is reached") {
		t.Errorf("the condition names the limit: %q", m)
	}
	if r := w.cond(second, v1alpha1.ConditionReady)(); r != "False/Unavailable" {
		t.Errorf("a subscription beyond the limit is not Ready: %s", r)
	}
}

// TestEventSubscriptionExtensionDeleted: deleting an extension deletes its subscriptions in the
// PBX, so a subscription deleted afterwards finds nothing to delete and is released.
func TestEventSubscriptionExtensionDeleted(t *testing.T) {
	w := newWorld(t, nil)
	bob := ext(w.ns, "bob", "156")
	bobID := w.ready(bob)
	s := evsub(w.ns, "bob-hangup", "bob", "https://hooks.example/calls")
	w.create(s)
	w.waitSynced(s)

	w.delete(bob)
	w.gone(bob)
	if evs := w.pbxEvents(bobID); len(evs) != 0 {
		t.Fatalf("the PBX deletes an extension's subscriptions with it: %v", evs)
	}
	w.g.Eventually(w.cond(s, v1alpha1.ConditionSynced)).Should(Equal("False/DependencyNotReady"))
	w.delete(s)
	w.gone(s)
}

// TestForeignSubscriptionAtRecordedID: the PBX loses its data, the Extension is made again, and
// another integration's subscription on it takes the id the EventSubscription records. The
// operator must not point that webhook at its own URL: it subscribes again.
func TestForeignSubscriptionAtRecordedID(t *testing.T) {
	w := newWorld(t, nil)
	alice := ext(w.ns, "alice", "157")
	w.ready(alice)
	s := evsub(w.ns, "alice-hangup", "alice", "https://hooks.example/calls")
	w.create(s)
	w.waitSynced(s)
	old := s.Status.ID
	w.loseData(s)
	w.g.Eventually(func() any { return w.pbxExtension("157")["id"] }, 10*pollInterval).ShouldNot(BeNil(), "alice is made again")
	again := w.pbxExtension("157")["id"].(int64)
	w.takeID(fmt.Sprintf("/extension/%d/event/", again), `{"url":"https://crm.example/calls","event_type":"hangup","method":"POST"}`,
		old, func() any { return w.pbxEvents(again)[0]["id"] })

	w.pause(s, "false")
	w.g.Eventually(func() []map[string]any { return w.pbxEvents(again) }, 10*pollInterval).Should(HaveLen(2), "the resource finds its subscription gone at the next poll")
	w.waitNewID(s, old)
	w.waitSynced(s)
	urls := map[any]any{}
	for _, e := range w.pbxEvents(again) {
		urls[e["id"]] = e["url"]
	}
	if len(urls) != 2 || urls[old] != "https://crm.example/calls" || urls[s.Status.ID] != "https://hooks.example/calls" {
		t.Errorf("the other integration's webhook stays as it was and the resource subscribes again (id %d): %v", s.Status.ID, urls)
	}
	if n := w.sim.RequestTotal(http.MethodPut, eventPath); n != 0 {
		t.Errorf("no subscription was rewritten: %d PUTs", n)
	}
}

// TestEventSubscriptionDeletedWithoutStatus: the resource's status is lost (restored from a backup,
// which keeps metadata only, or a process killed before its status write), its Extension was
// deleted with Orphan so the PBX extension stays, and then the resource is deleted. The webhook must
// go: the extension it lives on is recorded with its id, not only in status.
func TestEventSubscriptionDeletedWithoutStatus(t *testing.T) {
	w := newWorld(t, nil)
	carol := ext(w.ns, "carol", "158", func(e *v1alpha1.Extension) { e.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan })
	carolID := w.ready(carol)
	s := evsub(w.ns, "carol-hangup", "carol", "https://hooks.example/calls")
	w.create(s)
	w.waitSynced(s)
	w.pause(s, "true")
	w.g.Eventually(w.cond(s, v1alpha1.ConditionSynced)).Should(Equal("False/Paused"))
	w.g.Eventually(func() error {
		if err := k.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
			return err
		}
		s.Status = v1alpha1.EventSubscriptionStatus{}
		return k.Status().Update(context.Background(), s)
	}).Should(Succeed())

	w.delete(carol)
	w.gone(carol)
	if evs := w.pbxEvents(carolID); len(evs) != 1 {
		t.Fatalf("Orphan leaves the extension and its subscription: %v", evs)
	}
	w.delete(s)
	w.gone(s)
	if evs := w.pbxEvents(carolID); len(evs) != 0 {
		t.Errorf("deleting the resource deletes its webhook: %v", evs)
	}
}

// TestEventSubscriptionAfterDataLossWaitsForItsExtension: the PBX loses its data and gives the id
// of the subscription's extension to another extension before the Extension finds its own again.
// The subscription, found gone, must not be made on that other extension (its calls would reach
// this URL, and the webhook would be left there): it waits for its Extension.
func TestEventSubscriptionAfterDataLossWaitsForItsExtension(t *testing.T) {
	w := newWorld(t, nil)
	alice := ext(w.ns, "alice", "161")
	old := w.ready(alice)
	s := evsub(w.ns, "alice-hangup", "alice", "https://hooks.example/calls")
	w.create(s)
	w.waitSynced(s)
	w.loseData(alice)
	w.takeID("/client/@me/extension/", `{"name":"199","type":"phone"}`, old, func() any { return w.pbxExtension("199")["id"] })

	w.g.Eventually(w.cond(s, v1alpha1.ConditionSynced), 10*pollInterval).Should(Equal("False/DependencyNotReady"))
	if m := message(s, v1alpha1.ConditionSynced); !strings.Contains(m, "which is 0003*199 now, not 0003*161") {
		t.Errorf("the condition says why it waits: %q", m)
	}
	w.waitPolls(2, "the account is checked twice more: the manager polled on while the subscription waited for its Extension")
	w.g.Expect(w.sim.Snapshot().Events).To(BeEmpty(), "nothing is subscribed on the other extension")

	w.pause(alice, "false")
	w.g.Eventually(func() any { return w.pbxExtension("161")["id"] }, 10*pollInterval).ShouldNot(BeNil())
	w.waitSynced(s)
	again := w.pbxExtension("161")["id"].(int64)
	if evs := w.sim.Snapshot().Events; len(evs) != 1 || evs[0]["extension_id"] != again || s.Status.ExtensionID != again {
		t.Errorf("one subscription, on alice's new extension %d (status %d): %v", again, s.Status.ExtensionID, evs)
	}
}
