package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

// TestPlanAgreesWithTheEngine runs every case of TestPlan through the operator: a pbxsim holds
// the cases' tenant, the cluster holds the case's resources (paused, so that they stay as the case
// has them), kubectl pbx plan plans the manifests, they are applied, and what the operator then
// does to each resource must be what the plan said.
func TestPlanAgreesWithTheEngine(t *testing.T) {
	c := startCluster(t)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	cases := plugin.PlanCases()
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			sim, url := newSim(t)
			tenant := plugin.PlanTenant
			if tc.Tenant != nil {
				tenant = *tc.Tenant
			}
			ids := seed(ctx, t, url, tenant)
			ns := c.accountNamespace(ctx, t, "plan-", url)

			// The cluster as the case has it, paused until the apply so that it stays so.
			a := tc.Args
			cluster := join(objectsOf(a.ClusterGroups), objectsOf(a.ClusterExts), objectsOf(a.ClusterNumbers), objectsOf(a.ClusterHooks))
			desired := join(objectsOf(a.Groups), objectsOf(a.Exts), objectsOf(a.Numbers), objectsOf(a.Hooks))
			recorded := map[string]int64{}
			for _, o := range cluster {
				cp := rebase(o, ns.Name, ids)
				ann := cp.GetAnnotations()
				if ann == nil {
					ann = map[string]string{}
				}
				ann[v1alpha1.AnnotationPaused] = "true"
				cp.SetAnnotations(ann)
				st := cp.GetManagedStatus().DeepCopy()
				if err := c.k.Create(ctx, cp); err != nil {
					t.Fatal(err)
				}
				// The status the operator wrote when it took the object over, once the operator has
				// seen the pause (its status write would replace the conditions).
				g.Eventually(func() string {
					if err := c.k.Get(ctx, client.ObjectKeyFromObject(cp), cp); err != nil {
						return err.Error()
					}
					return reasonOf(cp, v1alpha1.ConditionSynced)
				}).Should(Equal(v1alpha1.ReasonPaused))
				g.Eventually(func() error {
					if err := c.k.Get(ctx, client.ObjectKeyFromObject(cp), cp); err != nil {
						return err
					}
					*cp.GetManagedStatus() = *st
					return c.k.Status().Update(ctx, cp)
				}).Should(Succeed())
				recorded[kindOf(cp)+"/"+cp.GetName()] = managed.KnownID(cp)
			}
			// The manifests lift the pause that froze the cluster, unless they pause themselves.
			for _, o := range desired {
				if ann := o.GetAnnotations(); ann[v1alpha1.AnnotationPaused] == "" {
					if ann == nil {
						ann = map[string]string{}
					}
					ann[v1alpha1.AnnotationPaused] = "false"
					o.SetAnnotations(ann)
				}
			}
			var manifests bytes.Buffer
			for _, o := range desired {
				data, err := yaml.Marshal(rebase(o, ns.Name, ids))
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&manifests, "---\n%s", data)
			}

			pc := plugin.PlanCommand{Kube: c.k, Namespace: ns.Name, Prune: tc.Args.Prune, Paths: []string{"-"}, Stdin: bytes.NewReader(manifests.Bytes())}
			planned, err := pc.Run(ctx)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			var text bytes.Buffer
			_ = planned.WriteText(&text)
			t.Logf("plan:\n%s", text.String())
			// The cluster and the PBX are the case's: the plan is the case's.
			for _, w := range tc.Want {
				i := slices.IndexFunc(planned.Changes, func(c plugin.Change) bool { return c.Kind == w.Kind && c.Name == w.Name })
				if i < 0 || planned.Changes[i].Action != w.Action {
					t.Fatalf("the case's state was not reproduced: %s %s planned %v, the case says %s", w.Kind, w.Name, planned.Changes, w.Action)
				}
			}
			before := sim.Snapshot()

			// The apply: the manifests' spec and annotations over the cluster's resources (which
			// also lifts the pause), and, when pruning, the removal of the others.
			for _, o := range desired {
				g.Eventually(func() error { return applyOne(ctx, c.k, rebase(o, ns.Name, ids)) }).Should(Succeed())
			}
			if tc.Args.Prune {
				for _, o := range cluster {
					if !slices.ContainsFunc(desired, func(d managed.Object) bool { return kindOf(d) == kindOf(o) && d.GetName() == o.GetName() }) {
						cp := rebase(o, ns.Name, ids)
						if err := c.k.Delete(ctx, cp); err != nil && !apierrors.IsNotFound(err) {
							t.Fatal(err)
						}
					}
				}
			}

			for _, ch := range planned.Changes {
				g.Eventually(func() string {
					return engineAction(ctx, c.k, sim, before, ns.Name, ch, recorded[ch.Kind+"/"+ch.Name])
				}, 20*time.Second).Should(Equal(string(ch.Action)), "%s %s: the operator does what the plan said (%s)", ch.Kind, ch.Name, ch.Note)
			}
		})
	}
}

// applyOne applies a manifest as kubectl apply does for these fields: creates it, or sets its spec
// and annotations over the cluster's resource.
func applyOne(ctx context.Context, k client.Client, want managed.Object) error {
	cur := want.DeepCopyObject().(managed.Object)
	switch err := k.Get(ctx, client.ObjectKeyFromObject(want), cur); {
	case apierrors.IsNotFound(err):
		return k.Create(ctx, want)
	case err != nil:
		return err
	}
	ann := cur.GetAnnotations()
	for k, v := range want.GetAnnotations() {
		ann[k] = v
	}
	want.SetAnnotations(ann)
	want.SetResourceVersion(cur.GetResourceVersion())
	want.SetFinalizers(cur.GetFinalizers())
	return k.Update(ctx, want)
}

func objectsOf[T any, P interface {
	*T
	managed.Object
}](items []T) []managed.Object {
	out := make([]managed.Object, 0, len(items))
	for i := range items {
		out = append(out, P(&items[i]))
	}
	return out
}

func join(lists ...[]managed.Object) []managed.Object { return slices.Concat(lists...) }

// seed makes the tenant's groups, extensions and webhooks in the PBX and routes its DIDs (the
// simulator's demo client has the numbers), and returns the PBX ids they took by the tenant's
// ids.
func seed(ctx context.Context, t *testing.T, url string, tn plugin.Tenant) map[int64]int64 {
	t.Helper()
	c, err := pbx.New(url, pbx.WithCredentials(pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret))
	if err != nil {
		t.Fatal(err)
	}
	realm := pbx.MeRealm(pbx.RealmClient)
	ids := map[int64]int64{}
	for _, g := range tn.Groups {
		made, err := c.Groups.Create(ctx, realm, pbx.ExtensionGroupCreate{Name: g.Name})
		if err != nil {
			t.Fatal(err)
		}
		ids[g.ID] = made.ID
	}
	for _, x := range tn.Extensions {
		in := pbx.ExtensionCreate{Name: pbx.ShortName(x.Name), Type: x.Type, Status: x.Status}
		if x.Label != nil {
			in.Label = pbx.Set(*x.Label)
		}
		if x.ExtensionGroupID != nil {
			in.ExtensionGroupID = pbx.Set(ids[*x.ExtensionGroupID])
		}
		made, err := c.Extensions.Create(ctx, realm, in)
		if err != nil {
			t.Fatal(err)
		}
		ids[x.ID] = made.ID
	}
	for _, d := range tn.DIDs {
		found, err := c.DIDs.ListAll(ctx, realm, pbx.DIDFilter{Name: d.Name})
		if err != nil || len(found) != 1 {
			t.Fatalf("the demo client's DID %s: %v %v", d.Name, found, err)
		}
		ids[d.ID] = found[0].ID
		if d.ExtensionID != nil {
			if _, err := c.DIDs.Update(ctx, realm, found[0].ID, pbx.DIDUpdate{ExtensionID: pbx.Set(ids[*d.ExtensionID])}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for ext, events := range tn.Events {
		for _, e := range events {
			made, err := c.Events.Create(ctx, pbx.ExtensionRealm(ids[ext]), pbx.EventCreate{URL: e.URL, EventType: e.EventType, Method: e.Method})
			if err != nil {
				t.Fatal(err)
			}
			ids[e.ID] = made.ID
		}
	}
	return ids
}

// rebase copies a case's resource into namespace ns, with the PBX ids its annotations record
// turned into the ones the tenant's objects took.
func rebase(o managed.Object, ns string, ids map[int64]int64) managed.Object {
	cp := o.DeepCopyObject().(managed.Object)
	cp.GetObjectKind().SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(kindOf(cp)))
	cp.SetNamespace(ns)
	ann := cp.GetAnnotations()
	if v, ok := ann[v1alpha1.AnnotationExternalID]; ok {
		id, _ := strconv.ParseInt(v, 10, 64)
		if to, ok := ids[id]; ok {
			ann[v1alpha1.AnnotationExternalID] = strconv.FormatInt(to, 10)
		}
	}
	if to, ok := ids[cp.GetManagedStatus().ID]; ok {
		cp.GetManagedStatus().ID = to
	}
	if v, ok := ann[v1alpha1.AnnotationExternalKey]; ok {
		var rec map[string]any
		if json.Unmarshal([]byte(v), &rec) == nil {
			if id, ok := rec["id"].(float64); ok {
				if to, ok := ids[int64(id)]; ok {
					rec["id"] = to
				}
			}
			b, _ := json.Marshal(rec)
			ann[v1alpha1.AnnotationExternalKey] = string(b)
		}
	}
	return cp
}

func reasonOf(o managed.Object, typ string) string {
	if c := meta.FindStatusCondition(o.GetManagedStatus().Conditions, typ); c != nil {
		return c.Reason
	}
	return ""
}

func kindOf(o managed.Object) string {
	return reflect.TypeOf(o).Elem().Name()
}

// kinds tell, per kind, a new resource of it and its PBX objects in a simulator's snapshot.
var kinds = map[string]struct {
	object  func() managed.Object
	objects func(pbxsim.Snapshot) []map[string]any
}{
	"ExtensionGroup": {func() managed.Object { return &v1alpha1.ExtensionGroup{} }, func(s pbxsim.Snapshot) []map[string]any { return s.ExtensionGroups }},
	"Extension":      {func() managed.Object { return &v1alpha1.Extension{} }, func(s pbxsim.Snapshot) []map[string]any { return s.Extensions }},
	"PhoneNumber":    {func() managed.Object { return &v1alpha1.PhoneNumber{} }, func(s pbxsim.Snapshot) []map[string]any { return s.DIDs }},
	"EventSubscription": {func() managed.Object { return &v1alpha1.EventSubscription{} },
		func(s pbxsim.Snapshot) []map[string]any { return s.Events }},
}

// engineAction tells what the operator did to the resource of a plan's change, in the plan's
// words, or "pending" while it has not settled. recorded is the PBX id the resource recorded
// before the apply.
func engineAction(ctx context.Context, k client.Client, sim *pbxsim.Server, before pbxsim.Snapshot, ns string, ch plugin.Change, recorded int64) string {
	kind := kinds[ch.Kind]
	obj := kind.object()
	find := func(s pbxsim.Snapshot, id int64) map[string]any {
		for _, o := range kind.objects(s) {
			if o["id"] == id {
				return o
			}
		}
		return nil
	}
	after := sim.Snapshot()
	if err := k.Get(ctx, client.ObjectKey{Namespace: ns, Name: ch.Name}, obj); apierrors.IsNotFound(err) {
		gone := ch.PBXID != 0 && find(before, ch.PBXID) != nil && find(after, ch.PBXID) == nil
		// Deleting a PhoneNumber removes its number's routing: the number stays with the account.
		unrouted := ch.Kind == "PhoneNumber" && !reflect.DeepEqual(find(before, ch.PBXID), find(after, ch.PBXID))
		if gone || unrouted {
			return string(plugin.ActionDelete)
		}
		return string(plugin.ActionRelease)
	} else if err != nil {
		return err.Error()
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return "pending: being deleted"
	}
	synced := meta.FindStatusCondition(obj.GetManagedStatus().Conditions, v1alpha1.ConditionSynced)
	if synced == nil || synced.ObservedGeneration != obj.GetGeneration() {
		return "pending: not reconciled"
	}
	switch synced.Reason {
	case v1alpha1.ReasonConflict, v1alpha1.ReasonInvalidSpec:
		return string(plugin.ActionConflict)
	case v1alpha1.ReasonAlreadyExists:
		return string(plugin.ActionAlreadyExists)
	case v1alpha1.ReasonDrifted:
		return string(plugin.ActionDrifted)
	case v1alpha1.ReasonUnavailable, v1alpha1.ReasonNotFound:
		return string(plugin.ActionMissing)
	case v1alpha1.ReasonDependencyNotReady:
		return string(plugin.ActionWaiting)
	case v1alpha1.ReasonPaused:
		return string(plugin.ActionPaused)
	case v1alpha1.ReasonUpToDate:
	default:
		return "pending: " + synced.Reason
	}
	id := obj.GetManagedStatus().ID
	switch {
	case find(before, id) == nil:
		return string(plugin.ActionCreate)
	case recorded != id:
		return string(plugin.ActionAdopt)
	case !reflect.DeepEqual(find(before, id), find(after, id)):
		return string(plugin.ActionUpdate)
	}
	return string(plugin.ActionNoChange)
}
