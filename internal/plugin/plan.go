package plugin

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// Action is what applying a manifest would make the operator do to the PBX.
type Action string

// Actions of a plan. Create, Update, Adopt and Delete change what the operator manages;
// Conflict, AlreadyExists and Missing are objects that would stall; NoChange, Drifted (an
// ObserveOnly object that differs, which is reported and never written) and Release (a removed
// object whose PBX object stays) change nothing in the PBX.
const (
	ActionCreate        Action = "create"
	ActionUpdate        Action = "update"
	ActionAdopt         Action = "adopt"
	ActionDelete        Action = "delete"
	ActionConflict      Action = "conflict"
	ActionAlreadyExists Action = "already-exists"
	ActionMissing       Action = "missing"
	ActionDrifted       Action = "drifted"
	ActionRelease       Action = "release"
	ActionNoChange      Action = "no-change"
)

// changes reports whether an action counts for plan's exit code 2: it changes what the operator
// manages or writes, or it would stall.
func (a Action) changes() bool {
	switch a {
	case ActionNoChange, ActionDrifted, ActionRelease:
		return false
	}
	return true
}

// Change is one object's line in a plan.
type Change struct {
	Action    Action `json:"action"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// PBXID is the PBX object's id when there is one.
	PBXID int64 `json:"pbxID,omitempty"`
	// Fields are what an update (or the update after an adopt) would change; for a create, the
	// fields set.
	Fields []FieldChange `json:"fields,omitempty"`
	// Note says why, for conflicts and the like.
	Note string `json:"note,omitempty"`
}

// PlanResult is a whole plan, sorted by namespace, kind (groups first) and name.
type PlanResult struct {
	Changes []Change `json:"changes"`
}

// HasChanges reports whether applying the manifests would change anything or stall: plan's
// exit code 2.
func (p PlanResult) HasChanges() bool {
	return slices.ContainsFunc(p.Changes, func(c Change) bool { return c.Action.changes() })
}

// PlanInput is what Plan compares: the manifests, the cluster's resources in their namespaces,
// and the PBX of every account they use.
type PlanInput struct {
	Groups     []v1alpha1.ExtensionGroup
	Extensions []v1alpha1.Extension
	// ClusterGroups and ClusterExtensions are the resources in the cluster: the ones the
	// manifests update, the ones they remove (in the manifests' namespaces), and other claimants.
	ClusterGroups     []v1alpha1.ExtensionGroup
	ClusterExtensions []v1alpha1.Extension
	// Tenants are the PBX contents by account (AccountKey).
	Tenants map[AccountKey]Tenant
	// Prune plans the removal of cluster resources (of the manifests' namespaces) that the
	// manifests do not hold.
	Prune bool
}

// AccountKey names an account as a managed resource refers to it: Account in the resource's
// namespace, or ClusterAccount (Namespace empty).
type AccountKey struct {
	Kind      v1alpha1.AccountKind
	Namespace string
	Name      string
}

func (k AccountKey) String() string {
	if k.Namespace == "" {
		return string(k.Kind) + " " + k.Name
	}
	return string(k.Kind) + " " + k.Namespace + "/" + k.Name
}

// accountOf is the account a managed resource in namespace uses.
func accountOf(namespace string, ref v1alpha1.AccountReference) AccountKey {
	if ref.Kind == v1alpha1.AccountKindClusterAccount {
		return AccountKey{Kind: ref.Kind, Name: ref.Name}
	}
	return AccountKey{Kind: v1alpha1.AccountKindAccount, Namespace: namespace, Name: ref.Name}
}

// knownID is a resource's recorded PBX id: the external-id annotation, else status.id (as the
// engine's managed.KnownID reads it).
func knownID(ann map[string]string, status int64) int64 {
	if id, err := strconv.ParseInt(ann[v1alpha1.AnnotationExternalID], 10, 64); err == nil && id > 0 {
		return id
	}
	return status
}

type objKey struct{ kind, namespace, name string }

// claimKey is one PBX object of one account.
type claimKey struct {
	account AccountKey
	kind    string
	id      int64
}

// planner carries the state of one Plan.
type planner struct {
	in     PlanInput
	claims map[claimKey]objKey
	// groupIDs are the PBX ids the desired groups resolve to: the id, or -1 for a group the
	// plan creates.
	groupIDs map[objKey]int64
	out      PlanResult
}

// Plan tells what the operator would do to the PBX if the manifests were applied. It follows the
// engine's rules (internal/managed): an object is found by its recorded id, else by its
// natural key (an extension's number, a group's name); a natural-key match is adopted only with
// the adopt annotation, the external-id annotation or ObserveOnly, and is AlreadyExists
// otherwise; an object already claimed by another resource of the account, or a group name
// that several PBX groups share, is a Conflict.
func Plan(in PlanInput) PlanResult {
	p := &planner{in: in, claims: map[claimKey]objKey{}, groupIDs: map[objKey]int64{}}
	desired := map[objKey]bool{}
	for _, g := range in.Groups {
		desired[objKey{"ExtensionGroup", g.Namespace, g.Name}] = true
	}
	for _, x := range in.Extensions {
		desired[objKey{"Extension", x.Namespace, x.Name}] = true
	}
	// Resources in the cluster hold their objects first (the engine's first-come rule).
	for _, g := range in.ClusterGroups {
		if id := knownID(g.Annotations, g.Status.ID); id != 0 {
			p.claims[claimKey{accountOf(g.Namespace, g.Spec.AccountRef), "ExtensionGroup", id}] = objKey{"ExtensionGroup", g.Namespace, g.Name}
		}
	}
	for _, x := range in.ClusterExtensions {
		if id := knownID(x.Annotations, x.Status.ID); id != 0 {
			p.claims[claimKey{accountOf(x.Namespace, x.Spec.AccountRef), "Extension", id}] = objKey{"Extension", x.Namespace, x.Name}
		}
	}
	groups := slices.Clone(in.Groups)
	slices.SortFunc(groups, func(a, b v1alpha1.ExtensionGroup) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for i := range groups {
		p.planGroup(&groups[i])
	}
	exts := slices.Clone(in.Extensions)
	slices.SortFunc(exts, func(a, b v1alpha1.Extension) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for i := range exts {
		p.planExtension(&exts[i])
	}
	if in.Prune {
		p.planRemovals(desired)
	}
	slices.SortStableFunc(p.out.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), -cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return p.out
}

// existing returns the cluster's version of a desired resource, if any.
func existing[T any](list []T, key func(*T) (string, string), namespace, name string) *T {
	for i := range list {
		if ns, n := key(&list[i]); ns == namespace && n == name {
			return &list[i]
		}
	}
	return nil
}

// identity is what the engine would start from: the recorded id and whether the resource in the
// cluster already holds it.
func identity(ann map[string]string, cluster map[string]string, clusterStatus int64, inCluster bool) (id int64, held bool) {
	if inCluster {
		if held := knownID(cluster, clusterStatus); held != 0 {
			if own := knownID(ann, 0); own == 0 || own == held {
				return held, true
			}
		}
	}
	return knownID(ann, 0), false
}

func (p *planner) claim(k claimKey, o objKey) (objKey, bool) {
	if other, ok := p.claims[k]; ok && other != o {
		return other, false
	}
	p.claims[k] = o
	return o, true
}

func (p *planner) add(c Change) { p.out.Changes = append(p.out.Changes, c) }

func (p *planner) planGroup(g *v1alpha1.ExtensionGroup) {
	key := objKey{"ExtensionGroup", g.Namespace, g.Name}
	acct := accountOf(g.Namespace, g.Spec.AccountRef)
	t := p.in.Tenants[acct]
	c := Change{Kind: key.kind, Namespace: g.Namespace, Name: g.Name}
	cur := existing(p.in.ClusterGroups, func(o *v1alpha1.ExtensionGroup) (string, string) { return o.Namespace, o.Name }, g.Namespace, g.Name)
	var id int64
	var held bool
	if cur != nil {
		id, held = identity(g.Annotations, cur.Annotations, cur.Status.ID, true)
	} else {
		id, _ = identity(g.Annotations, nil, 0, false)
	}
	var found *pbx.ExtensionGroup
	if id != 0 {
		if i := slices.IndexFunc(t.Groups, func(x pbx.ExtensionGroup) bool { return x.ID == id }); i >= 0 {
			found = &t.Groups[i]
			if foreignName(cur, id, g.Spec.Name, found.Name) {
				// Another group took the id (the PBX reused it), or it was renamed by hand: the
				// operator leaves it alone and looks for the resource's group by name.
				c.Note = fmt.Sprintf("The PBX group %d is named %q, a name this resource never gave it: it is left alone", id, found.Name)
				found, held = nil, false
			}
		} else {
			held = false // lost: looked for again by name
			c.Note = fmt.Sprintf("The PBX group %d is gone", id)
		}
	}
	if found == nil && (!isObserveOnly(&g.Spec.ManagedSpec) || id == 0) {
		var named []pbx.ExtensionGroup
		for _, x := range t.Groups {
			if x.Name == g.Spec.Name {
				named = append(named, x)
			}
		}
		switch len(named) {
		case 0:
		case 1:
			found = &named[0]
		default:
			ids := make([]string, 0, len(named))
			for _, x := range named {
				ids = append(ids, strconv.FormatInt(x.ID, 10))
			}
			c.Action, c.Note = ActionConflict, fmt.Sprintf("%d PBX groups are named %q (ids %s): set the %s annotation to the one to manage", len(named), g.Spec.Name, strings.Join(ids, ", "), v1alpha1.AnnotationExternalID)
			p.groupIDs[key] = 0
			p.add(c)
			return
		}
	}
	if found == nil {
		p.groupIDs[key] = -1
		p.missing(&c, &g.Spec.ManagedSpec, []FieldChange{{Field: "name", To: g.Spec.Name}, {Field: "extraParams", To: g.Spec.ExtraParams}})
		return
	}
	p.groupIDs[key] = found.ID
	p.decide(&c, key, acct, found.ID, held, g.Annotations, &g.Spec.ManagedSpec, groupChanges(&g.Spec, found))
}

// foreignName tells whether the group named name at the id that the cluster's resource cur records
// carries a name that the resource never gave it (managed.Adapter.Key): not the resource's group.
func foreignName(cur *v1alpha1.ExtensionGroup, id int64, want, name string) bool {
	if cur == nil || name == want {
		return false
	}
	keys, ok := managed.RecordedKeys(cur, id)
	return ok && !slices.Contains(keys, name)
}

func isObserveOnly(s *v1alpha1.ManagedSpec) bool {
	return s.ManagementPolicy == v1alpha1.ManagementPolicyObserveOnly
}

// missing plans an object that the PBX does not have.
func (p *planner) missing(c *Change, spec *v1alpha1.ManagedSpec, fields []FieldChange) {
	if isObserveOnly(spec) {
		c.Action = ActionMissing
		c.Note = strings.TrimPrefix(c.Note+"; ", "; ") + "The PBX object does not exist, and managementPolicy ObserveOnly does not create it"
		p.add(*c)
		return
	}
	c.Action = ActionCreate
	c.Fields = slices.DeleteFunc(fields, func(f FieldChange) bool { return f.To == "" })
	p.add(*c)
}

// decide plans an object found in the PBX: already held, adopted, or somebody else's.
func (p *planner) decide(c *Change, key objKey, acct AccountKey, id int64, held bool, ann map[string]string, spec *v1alpha1.ManagedSpec, fields []FieldChange) {
	c.PBXID = id
	if other, ok := p.claim(claimKey{acct, key.kind, id}, key); !ok {
		c.Action = ActionConflict
		c.Note = fmt.Sprintf("The PBX object %d is managed by %s %s/%s", id, other.kind, other.namespace, other.name)
		p.add(*c)
		return
	}
	adopt := ann[v1alpha1.AnnotationAdopt] == "true" || knownID(ann, 0) == id || ann[v1alpha1.AnnotationCreatePending] != "" || isObserveOnly(spec)
	switch {
	case held && len(fields) == 0:
		c.Action = ActionNoChange
	case held && isObserveOnly(spec):
		c.Action, c.Fields = ActionDrifted, fields
	case held:
		c.Action, c.Fields = ActionUpdate, fields
	case adopt:
		c.Action = ActionAdopt
		if len(fields) > 0 {
			c.Fields = fields
			if isObserveOnly(spec) {
				c.Note = "ObserveOnly: reported as Drifted, not written"
			} else {
				c.Note = "Then updated"
			}
		}
	default:
		c.Action = ActionAlreadyExists
		c.Note = fmt.Sprintf("The PBX object %d has this natural key and is not managed by this resource: set the %s: \"true\" annotation to adopt it", id, v1alpha1.AnnotationAdopt)
	}
	p.add(*c)
}

func (p *planner) planExtension(x *v1alpha1.Extension) {
	key := objKey{"Extension", x.Namespace, x.Name}
	acct := accountOf(x.Namespace, x.Spec.AccountRef)
	t := p.in.Tenants[acct]
	c := Change{Kind: key.kind, Namespace: x.Namespace, Name: x.Name}
	groupID, note := p.resolveGroup(x)
	cur := existing(p.in.ClusterExtensions, func(o *v1alpha1.Extension) (string, string) { return o.Namespace, o.Name }, x.Namespace, x.Name)
	var id int64
	var held bool
	if cur != nil {
		id, held = identity(x.Annotations, cur.Annotations, cur.Status.ID, true)
	} else {
		id, _ = identity(x.Annotations, nil, 0, false)
	}
	var found *pbx.Extension
	if id != 0 {
		i := slices.IndexFunc(t.Extensions, func(e pbx.Extension) bool { return e.ID == id })
		if i >= 0 && pbx.ShortName(t.Extensions[i].Name) == x.Spec.Name {
			found = &t.Extensions[i]
		} else {
			held = false
			c.Note = fmt.Sprintf("The PBX extension %d is gone or has another number", id)
		}
	}
	if found == nil && (!isObserveOnly(&x.Spec.ManagedSpec) || id == 0) {
		if i := slices.IndexFunc(t.Extensions, func(e pbx.Extension) bool { return pbx.ShortName(e.Name) == x.Spec.Name }); i >= 0 {
			found = &t.Extensions[i]
		}
	}
	if note != "" {
		c.Note = strings.TrimPrefix(c.Note+"; "+note, "; ")
	}
	if found == nil {
		fields := []FieldChange{{Field: "name", To: x.Spec.Name}, {Field: "type", To: string(x.Spec.Type)}}
		fields = append(fields, extensionChanges(&x.Spec, groupID, &pbx.Extension{Status: pbx.StatusBlocked})...)
		p.missing(&c, &x.Spec.ManagedSpec, fields)
		return
	}
	if found.Type != controller.PBXType(x.Spec.Type) {
		c.Action, c.PBXID = ActionConflict, found.ID
		c.Note = fmt.Sprintf("The PBX extension %s is of type %s, not %s; the PBX cannot change its type (the operator reports InvalidSpec)", found.Name, found.Type, controller.PBXType(x.Spec.Type))
		p.add(c)
		return
	}
	p.decide(&c, key, acct, found.ID, held, x.Annotations, &x.Spec.ManagedSpec, extensionChanges(&x.Spec, groupID, found))
}

// resolveGroup returns the PBX id an Extension's group resolves to: -1 for a group the plan
// creates, 0 for none, and a note when the group is not known at all.
func (p *planner) resolveGroup(x *v1alpha1.Extension) (int64, string) {
	switch {
	case x.Spec.GroupRef != nil:
		k := objKey{"ExtensionGroup", x.Namespace, x.Spec.GroupRef.Name}
		if id, ok := p.groupIDs[k]; ok {
			return id, ""
		}
		if g := existing(p.in.ClusterGroups, func(o *v1alpha1.ExtensionGroup) (string, string) { return o.Namespace, o.Name }, x.Namespace, x.Spec.GroupRef.Name); g != nil {
			if id := knownID(g.Annotations, g.Status.ID); id != 0 {
				return id, ""
			}
		}
		return -1, fmt.Sprintf("Waits for the ExtensionGroup %s, which is neither in the manifests nor Ready in the cluster (DependencyNotReady)", x.Spec.GroupRef.Name)
	default:
		return x.Spec.GroupID, ""
	}
}

// planRemovals plans the cluster resources of the manifests' namespaces that the manifests no
// longer hold, as a pruning apply (Flux, Argo CD, kubectl apply --prune) deletes them.
func (p *planner) planRemovals(desired map[objKey]bool) {
	namespaces := map[string]bool{}
	for k := range desired {
		namespaces[k.namespace] = true
	}
	removed := func(kind string, m metav1.ObjectMeta, spec *v1alpha1.ManagedSpec, statusID int64) {
		k := objKey{kind, m.Namespace, m.Name}
		if desired[k] || !namespaces[m.Namespace] || m.DeletionTimestamp != nil {
			return
		}
		c := Change{Kind: kind, Namespace: m.Namespace, Name: m.Name, PBXID: knownID(m.Annotations, statusID)}
		switch {
		case c.PBXID == 0:
			c.Action, c.Note = ActionRelease, "No PBX object is recorded"
		case spec.DeletionPolicy == v1alpha1.DeletionPolicyOrphan:
			c.Action, c.Note = ActionRelease, "deletionPolicy Orphan leaves the PBX object in place"
		case isObserveOnly(spec):
			c.Action, c.Note = ActionRelease, "managementPolicy ObserveOnly leaves the PBX object in place"
		default:
			c.Action = ActionDelete
		}
		p.add(c)
	}
	for _, g := range p.in.ClusterGroups {
		removed("ExtensionGroup", g.ObjectMeta, &g.Spec.ManagedSpec, g.Status.ID)
	}
	for _, x := range p.in.ClusterExtensions {
		removed("Extension", x.ObjectMeta, &x.Spec.ManagedSpec, x.Status.ID)
	}
}

// symbols mark actions in the text output, as terraform plan does.
var symbols = map[Action]string{
	ActionCreate: "+", ActionUpdate: "~", ActionAdopt: ">", ActionDelete: "-", ActionConflict: "!",
	ActionAlreadyExists: "!", ActionMissing: "!", ActionDrifted: "~", ActionRelease: "-", ActionNoChange: "=",
}

// WriteText renders the plan for a terminal: one line per object that is not unchanged, its
// field changes below it, and a summary line.
func (p PlanResult) WriteText(w io.Writer) error {
	count := map[Action]int{}
	for _, c := range p.Changes {
		count[c.Action]++
		if c.Action == ActionNoChange {
			continue
		}
		line := fmt.Sprintf("%s %-14s %s %s/%s", symbols[c.Action], c.Action, c.Kind, c.Namespace, c.Name)
		if c.PBXID != 0 {
			line += fmt.Sprintf(" (PBX id %d)", c.PBXID)
		}
		if c.Note != "" {
			line += ": " + c.Note
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
		for _, f := range c.Fields {
			if c.Action == ActionCreate {
				fmt.Fprintf(w, "      %s: %q\n", f.Field, f.To)
				continue
			}
			fmt.Fprintf(w, "      %s: %q -> %q\n", f.Field, f.From, f.To)
		}
	}
	var parts []string
	for _, a := range []Action{ActionCreate, ActionUpdate, ActionAdopt, ActionDelete, ActionConflict, ActionAlreadyExists, ActionMissing, ActionDrifted, ActionRelease, ActionNoChange} {
		if count[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[a], a))
		}
	}
	if len(parts) == 0 {
		parts = []string{"nothing to plan"}
	}
	_, err := fmt.Fprintf(w, "Plan: %s.\n", strings.Join(parts, ", "))
	return err
}
