package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

var pbxAccount = v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "pbx"}

// planExt builds an Extension in namespace "a" with number, label, and options.
func planExt(name, number, label string, opts ...func(*v1alpha1.Extension)) v1alpha1.Extension {
	x := v1alpha1.Extension{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name}}
	x.Spec = v1alpha1.ExtensionSpec{Name: number, Type: v1alpha1.ExtensionTypePhone, State: v1alpha1.ExtensionStateActive, Label: label}
	x.Spec.AccountRef = pbxAccount
	for _, o := range opts {
		o(&x)
	}
	return x
}

func planGroup(name, pbxName string, opts ...func(*v1alpha1.ExtensionGroup)) v1alpha1.ExtensionGroup {
	g := v1alpha1.ExtensionGroup{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name}}
	g.Spec.Name = pbxName
	g.Spec.AccountRef = pbxAccount
	for _, o := range opts {
		o(&g)
	}
	return g
}

func annotate(k, v string) func(metav1.Object) {
	return func(o metav1.Object) {
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[k] = v
		o.SetAnnotations(a)
	}
}

func extID(id int64) func(*v1alpha1.Extension) {
	return func(x *v1alpha1.Extension) { annotate(v1alpha1.AnnotationExternalID, strconv.FormatInt(id, 10))(x) }
}

func extAdopt(x *v1alpha1.Extension) { annotate(v1alpha1.AnnotationAdopt, "true")(x) }

func extObserve(x *v1alpha1.Extension) {
	x.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly
}

func extOrphan(x *v1alpha1.Extension) { x.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan }

func inGroup(name string) func(*v1alpha1.Extension) {
	return func(x *v1alpha1.Extension) { x.Spec.GroupRef = &v1alpha1.GroupReference{Name: name} }
}

func groupID(id int64) func(*v1alpha1.ExtensionGroup) {
	return func(g *v1alpha1.ExtensionGroup) {
		annotate(v1alpha1.AnnotationExternalID, strconv.FormatInt(id, 10))(g)
	}
}

// madeGroup is a group as the operator leaves one whose PBX object (id) it made under its
// create-pending mark: the mark with the create's record of the name, and the id in status alone.
func madeGroup(id int64, name string) func(*v1alpha1.ExtensionGroup) {
	return func(g *v1alpha1.ExtensionGroup) {
		annotate(v1alpha1.AnnotationCreatePending, "2026-11-26T10:00:00Z")(g)
		b, _ := json.Marshal(map[string]any{"id": 0, "keys": []string{name}})
		annotate(v1alpha1.AnnotationExternalKey, string(b))(g)
		g.Status.ID = id
	}
}

// groupKeys records the names a group's PBX object may carry, as the operator does.
func groupKeys(id int64, names ...string) func(*v1alpha1.ExtensionGroup) {
	return func(g *v1alpha1.ExtensionGroup) {
		b, _ := json.Marshal(map[string]any{"id": id, "keys": names})
		annotate(v1alpha1.AnnotationExternalKey, string(b))(g)
	}
}

// pbxExt is a PBX extension of the tenant with prefix 0003.
func pbxExt(id int64, number, label string, group int64) pbx.Extension {
	x := pbx.Extension{ID: id, Name: "0003*" + number, Type: pbx.ExtensionTypePhone, Status: pbx.StatusActive}
	if label != "" {
		x.Label = &label
	}
	if group != 0 {
		x.ExtensionGroupID = &group
	}
	return x
}

// PlanTenant is the PBX of the plan cases: groups 1 to 3 (two named Twin), extensions 10 to 13.
var PlanTenant = Tenant{
	Groups: []pbx.ExtensionGroup{{ID: 1, Name: "Sales"}, {ID: 2, Name: "Twin"}, {ID: 3, Name: "Twin"}},
	Extensions: []pbx.Extension{
		pbxExt(10, "101", "Alice", 1),
		pbxExt(11, "102", "Bob", 0),
		pbxExt(12, "103", "Carol", 0),
		{ID: 13, Name: "0003*300", Type: pbx.ExtensionTypeQueue, Status: pbx.StatusActive},
	},
}

// PlanLineTenant is the PBX of the plan cases of numbers and webhooks: extensions 10 to 12, DIDs
// 50 (routed to 10), 51 (routed to 12) and 52 (free), and a webhook 70 of extension 10 with a
// token in its URL.
var PlanLineTenant = Tenant{
	Extensions: []pbx.Extension{pbxExt(10, "101", "Alice", 0), pbxExt(11, "102", "Bob", 0), pbxExt(12, "103", "Carol", 0)},
	DIDs: []pbx.DID{
		{ID: 50, Name: "74950000001", ExtensionID: new(int64(10))},
		{ID: 51, Name: "74950000002", ExtensionID: new(int64(12))},
		{ID: 52, Name: "74950000003"},
	},
	Events: map[int64][]pbx.Event{10: {{ID: 70, URL: "https://crm.example/calls?token=s3cret", EventType: pbx.EventHangup, Method: "POST"}}},
}

// PlanArgs are a plan case's manifests and cluster resources, in namespace "a", of the Account
// "pbx".
type PlanArgs struct {
	Groups        []v1alpha1.ExtensionGroup
	Exts          []v1alpha1.Extension
	Numbers       []v1alpha1.PhoneNumber
	Hooks         []v1alpha1.EventSubscription
	ClusterGroups []v1alpha1.ExtensionGroup
	ClusterExts   []v1alpha1.Extension
	// ClusterNumbers and ClusterHooks are the cluster's PhoneNumbers and EventSubscriptions.
	ClusterNumbers []v1alpha1.PhoneNumber
	ClusterHooks   []v1alpha1.EventSubscription
	Prune          bool
}

// PlanCase is one case of TestPlan; TestPlanAgreesWithTheEngine runs the same cases through the
// operator.
type PlanCase struct {
	Reason string
	// Tenant is the PBX: PlanTenant when nil.
	Tenant      *Tenant
	Args        PlanArgs
	Want        []Change
	WantChanges bool
}

type args = PlanArgs

func TestPlan(t *testing.T) {
	acct := AccountKey{Kind: v1alpha1.AccountKindAccount, Namespace: "a", Name: "pbx"}
	for name, tc := range PlanCases() {
		t.Run(name, func(t *testing.T) {
			tenant := PlanTenant
			if tc.Tenant != nil {
				tenant = *tc.Tenant
			}
			got := Plan(PlanInput{
				Groups: tc.Args.Groups, Extensions: tc.Args.Exts, PhoneNumbers: tc.Args.Numbers, EventSubscriptions: tc.Args.Hooks,
				ClusterGroups: tc.Args.ClusterGroups, ClusterExtensions: tc.Args.ClusterExts,
				ClusterPhoneNumbers: tc.Args.ClusterNumbers, ClusterEventSubscriptions: tc.Args.ClusterHooks,
				Tenants: map[AccountKey]Tenant{acct: tenant}, Prune: tc.Args.Prune,
			})
			if diff := cmp.Diff(tc.Want, got.Changes); diff != "" {
				t.Errorf("%s\nPlan(): -want, +got:\n%s", tc.Reason, diff)
			}
			if got.HasChanges() != tc.WantChanges {
				t.Errorf("%s\nHasChanges() = %v, want %v", tc.Reason, got.HasChanges(), tc.WantChanges)
			}
			var buf bytes.Buffer
			if err := got.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(buf.Bytes(), []byte("Plan: ")) {
				t.Errorf("%s\nWriteText() has no summary:\n%s", tc.Reason, buf.String())
			}
			if bytes.Contains(buf.Bytes(), []byte("s3cret")) || bytes.Contains(buf.Bytes(), []byte("t0ken")) {
				t.Errorf("%s\nthe plan shows a webhook's token:\n%s", tc.Reason, buf.String())
			}
		})
	}
}

// PlanCases are the cases of TestPlan. Their cluster resources are as the operator leaves the
// resources it took over (Taken).
func PlanCases() map[string]PlanCase {
	cases := planCases()
	for _, tc := range cases {
		for i := range tc.Args.ClusterGroups {
			Taken(&tc.Args.ClusterGroups[i])
		}
		for i := range tc.Args.ClusterExts {
			Taken(&tc.Args.ClusterExts[i])
		}
		for i := range tc.Args.ClusterNumbers {
			Taken(&tc.Args.ClusterNumbers[i])
		}
		for i := range tc.Args.ClusterHooks {
			Taken(&tc.Args.ClusterHooks[i])
		}
	}
	return cases
}

// Taken makes a resource as the operator leaves one whose PBX object it took over: with the
// finalizer and, when it records an id, that id in status and Ready.
func Taken(o managed.Object) {
	controllerutil.AddFinalizer(o, v1alpha1.Finalizer)
	if id := managed.KnownID(o); id != 0 {
		st := o.GetManagedStatus()
		st.ID = id
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable, Message: "The PBX object exists"})
	}
}

func planCases() map[string]PlanCase {
	return map[string]PlanCase{
		"RoutedAsExported": {
			Reason: "a number routed as the spec says is bound by its digits, nothing written",
			Tenant: &PlanLineTenant,
			Args: args{
				Numbers:        []v1alpha1.PhoneNumber{planNumber("n-1", "74950000001", ringing("ext-101"))},
				ClusterExts:    lineExts(),
				ClusterNumbers: []v1alpha1.PhoneNumber{planNumber("n-1", "74950000001", ringing("ext-101"), recorded[*v1alpha1.PhoneNumber](50))},
			},
			Want: []Change{{Action: ActionNoChange, Kind: "PhoneNumber", Namespace: "a", Name: "n-1", PBXID: 50}},
		},
		"ReRouted": {
			Reason: "a number the manifests send to another extension is re-routed: a change",
			Tenant: &PlanLineTenant,
			Args: args{
				Numbers:        []v1alpha1.PhoneNumber{planNumber("n-1", "74950000001", ringing("ext-102"))},
				ClusterExts:    lineExts(),
				ClusterNumbers: []v1alpha1.PhoneNumber{planNumber("n-1", "74950000001", ringing("ext-101"), recorded[*v1alpha1.PhoneNumber](50))},
			},
			Want: []Change{{Action: ActionUpdate, Kind: "PhoneNumber", Namespace: "a", Name: "n-1", PBXID: 50,
				Fields: []FieldChange{{Field: "extension", From: "10", To: "11"}}}},
			WantChanges: true,
		},
		"NumberInUse": {
			Reason: "a number that rings elsewhere is somebody's until adopted",
			Tenant: &PlanLineTenant,
			Args: args{
				Numbers:     []v1alpha1.PhoneNumber{planNumber("n-2", "74950000002", ringing("ext-101"))},
				ClusterExts: lineExts(),
			},
			Want: []Change{{Action: ActionAlreadyExists, Kind: "PhoneNumber", Namespace: "a", Name: "n-2", PBXID: 51,
				Note: `The PBX object 51 has this natural key and is not managed by this resource: set the pbx.cloudpbx.dev/adopt: "true" annotation to adopt it`}},
			WantChanges: true,
		},
		"FreeNumberRouted": {
			Reason: "a free number is the resource's by its digits and is routed",
			Tenant: &PlanLineTenant,
			Args: args{
				Numbers:     []v1alpha1.PhoneNumber{planNumber("n-3", "74950000003", ringing("ext-103"))},
				ClusterExts: lineExts(),
			},
			Want: []Change{{Action: ActionAdopt, Kind: "PhoneNumber", Namespace: "a", Name: "n-3", PBXID: 52, Note: "Then updated",
				Fields: []FieldChange{{Field: "extension", To: "12"}}}},
			WantChanges: true,
		},
		"NumberNotInAccount": {
			Reason: "the operator cannot create a number: one the account lacks stalls",
			Tenant: &PlanLineTenant,
			Args: args{
				Numbers:     []v1alpha1.PhoneNumber{planNumber("n-9", "74959999999", ringing("ext-101"))},
				ClusterExts: lineExts(),
			},
			Want: []Change{{Action: ActionMissing, Kind: "PhoneNumber", Namespace: "a", Name: "n-9",
				Note: "The number 74959999999 is not in the PBX account: numbers are allocated by the provider, so the operator cannot create one"}},
			WantChanges: true,
		},
		"WebhookCreated": {
			Reason: "a webhook the extension lacks is created; its token is not shown",
			Tenant: &PlanLineTenant,
			Args: args{
				Hooks:       []v1alpha1.EventSubscription{planHook("crm-bob", "ext-102", "https://crm.example/calls?token=t0ken")},
				ClusterExts: lineExts(),
			},
			Want: []Change{{Action: ActionCreate, Kind: "EventSubscription", Namespace: "a", Name: "crm-bob", Fields: []FieldChange{
				{Field: "extension", To: "11"}, {Field: "eventType", To: "Hangup"}, {Field: "method", To: "POST"}, {Field: "url", To: "https://crm.example/calls?REDACTED"},
			}}},
			WantChanges: true,
		},
		"WebhookMethodChanged": {
			Reason: "a webhook whose method the manifests change is updated in place",
			Tenant: &PlanLineTenant,
			Args: args{
				Hooks: []v1alpha1.EventSubscription{planHook("crm-alice", "ext-101", "https://crm.example/calls?token=s3cret",
					func(s *v1alpha1.EventSubscription) { s.Spec.Method = v1alpha1.EventMethodGET })},
				ClusterExts:  lineExts(),
				ClusterHooks: []v1alpha1.EventSubscription{planHook("crm-alice", "ext-101", "https://crm.example/calls?token=s3cret", recorded[*v1alpha1.EventSubscription](70))},
			},
			Want: []Change{{Action: ActionUpdate, Kind: "EventSubscription", Namespace: "a", Name: "crm-alice", PBXID: 70,
				Fields: []FieldChange{{Field: "method", From: "POST", To: "GET"}}}},
			WantChanges: true,
		},
		"WebhookRemoved": {
			Reason: "a webhook the manifests no longer hold is deleted by a pruning apply",
			Tenant: &PlanLineTenant,
			Args: args{
				Exts:           lineExts(),
				Numbers:        []v1alpha1.PhoneNumber{planNumber("n-1", "74950000001", ringing("ext-101"))},
				ClusterExts:    lineExts(),
				ClusterNumbers: []v1alpha1.PhoneNumber{planNumber("n-1", "74950000001", ringing("ext-101"), recorded[*v1alpha1.PhoneNumber](50))},
				ClusterHooks:   []v1alpha1.EventSubscription{planHook("crm-alice", "ext-101", "https://crm.example/calls?token=s3cret", recorded[*v1alpha1.EventSubscription](70))},
				Prune:          true,
			},
			Want: []Change{
				{Action: ActionNoChange, Kind: "Extension", Namespace: "a", Name: "ext-101", PBXID: 10},
				{Action: ActionNoChange, Kind: "Extension", Namespace: "a", Name: "ext-102", PBXID: 11},
				{Action: ActionNoChange, Kind: "Extension", Namespace: "a", Name: "ext-103", PBXID: 12},
				{Action: ActionNoChange, Kind: "PhoneNumber", Namespace: "a", Name: "n-1", PBXID: 50},
				{Action: ActionDelete, Kind: "EventSubscription", Namespace: "a", Name: "crm-alice", PBXID: 70},
			},
			WantChanges: true,
		},
		"Create": {
			Reason: "a number the PBX does not have is created with the fields set",
			Args:   args{Exts: []v1alpha1.Extension{planExt("ext-104", "104", "Dave")}},
			Want: []Change{{Action: ActionCreate, Kind: "Extension", Namespace: "a", Name: "ext-104", Fields: []FieldChange{
				{Field: "name", To: "104"}, {Field: "type", To: "Phone"}, {Field: "state", From: "Blocked", To: "Active"}, {Field: "label", To: "Dave"},
			}}},
			WantChanges: true,
		},
		"CreateInNewGroup": {
			Reason: "a group the plan creates is created, and its member waits for its id",
			Args:   args{Groups: []v1alpha1.ExtensionGroup{planGroup("support", "Support")}, Exts: []v1alpha1.Extension{planExt("ext-105", "105", "", inGroup("support"))}},
			Want: []Change{
				{Action: ActionCreate, Kind: "ExtensionGroup", Namespace: "a", Name: "support", Fields: []FieldChange{{Field: "name", To: "Support"}}},
				{Action: ActionCreate, Kind: "Extension", Namespace: "a", Name: "ext-105", Fields: []FieldChange{
					{Field: "name", To: "105"}, {Field: "type", To: "Phone"}, {Field: "state", From: "Blocked", To: "Active"}, {Field: "group", To: "(new group support)"},
				}},
			},
			WantChanges: true,
		},
		"UpdateWithDiff": {
			Reason: "a resource that holds its object and differs is updated, field by field",
			Args: args{
				Exts:        []v1alpha1.Extension{planExt("ext-101", "101", "Alice Smith")},
				ClusterExts: []v1alpha1.Extension{planExt("ext-101", "101", "Alice", extID(10))},
			},
			Want: []Change{{Action: ActionUpdate, Kind: "Extension", Namespace: "a", Name: "ext-101", PBXID: 10, Fields: []FieldChange{
				{Field: "label", From: "Alice", To: "Alice Smith"}, {Field: "group", From: "1", To: ""},
			}}},
			WantChanges: true,
		},
		"NoChange": {
			Reason: "a resource that holds its object and matches changes nothing: exit code 0",
			Args: args{
				Groups:        []v1alpha1.ExtensionGroup{planGroup("sales", "Sales")},
				Exts:          []v1alpha1.Extension{planExt("ext-101", "101", "Alice", inGroup("sales"))},
				ClusterGroups: []v1alpha1.ExtensionGroup{planGroup("sales", "Sales", groupID(1))},
				ClusterExts:   []v1alpha1.Extension{planExt("ext-101", "101", "Alice", extID(10), inGroup("sales"))},
			},
			Want: []Change{
				{Action: ActionNoChange, Kind: "ExtensionGroup", Namespace: "a", Name: "sales", PBXID: 1},
				{Action: ActionNoChange, Kind: "Extension", Namespace: "a", Name: "ext-101", PBXID: 10},
			},
		},
		"RenameInSpec": {
			Reason: "a group renamed in the spec is renamed in the PBX: its recorded name is the one it has",
			Args: args{
				Groups:        []v1alpha1.ExtensionGroup{planGroup("sales", "Sales EMEA")},
				ClusterGroups: []v1alpha1.ExtensionGroup{planGroup("sales", "Sales", groupID(1), groupKeys(1, "Sales"))},
			},
			Want: []Change{{Action: ActionUpdate, Kind: "ExtensionGroup", Namespace: "a", Name: "sales", PBXID: 1,
				Fields: []FieldChange{{Field: "name", From: "Sales", To: "Sales EMEA"}}}},
			WantChanges: true,
		},
		"ForeignNameAtRecordedID": {
			Reason: "a group at the recorded id with a name the resource never gave it is left alone, and the resource's group is made again",
			Args: args{
				Groups:        []v1alpha1.ExtensionGroup{planGroup("ops", "Ops")},
				ClusterGroups: []v1alpha1.ExtensionGroup{planGroup("ops", "Ops", groupID(1), groupKeys(1, "Ops"))},
			},
			Want: []Change{{Action: ActionCreate, Kind: "ExtensionGroup", Namespace: "a", Name: "ops",
				Note:   `The PBX group 1 is named "Sales", a name this resource never gave it: it is left alone`,
				Fields: []FieldChange{{Field: "name", To: "Ops"}}}},
			WantChanges: true,
		},
		"AdoptByAnnotation": {
			Reason: "the adopt annotation takes over a natural-key match, then updates it",
			Args:   args{Exts: []v1alpha1.Extension{planExt("ext-102", "102", "Robert", extAdopt)}},
			Want: []Change{{Action: ActionAdopt, Kind: "Extension", Namespace: "a", Name: "ext-102", PBXID: 11, Note: "Then updated",
				Fields: []FieldChange{{Field: "label", From: "Bob", To: "Robert"}}}},
			WantChanges: true,
		},
		"AdoptByExternalID": {
			Reason:      "an exported manifest (external-id, ObserveOnly) is adopted with nothing to write",
			Args:        args{Exts: []v1alpha1.Extension{planExt("ext-103", "103", "Carol", extID(12), extObserve)}},
			Want:        []Change{{Action: ActionAdopt, Kind: "Extension", Namespace: "a", Name: "ext-103", PBXID: 12}},
			WantChanges: true,
		},
		"AlreadyExists": {
			Reason: "a natural-key match without an opt-in is somebody else's object",
			Args:   args{Exts: []v1alpha1.Extension{planExt("ext-102", "102", "Bob")}},
			Want: []Change{{Action: ActionAlreadyExists, Kind: "Extension", Namespace: "a", Name: "ext-102", PBXID: 11,
				Note: `The PBX object 11 has this natural key and is not managed by this resource: set the pbx.cloudpbx.dev/adopt: "true" annotation to adopt it`}},
			WantChanges: true,
		},
		"ConflictWithClusterResource": {
			Reason: "an object another resource of the account holds is a conflict",
			Args: args{
				Exts:        []v1alpha1.Extension{planExt("second", "101", "Alice", extAdopt)},
				ClusterExts: []v1alpha1.Extension{planExt("first", "101", "Alice", extID(10))},
			},
			Want:        []Change{{Action: ActionConflict, Kind: "Extension", Namespace: "a", Name: "second", Note: "a/first already manages the PBX object with this natural key in this account"}},
			WantChanges: true,
		},
		"ConflictWithinManifests": {
			Reason: "two manifests that claim one number: the second is a conflict",
			Args: args{Exts: []v1alpha1.Extension{
				planExt("a-one", "103", "Carol", extAdopt),
				planExt("b-two", "103", "Carol", extAdopt),
			}},
			Want: []Change{
				{Action: ActionAdopt, Kind: "Extension", Namespace: "a", Name: "a-one", PBXID: 12},
				{Action: ActionConflict, Kind: "Extension", Namespace: "a", Name: "b-two", Note: "a/a-one already manages the PBX object with this natural key in this account"},
			},
			WantChanges: true,
		},
		"ConflictAmbiguousGroup": {
			Reason: "a group name several PBX groups share is a conflict, never a guess",
			Args:   args{Groups: []v1alpha1.ExtensionGroup{planGroup("twin", "Twin")}},
			Want: []Change{{Action: ActionConflict, Kind: "ExtensionGroup", Namespace: "a", Name: "twin",
				Note: `2 groups named "Twin" exist in the PBX (ids [2 3]): set the pbx.cloudpbx.dev/external-id annotation to the id of the one to manage`}},
			WantChanges: true,
		},
		"DuplicateGroupNamesBound": {
			Reason: "two groups with one name, each bound to its own by the external-id annotation (an export), are two resources, not a Conflict",
			Args: args{Groups: []v1alpha1.ExtensionGroup{
				planGroup("twin-2", "Twin", groupID(2), func(g *v1alpha1.ExtensionGroup) { g.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly }),
				planGroup("twin-3", "Twin", groupID(3), func(g *v1alpha1.ExtensionGroup) { g.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly }),
			}},
			Want: []Change{
				{Action: ActionAdopt, Kind: "ExtensionGroup", Namespace: "a", Name: "twin-2", PBXID: 2},
				{Action: ActionAdopt, Kind: "ExtensionGroup", Namespace: "a", Name: "twin-3", PBXID: 3},
			},
			WantChanges: true,
		},
		"UnboundNameOfBoundGroup": {
			Reason: "a group without an id whose name a bound group holds would find that group by the name: a Conflict",
			Args: args{
				Groups:        []v1alpha1.ExtensionGroup{planGroup("sales-copy", "Sales")},
				ClusterGroups: []v1alpha1.ExtensionGroup{planGroup("sales", "Sales", groupID(1))},
			},
			Want: []Change{{Action: ActionConflict, Kind: "ExtensionGroup", Namespace: "a", Name: "sales-copy",
				Note: "a/sales already manages the PBX object with this natural key in this account"}},
			WantChanges: true,
		},
		"LostIDKeyTakenByAnother": {
			Reason: "a resource whose recorded object is gone forgets the id before it looks by name: a group with the name that is not its own is somebody else's",
			Args: args{
				Groups:        []v1alpha1.ExtensionGroup{planGroup("sales", "Sales")},
				ClusterGroups: []v1alpha1.ExtensionGroup{planGroup("sales", "Sales", groupID(7), groupKeys(7, "Sales"))},
			},
			Want: []Change{{Action: ActionAlreadyExists, Kind: "ExtensionGroup", Namespace: "a", Name: "sales", PBXID: 1,
				Note: `The PBX group 7 is gone; The PBX object 1 has this natural key and is not managed by this resource: set the pbx.cloudpbx.dev/adopt: "true" annotation to adopt it`}},
			WantChanges: true,
		},
		"LostMadeIDKeyTakenByAnother": {
			Reason: "a resource whose object, made under its create-pending mark and recorded in status alone, is gone forgets the id and the mark before it looks by name: a group with the name that is not its own is somebody else's",
			Args: args{
				Groups:        []v1alpha1.ExtensionGroup{planGroup("sales", "Sales")},
				ClusterGroups: []v1alpha1.ExtensionGroup{planGroup("sales", "Sales", madeGroup(7, "Sales"))},
			},
			Want: []Change{{Action: ActionAlreadyExists, Kind: "ExtensionGroup", Namespace: "a", Name: "sales", PBXID: 1,
				Note: `The PBX group 7 is gone; The PBX object 1 has this natural key and is not managed by this resource: set the pbx.cloudpbx.dev/adopt: "true" annotation to adopt it`}},
			WantChanges: true,
		},
		"PausedInTheManifest": {
			Reason: "a paused resource writes nothing, whatever its spec says: not a change",
			Args: args{
				Exts: []v1alpha1.Extension{planExt("ext-102", "102", "Robert", extID(11), func(x *v1alpha1.Extension) {
					annotate(v1alpha1.AnnotationPaused, "true")(x)
				})},
				ClusterExts: []v1alpha1.Extension{planExt("ext-102", "102", "Bob", extID(11))},
			},
			Want: []Change{{Action: ActionPaused, Kind: "Extension", Namespace: "a", Name: "ext-102",
				Note: "Writes are paused by the pbx.cloudpbx.dev/paused annotation"}},
		},
		"ConflictType": {
			Reason: "a number whose PBX extension has another type cannot be managed",
			Args:   args{Exts: []v1alpha1.Extension{planExt("ext-300", "300", "", extAdopt)}},
			Want: []Change{{Action: ActionConflict, Kind: "Extension", Namespace: "a", Name: "ext-300", PBXID: 13,
				Note: "The PBX extension 0003*300 is of type queue, not phone; the PBX cannot change its type (the operator reports InvalidSpec)"}},
			WantChanges: true,
		},
		"DriftedObserveOnly": {
			Reason: "an ObserveOnly resource that differs is reported, never written: not a change",
			Args: args{
				Exts:        []v1alpha1.Extension{planExt("ext-102", "102", "Robert", extObserve)},
				ClusterExts: []v1alpha1.Extension{planExt("ext-102", "102", "Bob", extID(11), extObserve)},
			},
			Want: []Change{{Action: ActionDrifted, Kind: "Extension", Namespace: "a", Name: "ext-102", PBXID: 11, Fields: []FieldChange{{Field: "label", From: "Bob", To: "Robert"}}}},
		},
		"MissingObserveOnly": {
			Reason: "an ObserveOnly resource whose object is gone is not recreated",
			Args:   args{Exts: []v1alpha1.Extension{planExt("ext-999", "999", "", extID(99), extObserve)}},
			Want: []Change{{Action: ActionMissing, Kind: "Extension", Namespace: "a", Name: "ext-999",
				Note: "The PBX extension 99 is gone or has another number; The PBX object does not exist, and managementPolicy ObserveOnly does not create it"}},
			WantChanges: true,
		},
		"DeleteOnRemoval": {
			Reason: "a managed resource of the manifests' namespace that the manifests drop is deleted from the PBX; Orphan and ObserveOnly only release; a kept Extension whose group the apply deletes waits for it",
			Args: args{
				Exts: []v1alpha1.Extension{planExt("ext-101", "101", "Alice", extID(10), inGroup("sales"))},
				ClusterExts: []v1alpha1.Extension{
					planExt("ext-101", "101", "Alice", extID(10), inGroup("sales")),
					planExt("ext-102", "102", "Bob", extID(11)),
					planExt("ext-103", "103", "Carol", extID(12), extOrphan),
					planExt("ext-300", "300", "", extID(13), extObserve),
				},
				ClusterGroups: []v1alpha1.ExtensionGroup{planGroup("sales", "Sales", groupID(1))},
				Prune:         true,
			},
			Want: []Change{
				{Action: ActionDelete, Kind: "ExtensionGroup", Namespace: "a", Name: "sales", PBXID: 1},
				{Action: ActionWaiting, Kind: "Extension", Namespace: "a", Name: "ext-101", Note: "Waits for the ExtensionGroup sales, which the apply deletes (DependencyNotReady)"},
				{Action: ActionDelete, Kind: "Extension", Namespace: "a", Name: "ext-102", PBXID: 11},
				{Action: ActionRelease, Kind: "Extension", Namespace: "a", Name: "ext-103", PBXID: 12, Note: "deletionPolicy Orphan leaves the PBX object in place"},
				{Action: ActionRelease, Kind: "Extension", Namespace: "a", Name: "ext-300", PBXID: 13, Note: "managementPolicy ObserveOnly leaves the PBX object in place"},
			},
			WantChanges: true,
		},
		"NoPruneNoDelete": {
			Reason: "without pruning, resources missing from the manifests are left alone",
			Args: args{
				Exts:          []v1alpha1.Extension{planExt("ext-101", "101", "Alice", extID(10), inGroup("sales"))},
				ClusterExts:   []v1alpha1.Extension{planExt("ext-101", "101", "Alice", extID(10), inGroup("sales")), planExt("ext-102", "102", "Bob", extID(11))},
				ClusterGroups: []v1alpha1.ExtensionGroup{planGroup("sales", "Sales", groupID(1))},
			},
			Want: []Change{{Action: ActionNoChange, Kind: "Extension", Namespace: "a", Name: "ext-101", PBXID: 10}},
		},
	}
}

// lineExts are the Extensions of PlanLineTenant's extensions.
func lineExts() []v1alpha1.Extension {
	return []v1alpha1.Extension{
		planExt("ext-101", "101", "Alice", extID(10)), planExt("ext-102", "102", "Bob", extID(11)), planExt("ext-103", "103", "Carol", extID(12)),
	}
}

func planNumber(name, number string, opts ...func(*v1alpha1.PhoneNumber)) v1alpha1.PhoneNumber {
	n := v1alpha1.PhoneNumber{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name}}
	n.Spec.Number = number
	n.Spec.AccountRef = pbxAccount
	for _, o := range opts {
		o(&n)
	}
	return n
}

func ringing(ext string) func(*v1alpha1.PhoneNumber) {
	return func(n *v1alpha1.PhoneNumber) { n.Spec.ExtensionRef = v1alpha1.PhoneNumberExtensionReference{Name: ext} }
}

func planHook(name, ext, url string, opts ...func(*v1alpha1.EventSubscription)) v1alpha1.EventSubscription {
	s := v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name}}
	s.Spec.AccountRef = pbxAccount
	s.Spec.ExtensionRef = v1alpha1.ExtensionReference{Name: ext}
	s.Spec.EventType, s.Spec.Method, s.Spec.URL = v1alpha1.EventTypeHangup, v1alpha1.EventMethodPOST, url
	for _, o := range opts {
		o(&s)
	}
	return s
}

func recorded[T interface{ SetAnnotations(map[string]string) }](id int64) func(T) {
	return func(o T) {
		o.SetAnnotations(map[string]string{v1alpha1.AnnotationExternalID: strconv.FormatInt(id, 10)})
	}
}

// TestEveryKindIsPlannedAndExported: plan, export and status know every managed kind of the
// kinds table, in its order; a kind added to the table without them fails here.
func TestEveryKindIsPlannedAndExported(t *testing.T) {
	want := controller.ManagedKinds()
	var planned, exported []string
	for _, k := range (&planner{}).kinds() {
		planned = append(planned, k.kind)
	}
	for _, k := range (&Export{}).kinds() {
		exported = append(exported, k.kind)
	}
	if diff := cmp.Diff(want, planned); diff != "" {
		t.Errorf("plan's kinds: -table +plan:\n%s", diff)
	}
	if diff := cmp.Diff(want, exported); diff != "" {
		t.Errorf("export's kinds: -table +export:\n%s", diff)
	}
	var in PlanInput
	for _, kind := range want {
		manifest := fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: x\n", v1alpha1.GroupVersion, kind)
		if err := (&PlanCommand{Namespace: "a"}).decode("-", []byte(manifest), &in); err != nil {
			t.Errorf("plan reads a %s: %v", kind, err)
		}
	}
	if n := len(in.objects()); n != len(want) {
		t.Errorf("plan read %d manifests of %d kinds", n, len(want))
	}
}
