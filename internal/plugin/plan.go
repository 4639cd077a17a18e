package plugin

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// Action is what applying a manifest would make the operator do to the PBX.
type Action string

// Actions of a plan. Create, Update, Adopt and Delete change what the operator manages;
// Conflict, AlreadyExists, Missing and Waiting (for a resource the apply neither makes nor
// keeps: DependencyNotReady) are objects that would stall; NoChange, Drifted (an ObserveOnly
// object that differs, which is reported and never written), Paused (the paused annotation stops
// its writes) and Release (a removed object whose PBX object stays) change nothing in the PBX.
const (
	ActionCreate        Action = "create"
	ActionUpdate        Action = "update"
	ActionAdopt         Action = "adopt"
	ActionDelete        Action = "delete"
	ActionConflict      Action = "conflict"
	ActionAlreadyExists Action = "already-exists"
	ActionMissing       Action = "missing"
	ActionWaiting       Action = "waiting"
	ActionPaused        Action = "paused"
	ActionDrifted       Action = "drifted"
	ActionRelease       Action = "release"
	ActionNoChange      Action = "no-change"
)

// changes reports whether an action counts for plan's exit code 2: it changes what the operator
// manages or writes, or it would stall.
func (a Action) changes() bool {
	switch a {
	case ActionNoChange, ActionDrifted, ActionRelease, ActionPaused:
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
	Groups             []v1alpha1.ExtensionGroup
	Extensions         []v1alpha1.Extension
	PhoneNumbers       []v1alpha1.PhoneNumber
	EventSubscriptions []v1alpha1.EventSubscription
	// The Cluster lists are the resources in the cluster: the ones the manifests update, the ones
	// they remove (in the manifests' namespaces), and other claimants.
	ClusterGroups             []v1alpha1.ExtensionGroup
	ClusterExtensions         []v1alpha1.Extension
	ClusterPhoneNumbers       []v1alpha1.PhoneNumber
	ClusterEventSubscriptions []v1alpha1.EventSubscription
	// Tenants are the PBX contents by account (AccountKey).
	Tenants map[AccountKey]Tenant
	// Prune plans the removal of cluster resources (of the manifests' namespaces) that the
	// manifests do not hold.
	Prune bool
	// Now is when the manifests are applied: the age of the resources they create (zero: now).
	Now time.Time
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

type objKey struct{ kind, namespace, name string }

// subject is one resource as the plan decides about it: obj is the resource as the API server
// holds it once the manifests are applied (the manifest's spec and annotations over the cluster's
// copy, with that copy's status and age), cur the cluster's copy before (nil for a new one).
// Cluster resources that no manifest holds are subjects too: they still claim their objects.
type subject struct {
	key     objKey
	obj     managed.Object
	cur     managed.Object
	desired bool
	acct    AccountKey
	// claim is the natural key the resource claims in its account (the controllers' claims).
	claim string
}

// planner carries the state of one Plan.
type planner struct {
	in PlanInput
	// subjects are every kind's resources, by kind.
	subjects map[string][]*subject
	// ids are the PBX ids the planned resources resolve to: the id, -1 for an object the apply
	// creates, 0 for one that stalls.
	ids map[objKey]int64
	out PlanResult
}

// Plan tells what the operator would do to the PBX if the manifests were applied. It decides by
// the engine's own rules, which internal/managed exports for it, over the resources as the apply
// leaves them: an object is found by its recorded id (managed.KnownID), and one at that id that
// the resource never made or named is not its own (managed.ForeignKey, managed.IDHolder); else by
// its natural key; a resource without an id whose key another resource holds is a Conflict
// (managed.KeyHolder); an object found by key is the resource's only as managed.Adopts says
// (AlreadyExists otherwise), and never one another resource records (Conflict); which fields an
// update changes is each controller's exported diff.
func Plan(in PlanInput) PlanResult {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	p := &planner{in: in, subjects: map[string][]*subject{}, ids: map[objKey]int64{}}
	addSubjects(p, "ExtensionGroup", in.Groups, in.ClusterGroups, controller.GroupClaim)
	addSubjects(p, "Extension", in.Extensions, in.ClusterExtensions, controller.ExtensionClaim)
	addSubjects(p, "PhoneNumber", in.PhoneNumbers, in.ClusterPhoneNumbers, controller.PhoneNumberClaim)
	addSubjects(p, "EventSubscription", in.EventSubscriptions, in.ClusterEventSubscriptions, controller.SubscriptionClaim)
	// In the order the operator's kinds depend on each other, each kind by namespace and name.
	for _, k := range p.kinds() {
		for _, s := range p.subjects[k.kind] {
			switch {
			case !s.desired:
			case s.obj.GetAnnotations()[v1alpha1.AnnotationPaused] == "true":
				// The manifest or the cluster's resource pauses it (kubectl apply keeps an
				// annotation the manifest never had): the operator writes nothing.
				p.stall(s, s.change(), ActionPaused, "Writes are paused by the "+v1alpha1.AnnotationPaused+" annotation")
			default:
				k.plan(s)
			}
		}
	}
	if in.Prune {
		p.planRemovals()
	}
	slices.SortStableFunc(p.out.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)), cmp.Compare(a.Name, b.Name))
	})
	return p.out
}

// plannedKind is how a plan decides about one managed kind.
type plannedKind struct {
	kind string
	plan func(*subject)
}

// kinds are the kinds a plan knows, in the order the operator's kinds depend on each other (the
// order of controller.ManagedKinds, which a test holds it to).
func (p *planner) kinds() []plannedKind {
	return []plannedKind{
		{"ExtensionGroup", p.planGroup}, {"Extension", p.planExtension},
		{"PhoneNumber", p.planPhoneNumber}, {"EventSubscription", p.planSubscription},
	}
}

// kindOrder orders a plan's kinds as the operator's dependencies go.
func kindOrder(kind string) int {
	return slices.Index(controller.ManagedKinds(), kind)
}

// addSubjects adds one kind's subjects: the manifests as applied over the cluster's copies, then
// the cluster's resources that no manifest holds.
func addSubjects[T any, P interface {
	*T
	managed.Object
}](p *planner, kind string, desired, cluster []T, claim func(P) string) {
	inCluster := map[objKey]P{}
	for i := range cluster {
		c := P(&cluster[i])
		inCluster[objKey{kind, c.GetNamespace(), c.GetName()}] = c
	}
	seen := map[objKey]bool{}
	for i := range desired {
		m := P(&desired[i])
		k := objKey{kind, m.GetNamespace(), m.GetName()}
		seen[k] = true
		cur, ok := inCluster[k]
		s := &subject{key: k, desired: true}
		if ok {
			s.cur = cur
			s.obj = applied(m, cur, true)
		} else {
			s.obj = applied(m, cur, false)
			s.obj.SetCreationTimestamp(metav1.NewTime(p.in.Now))
		}
		p.addSubject(s, claim(s.obj.(P)))
	}
	for k, c := range inCluster {
		if !seen[k] && c.GetDeletionTimestamp() == nil {
			obj := c.DeepCopyObject().(P)
			obj.SetUID(types.UID(k.namespace + "/" + k.name))
			p.addSubject(&subject{key: k, obj: obj, cur: c}, claim(obj))
		}
	}
	slices.SortFunc(p.subjects[kind], func(a, b *subject) int {
		return cmp.Or(cmp.Compare(a.key.namespace, b.key.namespace), cmp.Compare(a.key.name, b.key.name))
	})
}

func (p *planner) addSubject(s *subject, claim string) {
	s.acct = accountOf(s.key.namespace, s.obj.GetManagedSpec().AccountRef)
	s.claim = claim
	p.subjects[s.key.kind] = append(p.subjects[s.key.kind], s)
}

// applied is the manifest m as the API server holds it after the apply: its spec, labels and
// annotations over the cluster's copy cur (when inCluster), whose status, age and other
// annotations (the operator's identity records) stay. Its UID is its namespace/name, so that the
// engine's rules tell resources apart.
func applied[P managed.Object](m, cur P, inCluster bool) managed.Object {
	out := m.DeepCopyObject().(P)
	out.SetUID(types.UID(m.GetNamespace() + "/" + m.GetName()))
	if !inCluster {
		return out
	}
	if u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cur); err == nil {
		if mu, err := runtime.DefaultUnstructuredConverter.ToUnstructured(out); err == nil {
			mu["status"] = u["status"]
			_ = runtime.DefaultUnstructuredConverter.FromUnstructured(mu, out)
		}
	}
	ann := maps.Clone(cur.GetAnnotations())
	if ann == nil {
		ann = map[string]string{}
	}
	maps.Copy(ann, m.GetAnnotations())
	out.SetAnnotations(ann)
	out.SetCreationTimestamp(cur.GetCreationTimestamp())
	return out
}

// others are the resources of s's kind and account.
func (p *planner) others(s *subject) []managed.Object {
	var out []managed.Object
	for _, o := range p.subjects[s.key.kind] {
		if o.acct == s.acct {
			out = append(out, o.obj)
		}
	}
	return out
}

// keyConflict is the Conflict of a resource without a PBX id whose natural key another resource
// holds, as the engine's claim check words it, or "".
func (p *planner) keyConflict(s *subject) string {
	if managed.KnownID(s.obj) != 0 {
		return ""
	}
	var claimants []managed.Object
	for _, o := range p.subjects[s.key.kind] {
		if o.acct == s.acct && o.claim == s.claim {
			claimants = append(claimants, o.obj)
		}
	}
	h := managed.KeyHolder(claimants)
	if h == nil || h.GetUID() == s.obj.GetUID() {
		return ""
	}
	return holderName(h, s.obj) + " already manages the PBX object with this natural key in this account"
}

// idHolder names another resource of s's account that records the PBX id at least as strongly
// (managed.IDHolder), or "".
func (p *planner) idHolder(s *subject, id int64) string {
	if h := managed.IDHolder(p.others(s), s.obj, id); h != nil {
		return holderName(h, s.obj)
	}
	return ""
}

// holderName names a resource to the users of obj, as the engine's messages do.
func holderName(holder, obj managed.Object) string {
	if holder.GetNamespace() != obj.GetNamespace() {
		return "A resource in another namespace"
	}
	return holder.GetNamespace() + "/" + holder.GetName()
}

func (s *subject) change() Change {
	return Change{Kind: s.key.kind, Namespace: s.key.namespace, Name: s.key.name}
}

func (p *planner) add(c Change) { p.out.Changes = append(p.out.Changes, c) }

// stall plans a resource that the operator would leave with a Conflict or the like.
//
// Whether the resources that name it may still use its object follows the engine's conditions:
// a Conflict, AlreadyExists or missing object makes it not Ready, while a resource that waits for
// a dependency (or whose spec the PBX refuses: invalidSpec, as the engine reports it) stays Ready
// with the object it had.
func (p *planner) stall(s *subject, c Change, a Action, note string) {
	p.stallAs(s, c, a, note, false)
}

func (p *planner) stallAs(s *subject, c Change, a Action, note string, invalidSpec bool) {
	c.Action, c.Note = a, strings.TrimPrefix(c.Note+"; "+note, "; ")
	p.ids[s.key] = 0
	if a == ActionWaiting || a == ActionPaused || invalidSpec {
		if cur := s.cur; cur != nil && meta.IsStatusConditionTrue(cur.GetManagedStatus().Conditions, v1alpha1.ConditionReady) && cur.GetManagedStatus().ID != 0 {
			p.ids[s.key] = cur.GetManagedStatus().ID
		}
	}
	p.add(c)
}

func isObserveOnly(s *v1alpha1.ManagedSpec) bool {
	return s.ManagementPolicy == v1alpha1.ManagementPolicyObserveOnly
}

// lookup is how one kind finds a resource's PBX object: at the recorded id (atID: the object, or
// nil with why it is not the resource's) and by the natural key (byKey: the ids found).
type lookup struct {
	atID  func(id int64) (found int64, note string)
	byKey func() []int64
	// ambiguous is the Conflict of several objects with the key.
	ambiguous func(ids []int64) string
}

// pbxObjects are one kind's PBX objects of a tenant, with their id and natural key, as a plan
// looks them up.
type pbxObjects[T any] struct {
	items []T
	id    func(T) int64
	key   func(T) string
}

// byID returns the object with the PBX id, or nil.
func (o pbxObjects[T]) byID(id int64) *T {
	if i := slices.IndexFunc(o.items, func(x T) bool { return o.id(x) == id }); i >= 0 {
		return &o.items[i]
	}
	return nil
}

// withKey returns the ids of the objects with the natural key.
func (o pbxObjects[T]) withKey(key string) []int64 {
	var ids []int64
	for _, x := range o.items {
		if o.key(x) == key {
			ids = append(ids, o.id(x))
		}
	}
	return ids
}

// find runs the engine's lookup: the object at the recorded id unless it is gone or another's
// (then looked for again by key, except for an ObserveOnly resource), else by the natural key.
// It returns the id found (0 for none), whether it was found by key, and a Conflict note.
func (p *planner) find(s *subject, c *Change, l lookup) (id int64, byKey bool, conflict string) {
	known := managed.KnownID(s.obj)
	if known != 0 {
		found, note := l.atID(known)
		if found != 0 {
			return found, false, ""
		}
		c.Note = note
		if isObserveOnly(s.obj.GetManagedSpec()) {
			return 0, false, ""
		}
		// The engine forgets a lost id before it looks by the key, and the create-pending mark of
		// the create that made it: what it finds there is then judged as for a resource without an
		// id.
		ann := s.obj.GetAnnotations()
		delete(ann, v1alpha1.AnnotationCreatePending)
		delete(ann, v1alpha1.AnnotationExternalID)
		delete(ann, v1alpha1.AnnotationExternalKey)
		delete(ann, v1alpha1.AnnotationRealm)
		s.obj.SetAnnotations(ann)
		s.obj.GetManagedStatus().ID = 0
	}
	ids := l.byKey()
	switch len(ids) {
	case 0:
		return 0, false, ""
	case 1:
		return ids[0], true, ""
	}
	slices.Sort(ids)
	return 0, false, l.ambiguous(ids)
}

// missing plans a resource whose PBX object does not exist: created, unless it only observes.
func (p *planner) missing(s *subject, c Change, fields []FieldChange) {
	if isObserveOnly(s.obj.GetManagedSpec()) {
		p.stall(s, c, ActionMissing, "The PBX object does not exist, and managementPolicy ObserveOnly does not create it")
		return
	}
	c.Action = ActionCreate
	c.Fields = slices.DeleteFunc(fields, func(f FieldChange) bool { return f.To == "" })
	p.ids[s.key] = -1
	p.add(c)
}

// decide plans a resource whose PBX object id was found (by key when byKey): somebody else's, a
// Conflict, or the resource's, to adopt, update or leave. A resource that takes the object
// records its id, as the engine does, so that later resources see it held.
func (p *planner) decide(s *subject, c Change, id int64, byKey, unclaimed bool, fields []FieldChange) {
	c.PBXID = id
	if byKey && !managed.Adopts(s.obj, unclaimed) {
		p.stall(s, c, ActionAlreadyExists, fmt.Sprintf("The PBX object %d has this natural key and is not managed by this resource: set the %s: \"true\" annotation to adopt it", id, v1alpha1.AnnotationAdopt))
		return
	}
	if s.obj.GetManagedStatus().ID != id {
		if h := p.idHolder(s, id); h != "" {
			p.stall(s, c, ActionConflict, fmt.Sprintf("The PBX object %d is already managed by %s", id, h))
			return
		}
	}
	observeOnly := isObserveOnly(s.obj.GetManagedSpec())
	held := s.cur != nil && managed.KnownID(s.cur) == id
	switch {
	case held && len(fields) == 0:
		c.Action = ActionNoChange
	case held && observeOnly:
		c.Action, c.Fields = ActionDrifted, fields
	case held:
		c.Action, c.Fields = ActionUpdate, fields
	default:
		c.Action = ActionAdopt
		if len(fields) > 0 {
			c.Fields = fields
			c.Note = strings.TrimPrefix(c.Note+"; Then updated", "; ")
			if observeOnly {
				c.Note = "ObserveOnly: reported as Drifted, not written"
			}
		}
	}
	s.obj.GetManagedStatus().ID = id
	p.ids[s.key] = id
	p.add(c)
}

func (p *planner) planGroup(s *subject) {
	g := s.obj.(*v1alpha1.ExtensionGroup)
	t := p.in.Tenants[s.acct]
	c := s.change()
	if conflict := p.keyConflict(s); conflict != "" {
		p.stall(s, c, ActionConflict, conflict)
		return
	}
	groups := pbxObjects[pbx.ExtensionGroup]{t.Groups, func(x pbx.ExtensionGroup) int64 { return x.ID }, func(x pbx.ExtensionGroup) string { return x.Name }}
	id, byKey, conflict := p.find(s, &c, lookup{
		atID: func(id int64) (int64, string) {
			x := groups.byID(id)
			switch {
			case x == nil:
				return 0, fmt.Sprintf("The PBX group %d is gone", id)
			case x.Name != g.Spec.Name && !isObserveOnly(&g.Spec.ManagedSpec) && (managed.ForeignKey(g, id, x.Name) || p.idHolder(s, id) != ""):
				// Another group took the id (the PBX reused it), or it was renamed by hand: the
				// operator leaves it alone and looks for the resource's group by name.
				return 0, fmt.Sprintf("The PBX group %d is named %q, a name this resource never gave it: it is left alone", id, x.Name)
			}
			return id, ""
		},
		byKey: func() []int64 { return groups.withKey(g.Spec.Name) },
		ambiguous: func(ids []int64) string {
			return fmt.Sprintf("%d groups named %q exist in the PBX (ids %v): set the %s annotation to the id of the one to manage", len(ids), g.Spec.Name, ids, v1alpha1.AnnotationExternalID)
		},
	})
	switch {
	case conflict != "":
		p.stall(s, c, ActionConflict, conflict)
	case id == 0:
		p.missing(s, c, []FieldChange{{Field: "name", To: g.Spec.Name}, {Field: "extraParams", To: g.Spec.ExtraParams}})
	default:
		p.decide(s, c, id, byKey, false, groupChanges(&g.Spec, groups.byID(id)))
	}
}

func (p *planner) planExtension(s *subject) {
	x := s.obj.(*v1alpha1.Extension)
	t := p.in.Tenants[s.acct]
	c := s.change()
	if conflict := p.keyConflict(s); conflict != "" {
		p.stall(s, c, ActionConflict, conflict)
		return
	}
	groupID, waits := p.resolveGroup(x)
	exts := pbxObjects[pbx.Extension]{t.Extensions, func(e pbx.Extension) int64 { return e.ID }, func(e pbx.Extension) string { return pbx.ShortName(e.Name) }}
	id, byKey, _ := p.find(s, &c, lookup{
		atID: func(id int64) (int64, string) {
			// The PBX cannot renumber an extension: one with another number is another.
			if e := exts.byID(id); e != nil && pbx.ShortName(e.Name) == x.Spec.Name {
				return id, ""
			}
			return 0, fmt.Sprintf("The PBX extension %d is gone or has another number", id)
		},
		byKey:     func() []int64 { return exts.withKey(x.Spec.Name) },
		ambiguous: func([]int64) string { return "" }, // numbers are unique in a client
	})
	if waits != "" {
		p.stall(s, c, ActionWaiting, waits)
		return
	}
	if id == 0 {
		fields := []FieldChange{{Field: "name", To: x.Spec.Name}, {Field: "type", To: string(x.Spec.Type)}}
		fields = append(fields, extensionChanges(&x.Spec, groupID, &pbx.Extension{Status: pbx.StatusBlocked})...)
		p.missing(s, c, fields)
		return
	}
	found := exts.byID(id)
	if found.Type != controller.PBXType(x.Spec.Type) {
		c.PBXID = id
		p.stallAs(s, c, ActionConflict, fmt.Sprintf("The PBX extension %s is of type %s, not %s; the PBX cannot change its type (the operator reports InvalidSpec)", found.Name, found.Type, controller.PBXType(x.Spec.Type)), true)
		return
	}
	p.decide(s, c, id, byKey, false, extensionChanges(&x.Spec, groupID, found))
}

// resolveGroup returns the PBX id an Extension's group resolves to: -1 for a group the plan
// creates, 0 for none, and a note when the group is not known at all.
func (p *planner) resolveGroup(x *v1alpha1.Extension) (int64, string) {
	if x.Spec.GroupRef == nil {
		return x.Spec.GroupID, ""
	}
	return p.resolve(objKey{"ExtensionGroup", x.Namespace, x.Spec.GroupRef.Name})
}

// resolve returns the PBX id a reference to another resource resolves to: the id the plan decided
// for it, or the one the cluster's resource records and keeps; -1 for one the plan creates, and
// -1 with why the referring resource waits (DependencyNotReady) for one that stalls, that the
// apply deletes (Prune), or that is not known at all.
func (p *planner) resolve(k objKey) (int64, string) {
	if id, ok := p.ids[k]; ok {
		if id == 0 {
			return -1, fmt.Sprintf("Waits for the %s %s, which the apply leaves not Ready (DependencyNotReady)", k.kind, k.name)
		}
		return id, ""
	}
	for _, s := range p.subjects[k.kind] {
		if s.key != k || s.desired {
			continue
		}
		st := s.obj.GetManagedStatus()
		switch {
		case p.in.Prune:
			return -1, fmt.Sprintf("Waits for the %s %s, which the apply deletes (DependencyNotReady)", k.kind, k.name)
		case !meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReady) || st.ID == 0:
			// The operator uses a resource that the manifests do not hold only once it is Ready.
			return -1, fmt.Sprintf("Waits for the %s %s, which is not Ready in the cluster (DependencyNotReady)", k.kind, k.name)
		}
		return st.ID, ""
	}
	return -1, fmt.Sprintf("Waits for the %s %s, which is neither in the manifests nor Ready in the cluster (DependencyNotReady)", k.kind, k.name)
}

// resolveExtension returns the PBX extension a reference or a raw id names: nil for none, -1 for
// one the plan creates or that is not known (with a note then).
func (p *planner) resolveExtension(namespace, ref string, raw int64) (*int64, string) {
	switch {
	case ref != "":
		id, note := p.resolve(objKey{"Extension", namespace, ref})
		return &id, note
	case raw != 0:
		return &raw, ""
	}
	return nil, ""
}

func (p *planner) planPhoneNumber(s *subject) {
	n := s.obj.(*v1alpha1.PhoneNumber)
	t := p.in.Tenants[s.acct]
	c := s.change()
	if conflict := p.keyConflict(s); conflict != "" {
		p.stall(s, c, ActionConflict, conflict)
		return
	}
	ext, waits := p.resolveExtension(n.Namespace, n.Spec.ExtensionRef.Name, n.Spec.ExtensionID)
	msgExt, msgWaits := p.resolveExtension(n.Namespace, n.Spec.MessageExtensionRef.Name, n.Spec.MessageExtensionID)
	dids := didsOf(t)
	id, byKey, conflict := p.find(s, &c, lookup{
		atID: func(id int64) (int64, string) {
			// The provider does not renumber a DID: one with other digits is another number.
			if d := dids.byID(id); d != nil && d.Name == n.Spec.Number {
				return id, ""
			}
			return 0, fmt.Sprintf("The DID %d is gone or has another number", id)
		},
		byKey: func() []int64 { return dids.withKey(n.Spec.Number) },
		ambiguous: func(ids []int64) string {
			return fmt.Sprintf("%d DIDs of the account have the number %s (ids %v): set the %s annotation to the id of the one to route", len(ids), n.Spec.Number, ids, v1alpha1.AnnotationExternalID)
		},
	})
	if w := cmp.Or(waits, msgWaits); w != "" {
		p.stall(s, c, ActionWaiting, w)
		return
	}
	switch {
	case conflict != "":
		p.stall(s, c, ActionConflict, conflict)
	case id == 0:
		// Numbers are allocated by the provider: the operator never creates one (NotFound).
		p.stall(s, c, ActionMissing, fmt.Sprintf("The number %s is not in the PBX account: numbers are allocated by the provider, so the operator cannot create one", n.Spec.Number))
	default:
		d := dids.byID(id)
		p.decide(s, c, id, byKey, !controller.PhoneNumberInUse(n, ext, msgExt, d), phoneNumberChanges(&n.Spec, ext, msgExt, d))
	}
}

func (p *planner) planSubscription(s *subject) {
	e := s.obj.(*v1alpha1.EventSubscription)
	t := p.in.Tenants[s.acct]
	c := s.change()
	if conflict := p.keyConflict(s); conflict != "" {
		p.stall(s, c, ActionConflict, conflict)
		return
	}
	ext, waits := p.resolveExtension(e.Namespace, e.Spec.ExtensionRef.Name, e.Spec.ExtensionID)
	if waits != "" {
		p.stall(s, c, ActionWaiting, waits)
		return
	}
	var events []pbx.Event
	if ext != nil && *ext > 0 {
		events = t.Events[*ext]
	}
	subs := pbxObjects[pbx.Event]{events, func(x pbx.Event) int64 { return x.ID }, controller.EventKey}
	want := controller.EventSpecKey(e)
	id, byKey, conflict := p.find(s, &c, lookup{
		atID: func(id int64) (int64, string) {
			x := subs.byID(id)
			switch {
			case x == nil:
				return 0, fmt.Sprintf("The PBX subscription %d is gone", id)
			case controller.EventKey(*x) != want && !isObserveOnly(&e.Spec.ManagedSpec) && (managed.ForeignKey(e, id, controller.EventKey(*x)) || p.idHolder(s, id) != ""):
				return 0, fmt.Sprintf("The PBX subscription %d sends other events than this resource ever asked for: it is left alone", id)
			}
			return id, ""
		},
		byKey: func() []int64 { return subs.withKey(want) },
		ambiguous: func(ids []int64) string {
			return fmt.Sprintf("%d subscriptions of the PBX extension %d send %s events to %s by %s (ids %v): set the %s annotation to the id of the one to manage",
				len(ids), *ext, e.Spec.EventType, controller.ShownURL(controller.EventURL(e)), cmp.Or(e.Spec.Method, v1alpha1.EventMethodPOST), ids, v1alpha1.AnnotationExternalID)
		},
	})
	switch {
	case conflict != "":
		p.stall(s, c, ActionConflict, conflict)
	case id == 0:
		p.missing(s, c, []FieldChange{
			{Field: "extension", To: extensionText(ext, e.Spec.ExtensionRef.Name)},
			{Field: "eventType", To: string(e.Spec.EventType)},
			{Field: "method", To: string(cmp.Or(e.Spec.Method, v1alpha1.EventMethodPOST))},
			{Field: "url", To: controller.ShownURL(controller.EventURL(e))},
		})
	default:
		p.decide(s, c, id, byKey, false, subscriptionChanges(e, subs.byID(id)))
	}
}

// planRemovals plans the cluster resources of the manifests' namespaces that the manifests no
// longer hold, as a pruning apply (Flux, Argo CD, kubectl apply --prune) deletes them.
func (p *planner) planRemovals() {
	namespaces := map[string]bool{}
	for _, list := range p.subjects {
		for _, s := range list {
			if s.desired {
				namespaces[s.key.namespace] = true
			}
		}
	}
	for _, k := range p.kinds() {
		kind := k.kind
		for _, s := range p.subjects[kind] {
			if s.desired || !namespaces[s.key.namespace] {
				continue
			}
			spec := s.obj.GetManagedSpec()
			c := s.change()
			c.PBXID = managed.KnownID(s.obj)
			switch {
			case !controllerutil.ContainsFinalizer(s.obj, v1alpha1.Finalizer):
				c.Action, c.Note = ActionRelease, "The operator never took its PBX object over (no finalizer): it stays"
			case c.PBXID == 0:
				c.Action, c.Note = ActionRelease, "No PBX object is recorded"
			case spec.DeletionPolicy == v1alpha1.DeletionPolicyOrphan:
				c.Action, c.Note = ActionRelease, "deletionPolicy Orphan leaves the PBX object in place"
			case isObserveOnly(spec):
				c.Action, c.Note = ActionRelease, "managementPolicy ObserveOnly leaves the PBX object in place"
			case kind == "PhoneNumber":
				p.unroute(s, &c)
			default:
				c.Action = ActionDelete
			}
			p.add(c)
		}
	}
}

// didsOf are a tenant's DIDs, keyed by their digits.
func didsOf(t Tenant) pbxObjects[pbx.DID] {
	return pbxObjects[pbx.DID]{t.DIDs, func(d pbx.DID) int64 { return d.ID }, func(d pbx.DID) string { return d.Name }}
}

// unroute plans the removal of a PhoneNumber: its number stays with the account (the provider
// allocates it) and loses the routing the resource gave it, which is a change only when it has
// some.
func (p *planner) unroute(s *subject, c *Change) {
	d := didsOf(p.in.Tenants[s.acct]).byID(c.PBXID)
	if d == nil {
		c.Action, c.Note = ActionRelease, "The number is not in the PBX account"
		return
	}
	n := s.obj.(*v1alpha1.PhoneNumber)
	if len(controller.PhoneNumberUnassign(&n.Spec, d)) == 0 {
		c.Action, c.Note = ActionRelease, "The number routes nothing already"
		return
	}
	c.Action, c.Note = ActionDelete, "The number stays with the account (the provider allocates it); its routing is removed"
}

// symbols mark actions in the text output, as terraform plan does.
var symbols = map[Action]string{
	ActionCreate: "+", ActionUpdate: "~", ActionAdopt: ">", ActionDelete: "-", ActionConflict: "!",
	ActionAlreadyExists: "!", ActionMissing: "!", ActionWaiting: "!", ActionDrifted: "~", ActionRelease: "-", ActionNoChange: "=",
	ActionPaused: "=",
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
	for _, a := range []Action{ActionCreate, ActionUpdate, ActionAdopt, ActionDelete, ActionConflict, ActionAlreadyExists, ActionMissing, ActionWaiting, ActionDrifted, ActionPaused, ActionRelease, ActionNoChange} {
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
