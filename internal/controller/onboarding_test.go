package controller_test

import (
	"fmt"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// TestDuplicateGroupNamesImport: the PBX allows two groups with one name, and an export writes one
// ExtensionGroup per group, each bound to its own by the external-id annotation. A natural key
// only finds an object: the two bound resources are two groups, both Ready, with their members in
// them; a third resource with that name and no id would find one of them by the name, and is a
// Conflict that makes nothing.
func TestDuplicateGroupNamesImport(t *testing.T) {
	w := newWorld(t, nil)
	for range 2 {
		if code := w.pbxCall(http.MethodPost, "/client/@me/extension_group/", `{"name":"Sales"}`); code != http.StatusCreated {
			t.Fatalf("making a PBX group: %d", code)
		}
	}
	ids := w.pbxGroups("Sales")
	if len(ids) != 2 {
		t.Fatalf("two PBX groups named Sales: %v", ids)
	}
	bound := func(name string, id any) *v1alpha1.ExtensionGroup {
		g := group(w.ns, name, "Sales")
		g.Annotations = map[string]string{v1alpha1.AnnotationExternalID: fmt.Sprint(id)}
		return g
	}
	east, west := bound("sales-east", ids[0]), bound("sales-west", ids[1])
	w.create(east)
	w.create(west)
	inGroup := func(name, number string) *v1alpha1.Extension {
		return ext(w.ns, name, number, func(e *v1alpha1.Extension) { e.Spec.GroupRef = &v1alpha1.GroupReference{Name: name} })
	}
	alice, bob := inGroup("sales-east", "181"), inGroup("sales-west", "182")
	w.create(alice)
	w.create(bob)
	for _, o := range []*v1alpha1.ExtensionGroup{east, west} {
		w.waitSynced(o)
		if r := w.cond(o, v1alpha1.ConditionReady)(); r != "True/Available" {
			t.Errorf("%s is Ready: %s", o.Name, r)
		}
	}
	if east.Status.ID != ids[0] || west.Status.ID != ids[1] {
		t.Errorf("each resource keeps the group it was bound to: east %d west %d, PBX %v", east.Status.ID, west.Status.ID, ids)
	}
	w.waitSynced(alice)
	w.waitSynced(bob)
	if a, b := w.pbxExtension("181")["extension_group_id"], w.pbxExtension("182")["extension_group_id"]; a != ids[0] || b != ids[1] {
		t.Errorf("each member is in its own group: 181 in %v, 182 in %v, groups %v", a, b, ids)
	}

	unbound := group(w.ns, "sales-new", "Sales")
	w.create(unbound)
	w.g.Eventually(w.cond(unbound, v1alpha1.ConditionSynced)).Should(Equal("False/Conflict"))
	if m := message(unbound, v1alpha1.ConditionSynced); m != w.ns+"/sales-east already manages the PBX object with this natural key in this account" {
		t.Errorf("the Conflict names the bound resource that holds the name: %q", m)
	}
	if got := w.pbxGroups("Sales"); len(got) != 2 {
		t.Errorf("the unbound resource makes no third group: %v", got)
	}
}
