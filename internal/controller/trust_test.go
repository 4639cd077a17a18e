package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

const (
	groupsPath     = "/api/ver1.0/client/{realm_id}/extension_group/"
	groupPath      = "/api/ver1.0/client/{realm_id}/extension_group/{id}"
	extensionsPath = "/api/ver1.0/client/{realm_id}/extension/"
	extensionPath  = "/api/ver1.0/client/{realm_id}/extension/{id}"
)

// pbxGroups returns the ids of the simulator's groups with a name.
func (w *world) pbxGroups(name string) []any {
	var out []any
	for _, g := range w.sim.Snapshot().ExtensionGroups {
		if g["name"] == name {
			out = append(out, g["id"])
		}
	}
	return out
}

// TestDataLossNoHijack: the PBX loses its data and its ids start over, so recreated objects get
// the ids that other resources still record. No resource may take over another's object (rename
// it, or call it its own), and every one ends with its own object.
func TestDataLossNoHijack(t *testing.T) {
	w := newWorld(t, nil)
	sales, support := group(w.ns, "sales", "Sales"), group(w.ns, "support", "Support")
	alice, bob := ext(w.ns, "alice", "131", label("Alice")), ext(w.ns, "bob", "132", label("Bob"))
	w.create(sales)
	w.waitSynced(sales)
	w.create(support)
	w.waitSynced(support)
	w.create(alice)
	w.waitSynced(alice)
	w.create(bob)
	w.waitSynced(bob)
	oldSales, oldAlice := sales.Status.ID, alice.Status.ID

	// sales and alice stand still while the others are recreated, so these take the ids that
	// sales and alice still record.
	pause := func(v string) {
		w.pause(sales, v)
		w.pause(alice, v)
	}
	pause("true")
	w.g.Eventually(w.cond(alice, v1alpha1.ConditionSynced)).Should(Equal("False/Paused"))
	w.g.Eventually(w.cond(sales, v1alpha1.ConditionSynced)).Should(Equal("False/Paused"))
	if err := w.sim.Reset(); err != nil {
		t.Fatal(err)
	}
	w.sim.ResetRequests()
	w.g.Eventually(func() []any { return w.pbxGroups("Support") }, 10*pollInterval).Should(Equal([]any{oldSales}),
		"support is recreated and takes the id sales records")
	w.g.Eventually(func() any { return w.pbxExtension("132")["id"] }, 10*pollInterval).Should(Equal(oldAlice),
		"bob is recreated and takes the id alice records")

	pause("false")
	for _, o := range []*v1alpha1.ExtensionGroup{sales, support} {
		w.waitSynced(o)
	}
	for _, o := range []*v1alpha1.Extension{alice, bob} {
		w.waitSynced(o)
	}
	for _, c := range []struct {
		name string
		id   int64
		pbx  []any
	}{
		{"sales", sales.Status.ID, w.pbxGroups("Sales")},
		{"support", support.Status.ID, w.pbxGroups("Support")},
		{"alice", alice.Status.ID, []any{w.pbxExtension("131")["id"]}},
		{"bob", bob.Status.ID, []any{w.pbxExtension("132")["id"]}},
	} {
		if len(c.pbx) != 1 || c.pbx[0] != c.id {
			t.Errorf("%s records id %d; the PBX has its object at %v", c.name, c.id, c.pbx)
		}
	}
	if n := w.sim.RequestTotal(http.MethodPut, groupPath); n != 0 {
		t.Errorf("no group was renamed into another's: %d group PUTs", n)
	}
	if n := len(w.pbxExtensions("")); n != 2 {
		t.Errorf("exactly the two declared extensions exist: %d", n)
	}
}

// loseData pauses o, so that it keeps the id it records, and then makes the PBX lose its data:
// its ids start over, and the next objects made take the ids that resources still record.
func (w *world) loseData(o client.Object) {
	w.t.Helper()
	w.pause(o, "true")
	w.g.Eventually(w.cond(o, v1alpha1.ConditionSynced)).Should(Equal("False/Paused"))
	if err := w.sim.Reset(); err != nil {
		w.t.Fatal(err)
	}
	w.sim.ResetRequests()
}

// waitNewID waits until o records a PBX id other than old: a pass that ran on the last poll's
// list may have reported o in sync with its old id just before, and a pass that forgot the old
// id records none (0) until it has made or found the new object.
func (w *world) waitNewID(o managed.Object, old int64) {
	w.t.Helper()
	w.g.Eventually(func() bool {
		if err := k.Get(context.Background(), client.ObjectKeyFromObject(o), o); err != nil {
			return false
		}
		id := o.GetManagedStatus().ID
		return id != 0 && id != old
	}).Should(BeTrue(), "%s records a new PBX id (it had %d)", o.GetName(), old)
}

// pause sets the paused annotation of o.
func (w *world) pause(o client.Object, v string) {
	w.t.Helper()
	w.update(o, func() {
		a := o.GetAnnotations()
		setAnnotation(&a, v1alpha1.AnnotationPaused, v)
		o.SetAnnotations(a)
	})
}

// takeID makes an object in the PBX behind the operator's back (POST body to path) and checks that
// it took the id want, which a resource records: at reads it back.
func (w *world) takeID(path, body string, want any, at func() any) {
	w.t.Helper()
	if code := w.pbxCall(http.MethodPost, path, body); code != http.StatusCreated {
		w.t.Fatalf("POST %s: %d", path, code)
	}
	if got := at(); got != want {
		w.t.Fatalf("the object made behind the operator's back takes the id %v that a resource records: got %v", want, got)
	}
}

func setAnnotation(m *map[string]string, k, v string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
}

// TestLateCreateAnswerAlreadyExists: the PBX made the extension but its answer was a 500 (sent
// after the commit). A second POST would be answered "already exists"; the resource must adopt
// its own object instead of calling it InvalidSpec and leaking it on delete.
func TestLateCreateAnswerAlreadyExists(t *testing.T) {
	w := newWorld(t, nil)
	w.sim.AddFault(pbxsim.Fault{Method: http.MethodPost, Path: extensionsPath, StatusAfterCommit: http.StatusInternalServerError, Times: 1})
	e := ext(w.ns, "erin", "133")
	w.create(e)
	w.waitSynced(e)
	if n := len(w.pbxExtensions("0003*133")); n != 1 {
		t.Fatalf("want exactly one PBX extension, got %d", n)
	}
	w.fired(pbxsim.FiredStatusAfterCommit(http.StatusInternalServerError), 1)
	w.delete(e)
	w.gone(e)
	if n := len(w.pbxExtensions("0003*133")); n != 0 {
		t.Errorf("deleting the resource deletes its adopted PBX extension: %d left", n)
	}
}

// TestLostGroupCreateNoTwin: group names are not unique, so a group create whose answer was lost
// must be found, not made a second time.
func TestLostGroupCreateNoTwin(t *testing.T) {
	w := newWorld(t, nil)
	w.sim.AddFault(pbxsim.Fault{Method: http.MethodPost, Path: groupsPath, StatusAfterCommit: http.StatusBadGateway, Times: 1})
	g := group(w.ns, "ops", "Ops")
	w.create(g)
	w.waitSynced(g)
	if ids := w.pbxGroups("Ops"); len(ids) != 1 || ids[0] != g.Status.ID {
		t.Errorf("want exactly one PBX group, the resource's (%d): %v", g.Status.ID, ids)
	}
	w.fired(pbxsim.FiredStatusAfterCommit(http.StatusBadGateway), 1)
}

// TestDeletesDoNotRecheckTheAccount: deleting resources costs their own DELETE, not a check of
// their account each.
func TestDeletesDoNotRecheckTheAccount(t *testing.T) {
	w := newWorld(t, nil)
	w.setAccount(func(s *v1alpha1.AccountSpec) { s.PollIntervalSeconds = 3600 }) // no routine checks
	var exts []*v1alpha1.Extension
	for _, n := range []string{"141", "142", "143", "144", "145"} {
		e := ext(w.ns, "d"+n, n)
		w.create(e)
		exts = append(exts, e)
	}
	for _, e := range exts {
		w.waitSynced(e)
	}
	before := w.sim.RequestTotal(http.MethodGet, "/api/ver1.0/user/")
	for _, e := range exts {
		w.delete(e)
	}
	for _, e := range exts {
		w.gone(e)
	}
	time.Sleep(time.Second)
	if extra := w.sim.RequestTotal(http.MethodGet, "/api/ver1.0/user/") - before; extra != 0 {
		t.Errorf("deleting 5 extensions re-checked the account %d times", extra)
	}
}

// TestReconcileRequestLooksAtThePBX: a user who changed something in the PBX and asks for a
// reconcile gets it looked at now, not when the account's snapshot ages out.
func TestReconcileRequestLooksAtThePBX(t *testing.T) {
	w := newWorld(t, nil)
	w.secret("hourly", pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret)
	a := &v1alpha1.Account{
		ObjectMeta: metav1.ObjectMeta{Name: "hourly", Namespace: w.ns},
		Spec: v1alpha1.AccountSpec{
			ConnectionSpec:       v1alpha1.ConnectionSpec{URL: w.srv.URL + "/", PollIntervalSeconds: 3600},
			CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "hourly"},
		},
	}
	w.create(a)
	w.waitReady(a)
	e := ext(w.ns, "rita", "134", label("Rita"), func(e *v1alpha1.Extension) { e.Spec.AccountRef.Name = "hourly" })
	w.create(e)
	w.waitSynced(e)
	if code := w.pbxCall(http.MethodPut, "/client/@me/extension/"+fmt.Sprint(e.Status.ID), `{"label":"Changed in the PBX"}`); code != http.StatusOK {
		t.Fatalf("changing the PBX behind the operator's back: %d", code)
	}
	w.waitPolls(2, "the account pbx is checked twice more: a poll interval of the manager's default went by")
	w.g.Expect(w.pbxExtension("134")["label"]).To(Equal("Changed in the PBX"), "with an hourly poll, nothing looks at the PBX by itself")
	w.update(e, func() { setAnnotation(&e.Annotations, v1alpha1.AnnotationReconcileRequestedAt, "now") })
	w.g.Eventually(func() any { return w.pbxExtension("134")["label"] }, 10*time.Second).Should(Equal("Rita"))
	w.g.Eventually(func() string {
		_ = k.Get(context.Background(), client.ObjectKeyFromObject(e), e)
		return e.Status.LastHandledReconcileAt
	}).Should(Equal("now"))
}

// TestForeignGroupAtRecordedID: the PBX loses its data and another integration's group takes the
// id a resource records. The resource must not rename that group into its own (a hijack that a
// claims check cannot see, as no resource records the newcomer): it makes its own group again.
func TestForeignGroupAtRecordedID(t *testing.T) {
	w := newWorld(t, nil)
	sales := group(w.ns, "sales", "Sales")
	old := w.ready(sales)
	w.loseData(sales)
	w.takeID("/client/@me/extension_group/", `{"name":"Marketing"}`, old, func() any { return w.pbxGroups("Marketing")[0] })

	w.pause(sales, "false")
	w.g.Eventually(func() []any { return w.pbxGroups("Sales") }, 10*pollInterval).Should(HaveLen(1), "sales finds its group gone at the next poll")
	w.waitNewID(sales, old)
	w.waitSynced(sales)
	if ids := w.pbxGroups("Marketing"); len(ids) != 1 || ids[0] != old {
		t.Errorf("the other integration's group keeps its name: Marketing %v", ids)
	}
	if ids := w.pbxGroups("Sales"); len(ids) != 1 || ids[0] != sales.Status.ID || sales.Status.ID == old {
		t.Errorf("sales makes its own group again: status id %d (was %d), PBX Sales %v", sales.Status.ID, old, ids)
	}
	if n := w.sim.RequestTotal(http.MethodPut, groupPath); n != 0 {
		t.Errorf("no group was renamed: %d group PUTs", n)
	}

	// A rename in the spec is still a rename of the resource's own group, also when the PUT's
	// answer is lost after the PBX committed it.
	w.sim.AddFault(pbxsim.Fault{Method: http.MethodPut, Path: groupPath, DropAfterCommit: true, Times: 1})
	id := sales.Status.ID
	w.update(sales, func() { sales.Spec.Name = "Sales EMEA" })
	w.waitSynced(sales)
	if ids := w.pbxGroups("Sales EMEA"); sales.Status.ID != id || len(ids) != 1 || ids[0] != id {
		t.Errorf("the spec's rename renames the group %d: status id %d, PBX %v", id, sales.Status.ID, ids)
	}
	if n := len(w.sim.Snapshot().ExtensionGroups); n != 2 {
		t.Errorf("two groups exist, Marketing and Sales EMEA: %d", n)
	}
	w.fired(pbxsim.FiredDropAfterCommit, 1)
}

// TestExtensionAfterDataLossWaitsForItsGroup: the PBX loses its data and gives the id of an
// extension's group to another integration's group before the ExtensionGroup finds its own again.
// The extension, found gone, must not be made in that other group: it waits for its group.
func TestExtensionAfterDataLossWaitsForItsGroup(t *testing.T) {
	w := newWorld(t, nil)
	sales := group(w.ns, "sales", "Sales")
	old := w.ready(sales)
	alice := ext(w.ns, "alice", "171", func(e *v1alpha1.Extension) { e.Spec.GroupRef = &v1alpha1.GroupReference{Name: "sales"} })
	w.create(alice)
	w.waitSynced(alice)
	w.loseData(sales)
	w.takeID("/client/@me/extension_group/", `{"name":"Marketing"}`, old, func() any { return w.pbxGroups("Marketing")[0] })

	w.g.Eventually(w.cond(alice, v1alpha1.ConditionSynced), 10*pollInterval).Should(Equal("False/DependencyNotReady"))
	if m := message(alice, v1alpha1.ConditionSynced); !strings.Contains(m, "which is Marketing now, not Sales") {
		t.Errorf("the condition says why it waits: %q", m)
	}
	w.waitPolls(2, "the account is checked twice more: the manager polled on while alice waited for its group")
	w.g.Expect(w.pbxExtension("171")).To(BeNil(), "alice is not made in the other group")

	w.pause(sales, "false")
	w.g.Eventually(func() []any { return w.pbxGroups("Sales") }, 10*pollInterval).Should(HaveLen(1))
	w.waitSynced(alice)
	if x, ids := w.pbxExtension("171"), w.pbxGroups("Sales"); x["extension_group_id"] != ids[0] {
		t.Errorf("alice is made in sales' new group %v: %v", ids[0], x)
	}
}

// clusterAccount creates a ClusterAccount of the world's simulator, with its credentials in the
// trusted namespace, and waits for it to be Ready.
func (w *world) clusterAccount() *v1alpha1.ClusterAccount {
	w.t.Helper()
	name := "shared-" + w.ns
	w.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: trustedNamespace, Labels: map[string]string{v1alpha1.LabelCredentials: "true"}},
		StringData: map[string]string{"clientID": pbxsim.DemoTrustedAppID, "clientSecret": pbxsim.DemoAppSecret, "url": w.srv.URL + "/"},
	})
	ca := &v1alpha1.ClusterAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ClusterAccountSpec{
			ConnectionSpec:       v1alpha1.ConnectionSpec{URL: w.srv.URL + "/"},
			CredentialsSecretRef: v1alpha1.SecretReference{Namespace: trustedNamespace, Name: name},
			NamespaceSelector:    &metav1.LabelSelector{}, // every namespace
		},
	}
	w.create(ca)
	w.waitReady(ca)
	return ca
}

// onClusterAccount makes o use the ClusterAccount ca, and returns it.
func onClusterAccount[O managed.Object](ca *v1alpha1.ClusterAccount, o O) O {
	o.GetManagedSpec().AccountRef = v1alpha1.AccountReference{Kind: v1alpha1.AccountKindClusterAccount, Name: ca.Name}
	return o
}

// namespace creates another namespace for a test that spans tenants.
func (w *world) namespace() string {
	w.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "it-"}}
	w.create(ns)
	return ns.Name
}

// TestOlderResourceCannotTakeOverByID: two tenants share a ClusterAccount. An older resource in
// one namespace asks, by the external-id annotation (which its users may write), for the id that
// a younger resource in another namespace records in status (which they may not), and renames
// itself to that object's name. The resource that recorded the id keeps it and its object; the
// other one gets a Conflict that does not name the other tenant's resource.
func TestOlderResourceCannotTakeOverByID(t *testing.T) {
	w := newWorld(t, nil)
	ca := w.clusterAccount()
	shared := func(g *v1alpha1.ExtensionGroup) *v1alpha1.ExtensionGroup { return onClusterAccount(ca, g) }
	attacker := shared(group(w.namespace(), "mine", "Mine"))
	attackerID := w.ready(attacker)
	time.Sleep(time.Second) // creation timestamps have second precision: the attacker is older
	victim := shared(group(w.ns, "sales", "Sales"))
	victim.Spec.ExtraParams = "victim"
	victimID := w.ready(victim)
	if !attacker.CreationTimestamp.Before(&victim.CreationTimestamp) {
		t.Fatalf("the attacker must be older: %v, victim %v", attacker.CreationTimestamp, victim.CreationTimestamp)
	}

	w.update(attacker, func() {
		setAnnotation(&attacker.Annotations, v1alpha1.AnnotationExternalID, fmt.Sprint(victimID))
		attacker.Spec.Name = "Sales"
		attacker.Spec.ExtraParams = "taken"
	})
	w.g.Eventually(w.cond(attacker, v1alpha1.ConditionSynced)).Should(Equal("False/Conflict"))
	if m := message(attacker, v1alpha1.ConditionSynced); strings.Contains(m, w.ns) || strings.Contains(m, victim.Name) {
		t.Errorf("the Conflict does not name the other namespace's resource: %q", m)
	}
	w.g.Expect(w.cond(victim, v1alpha1.ConditionReady)()).To(Equal("True/Available"), "the victim has its object once the attacker is in Conflict")
	before := transitions(victim)
	w.waitPolls(6, "the world's Account and the shared ClusterAccount are checked six more times, one of them three times: two poll intervals went by with the manager reconciling")
	w.g.Expect(w.cond(victim, v1alpha1.ConditionSynced)()+" "+w.cond(victim, v1alpha1.ConditionReady)()).To(Equal("True/UpToDate True/Available"),
		"the victim keeps its object")
	w.g.Expect(transitions(victim)).To(Equal(before), "the victim's conditions never changed meanwhile: it did not lose its object for a while either")
	if victim.Status.ID != victimID {
		t.Errorf("the victim keeps its id %d: %d", victimID, victim.Status.ID)
	}
	for _, g := range w.sim.Snapshot().ExtensionGroups {
		switch g["id"] {
		case victimID:
			if g["name"] != "Sales" || g["extra_params"] != "victim" {
				t.Errorf("the victim's group is untouched: %v", g)
			}
		case attackerID:
			if g["name"] != "Mine" {
				t.Errorf("the attacker's own group is untouched: %v", g)
			}
		}
	}
}

// TestRawIDsStayInTheirNamespace: two tenants share a ClusterAccount. A raw id may name a PBX
// object no resource manages, but not one that a resource of another namespace manages: a
// webhook on the other tenant's extension, or an extension in its group, is refused and never
// made.
func TestRawIDsStayInTheirNamespace(t *testing.T) {
	w := newWorld(t, nil)
	ca := w.clusterAccount()
	onShared := func(o managed.Object) { onClusterAccount(ca, o) }
	victimNS := w.namespace()
	victim := ext(victimNS, "victim", "191", func(e *v1alpha1.Extension) { onShared(e) })
	victimID := w.ready(victim)
	victimGroup := group(victimNS, "victims", "Victims")
	onShared(victimGroup)
	victimGroupID := w.ready(victimGroup)

	events := w.sim.RequestTotal(http.MethodPost, eventsPath)
	spy := evsub(w.ns, "spy", "", "https://spy.example/calls", onExtensionID(victimID), func(s *v1alpha1.EventSubscription) { onShared(s) })
	w.create(spy)
	w.g.Eventually(w.cond(spy, v1alpha1.ConditionStalled)).Should(Equal("True/InvalidSpec"))
	want := fmt.Sprintf("extensionID %d names a PBX object that a resource in another namespace manages", victimID)
	if m := message(spy, v1alpha1.ConditionSynced); !strings.HasPrefix(m, want) || strings.Contains(m, victimNS) {
		t.Errorf("the condition says why, without naming the other namespace:\nwant %q...\ngot  %q", want, m)
	}
	intruder := ext(w.ns, "intruder", "192", func(e *v1alpha1.Extension) {
		onShared(e)
		e.Spec.GroupID = victimGroupID
	})
	w.create(intruder)
	w.g.Eventually(w.cond(intruder, v1alpha1.ConditionStalled)).Should(Equal("True/InvalidSpec"))
	if m := message(intruder, v1alpha1.ConditionSynced); !strings.HasPrefix(m, fmt.Sprintf("groupID %d names a PBX object that a resource in another namespace manages", victimGroupID)) {
		t.Errorf("the condition says why: %q", m)
	}
	if n := w.sim.RequestTotal(http.MethodPost, eventsPath) - events; n != 0 || w.pbxExtension("192") != nil || len(w.pbxEvents(victimID)) != 0 {
		t.Errorf("refused raw ids reached the PBX: %d subscriptions made, extension 192 %v", n, w.pbxExtension("192"))
	}

	// The id of an object of the tenant's own namespace may be named.
	own := ext(w.ns, "own", "193", func(e *v1alpha1.Extension) { onShared(e) })
	ownID := w.ready(own)
	hook := evsub(w.ns, "hook", "", "https://own.example/calls", onExtensionID(ownID), func(s *v1alpha1.EventSubscription) { onShared(s) })
	w.create(hook)
	w.waitSynced(hook)
}

// TestMarksDoNotDeleteAnotherTenantsObject: the marks that make a PBX object a resource's own are
// annotations its users may write (and the finalizer too). Two tenants share a ClusterAccount; one
// makes resources that carry the other's group name with an old create-pending mark, or its id in
// external-id, and deletes them. The other tenant's group stays.
func TestMarksDoNotDeleteAnotherTenantsObject(t *testing.T) {
	w := newWorld(t, nil)
	ca := w.clusterAccount()
	shared := func(g *v1alpha1.ExtensionGroup) *v1alpha1.ExtensionGroup { return onClusterAccount(ca, g) }
	victim := shared(group(w.namespace(), "sales", "Sales"))
	victimID := w.ready(victim)

	byMark := shared(group(w.ns, "by-mark", "Sales"))
	byMark.Annotations = map[string]string{v1alpha1.AnnotationCreatePending: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)}
	byMark.Finalizers = []string{v1alpha1.Finalizer}
	byID := shared(group(w.ns, "by-id", "Sales"))
	byID.Annotations = map[string]string{v1alpha1.AnnotationExternalID: fmt.Sprint(victimID)}
	byID.Finalizers = []string{v1alpha1.Finalizer}
	for _, g := range []*v1alpha1.ExtensionGroup{byMark, byID} {
		w.create(g)
		w.g.Eventually(w.cond(g, v1alpha1.ConditionSynced)).Should(Equal("False/Conflict"), g.Name)
		w.delete(g)
		w.gone(g)
	}
	if ids := w.pbxGroups("Sales"); len(ids) != 1 || ids[0] != victimID {
		t.Errorf("the other tenant's group %d stays: Sales %v", victimID, ids)
	}
	if n := w.sim.RequestTotal(http.MethodDelete, groupPath); n != 0 {
		t.Errorf("no group was deleted: %d DELETEs", n)
	}
	w.waitSynced(victim)
}
