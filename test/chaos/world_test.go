package chaos

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// groupDecl is a declared ExtensionGroup (in nsMain) and the name of its PBX group.
type groupDecl struct{ cr, pbxName string }

// extDecl is a declared Extension.
type extDecl struct {
	ns, cr string
	number string // the short number; the PBX name is prefix*number
	group  string // the ExtensionGroup's name, "" for none
	orphan bool   // deletionPolicy Orphan
	remove bool   // deleted by the test in the delete phase
}

func (x extDecl) key() string      { return x.ns + "/" + x.cr }
func (x extDecl) fullName() string { return pbxsim.DemoPrefix + "*" + x.number }

// subDecl is a declared EventSubscription (in nsMain) on an Extension that stays: a webhook with a
// URL of its own, so that the PBX's subscriptions can be told apart by URL.
type subDecl struct {
	cr, ext string // the EventSubscription and its Extension
	full    string // the Extension's PBX name
	url     string
	remove  bool // deleted by the test in the delete phase (deletionPolicy Delete)
}

// numberDecl is a declared PhoneNumber (in nsMain) that routes one of the tenant's DIDs to an
// Extension that stays.
type numberDecl struct {
	cr, number string
	ext, full  string // the Extension and its PBX name
	remove     bool   // deleted by the test in the delete phase: the number is unassigned
}

// plan is the declared world, and what the test has deleted from it so far.
type plan struct {
	groups      []groupDecl
	exts        []extDecl
	subs        []subDecl
	numbers     []numberDecl
	deleted     bool // the delete phase has begun: the remove resources and nsGone's Account are deleted
	groupByName map[string]string
}

// objects is the number of PBX objects the plan creates before anything is deleted (numbers are
// routed, not created).
func (p *plan) objects() int { return len(p.groups) + len(p.exts) + len(p.subs) }

// manifests is the YAML of everything declared: per namespace a labelled credentials Secret and an
// Account, then the groups and the Extensions.
func (p *plan) manifests() string {
	var b strings.Builder
	for _, ns := range []string{nsMain, nsGone} {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Secret
metadata:
  name: %s
  namespace: %s
  labels:
    %s: "true"
type: Opaque
stringData:
  clientID: %s
  clientSecret: %s
  url: %s
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: %s
  namespace: %s
spec:
  url: %s
  credentialsSecretRef:
    name: %s
`, secretName, ns, credentialsLabel, pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret, simURL, accountName, ns, simURL, secretName)
	}
	for _, g := range p.groups {
		fmt.Fprintf(&b, `---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: ExtensionGroup
metadata:
  name: %s
  namespace: %s
spec:
  accountRef: {kind: Account, name: %s}
  name: %s
`, g.cr, nsMain, accountName, g.pbxName)
	}
	for _, x := range p.exts {
		fmt.Fprintf(&b, `---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata:
  name: %s
  namespace: %s
spec:
  accountRef: {kind: Account, name: %s}
  name: "%s"
  type: Phone
  label: Chaos %s
`, x.cr, x.ns, accountName, x.number, x.number)
		if x.group != "" {
			fmt.Fprintf(&b, "  groupRef: {name: %s}\n", x.group)
		}
		if x.orphan {
			b.WriteString("  deletionPolicy: Orphan\n")
		}
	}
	for _, s := range p.subs {
		fmt.Fprintf(&b, `---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: EventSubscription
metadata:
  name: %s
  namespace: %s
spec:
  accountRef: {kind: Account, name: %s}
  extensionRef: {name: %s}
  eventType: Hangup
  url: %s
`, s.cr, nsMain, accountName, s.ext, s.url)
	}
	for _, n := range p.numbers {
		fmt.Fprintf(&b, `---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: PhoneNumber
metadata:
  name: %s
  namespace: %s
spec:
  accountRef: {kind: Account, name: %s}
  number: "%s"
  extensionRef: {name: %s}
`, n.cr, nsMain, accountName, n.number, n.ext)
	}
	return b.String()
}

// observed is one look at the cluster and at the PBX, keyed by namespace/name.
type observed struct {
	exts     map[string]*v1alpha1.Extension
	groups   map[string]*v1alpha1.ExtensionGroup
	subs     map[string]*v1alpha1.EventSubscription
	numbers  map[string]*v1alpha1.PhoneNumber
	accounts map[string]*v1alpha1.Account
	pbx      pbxsim.Snapshot
}

// observe reads the resources of both namespaces, then the PBX's world.
func observe(snap func() pbxsim.Snapshot) (observed, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var exts v1alpha1.ExtensionList
	var groups v1alpha1.ExtensionGroupList
	var subs v1alpha1.EventSubscriptionList
	var numbers v1alpha1.PhoneNumberList
	var accounts v1alpha1.AccountList
	for _, l := range []client.ObjectList{&exts, &groups, &subs, &numbers, &accounts} {
		if err := kube.List(ctx, l); err != nil {
			return observed{}, err
		}
	}
	return observed{
		exts: byKey(exts.Items), groups: byKey(groups.Items), subs: byKey(subs.Items), numbers: byKey(numbers.Items),
		accounts: byKey(accounts.Items), pbx: snap(),
	}, nil
}

// byKey indexes the items of a list by namespace/name.
func byKey[T any, P interface {
	*T
	client.Object
}](items []T) map[string]P {
	out := make(map[string]P, len(items))
	for i := range items {
		o := P(&items[i])
		out[o.GetNamespace()+"/"+o.GetName()] = o
	}
	return out
}

// num reads a JSON number of the snapshot as an id; null is 0.
func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// pbxIndex is the PBX's world by natural key and by id.
type pbxIndex struct {
	groupIDs map[string][]int64 // by name: group names are not unique in the PBX
	groupAt  map[int64]string
	extIDs   map[string][]int64 // by full name
	extAt    map[int64]map[string]any
}

func index(s pbxsim.Snapshot) pbxIndex {
	ix := pbxIndex{groupIDs: map[string][]int64{}, groupAt: map[int64]string{}, extIDs: map[string][]int64{}, extAt: map[int64]map[string]any{}}
	for _, g := range s.ExtensionGroups {
		name, _ := g["name"].(string)
		ix.groupIDs[name] = append(ix.groupIDs[name], num(g["id"]))
		ix.groupAt[num(g["id"])] = name
	}
	for _, x := range s.Extensions {
		name, _ := x["name"].(string)
		ix.extIDs[name] = append(ix.extIDs[name], num(x["id"]))
		ix.extAt[num(x["id"])] = x
	}
	return ix
}

// groupAtID says what the PBX holds at a group id a resource has in status.
func (ix pbxIndex) groupAtID(id int64) string {
	if id == 0 {
		return "no status.id"
	}
	if name, ok := ix.groupAt[id]; ok {
		return fmt.Sprintf("PBX group %d is %q", id, name)
	}
	return fmt.Sprintf("no PBX group has id %d", id)
}

// extAtID says what the PBX holds at an extension id a resource has in status.
func (ix pbxIndex) extAtID(id int64) string {
	if id == 0 {
		return "no status.id"
	}
	if x, ok := ix.extAt[id]; ok {
		return fmt.Sprintf("PBX extension %d is %v", id, x["name"])
	}
	return fmt.Sprintf("no PBX extension has id %d", id)
}

// check compares the observed world with the plan and returns every difference, one line each,
// starting with its category ("not ready", "missing", "duplicate", "leaked", "wrong id", "shared
// id", "wrong group", "stuck"). Ready=True is always required of the resources that stay; strict
// (faults off, converged) also requires Synced=True.
func (p *plan) check(o observed, strict bool) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	ix := index(o.pbx)
	claims := map[string][]string{} // "kind id" -> resources with that status.id

	for _, ns := range []string{nsMain, nsGone} {
		key := ns + "/" + accountName
		a := o.accounts[key]
		switch {
		case ns == nsGone && p.deleted:
			if a != nil {
				add("stuck: account %s is still there: %s", key, deleting(a, a.Status.Conditions))
			}
		case a == nil:
			add("missing CR: account %s is gone from the cluster", key)
		default:
			if c := conditions(a.Status.Conditions, false); c != "" {
				add("not ready: account %s: %s", key, c)
			}
		}
	}

	declaredGroups := map[string]bool{}
	for _, g := range p.groups {
		key := nsMain + "/" + g.cr
		declaredGroups[g.pbxName] = true
		cr := o.groups[key]
		if cr == nil {
			add("missing CR: extgroup %s is gone from the cluster", key)
			continue
		}
		if c := conditions(cr.Status.Conditions, strict); c != "" {
			add("not ready: extgroup %s (PBX group %q, %s): %s", key, g.pbxName, ix.groupAtID(cr.Status.ID), c)
		}
		switch ids := ix.groupIDs[g.pbxName]; {
		case len(ids) == 0:
			add("missing: PBX group %q of extgroup %s (%s)", g.pbxName, key, ix.groupAtID(cr.Status.ID))
		case len(ids) == 1 && cr.Status.ID != ids[0]:
			add("wrong id: extgroup %s has status.id %d (%s), but PBX group %q is id %d", key, cr.Status.ID, ix.groupAtID(cr.Status.ID), g.pbxName, ids[0])
		case len(ids) > 1 && !slices.Contains(ids, cr.Status.ID):
			add("wrong id: extgroup %s has status.id %d (%s), none of the PBX groups named %q (ids %v)", key, cr.Status.ID, ix.groupAtID(cr.Status.ID), g.pbxName, ids)
		}
		if cr.Status.ID != 0 {
			k := fmt.Sprintf("group %d", cr.Status.ID)
			claims[k] = append(claims[k], "extgroup "+key)
		}
	}
	for name, ids := range ix.groupIDs {
		if len(ids) > 1 {
			add("duplicate: PBX group %q exists %d times, ids %v", name, len(ids), ids)
		}
		if !declaredGroups[name] {
			add("leaked: PBX group %q (ids %v) belongs to no ExtensionGroup", name, ids)
		}
	}

	wanted := map[string]bool{}      // full names of Extensions that stay
	orphaned := map[string]bool{}    // full names of deleted Extensions with policy Orphan
	deletedBy := map[string]string{} // full names of deleted Extensions with policy Delete
	for _, x := range p.exts {
		key, full := x.key(), x.fullName()
		cr := o.exts[key]
		if p.deleted && x.remove {
			if cr != nil {
				add("stuck: ext %s (%s) is still there: %s", key, full, deleting(cr, cr.Status.Conditions))
			}
			if x.orphan {
				orphaned[full] = true
				if len(ix.extIDs[full]) == 0 {
					add("missing: PBX extension %s of ext %s, deleted with deletionPolicy Orphan, is gone from the PBX", full, key)
				}
			} else {
				deletedBy[full] = key
			}
			continue
		}
		wanted[full] = true
		if cr == nil {
			add("missing CR: ext %s is gone from the cluster", key)
			continue
		}
		if c := conditions(cr.Status.Conditions, strict); c != "" {
			add("not ready: ext %s (%s, %s): %s", key, full, ix.extAtID(cr.Status.ID), c)
		}
		ids := ix.extIDs[full]
		switch {
		case len(ids) == 0:
			add("missing: PBX extension %s of ext %s (%s)", full, key, ix.extAtID(cr.Status.ID))
		case len(ids) == 1 && cr.Status.ID != ids[0]:
			add("wrong id: ext %s has status.id %d (%s), but PBX extension %s is id %d", key, cr.Status.ID, ix.extAtID(cr.Status.ID), full, ids[0])
		}
		if len(ids) == 1 && x.group != "" {
			name := p.groupByName[x.group]
			gids := ix.groupIDs[name]
			if got := num(ix.extAt[ids[0]]["extension_group_id"]); len(gids) == 1 && got != gids[0] {
				add("wrong group: PBX extension %s of ext %s is in group id %d, not in %q (id %d)", full, key, got, name, gids[0])
			}
		}
		if cr.Status.ID != 0 {
			k := fmt.Sprintf("extension %d", cr.Status.ID)
			claims[k] = append(claims[k], "ext "+key)
		}
	}
	for full, ids := range ix.extIDs {
		if len(ids) > 1 {
			add("duplicate: PBX extension %s exists %d times, ids %v", full, len(ids), ids)
		}
		switch {
		case wanted[full] || orphaned[full]:
		case deletedBy[full] != "":
			add("leaked: PBX extension %s (ids %v) of ext %s, deleted with deletionPolicy Delete, is still in the PBX", full, ids, deletedBy[full])
		default:
			add("leaked: PBX extension %s (ids %v) belongs to no Extension", full, ids)
		}
	}
	out = append(out, p.checkSubs(o, ix, strict)...)
	out = append(out, p.checkNumbers(o, ix, strict)...)
	for k, crs := range claims {
		if len(crs) > 1 {
			slices.Sort(crs)
			add("shared id: %s all have status.id of PBX %s", strings.Join(crs, ", "), k)
		}
	}
	slices.Sort(out)
	return out
}

// checkSubs compares the EventSubscriptions and the PBX's subscriptions: each one that stays has
// exactly one PBX subscription with its URL, on its extension, at its status.id; no other PBX
// subscription exists (those of deleted EventSubscriptions are leaks).
func (p *plan) checkSubs(o observed, ix pbxIndex, strict bool) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	byURL := map[string][]map[string]any{}
	for _, e := range o.pbx.Events {
		url, _ := e["url"].(string)
		byURL[url] = append(byURL[url], e)
	}
	wanted := map[string]bool{}
	deletedBy := map[string]string{}
	for _, s := range p.subs {
		key := nsMain + "/" + s.cr
		removed := p.deleted && s.remove
		if removed {
			deletedBy[s.url] = key
		} else {
			wanted[s.url] = true
		}
		cr, ok := declared(add, o.subs, "evsub", key, s.url, removed, strict)
		if !ok {
			continue
		}
		evs := byURL[s.url]
		switch ext := ix.extIDs[s.full]; {
		case len(evs) == 0:
			add("missing: PBX subscription %s of evsub %s (status.id %d)", s.url, key, cr.Status.ID)
		case len(evs) > 1:
			add("duplicate: PBX subscription %s of evsub %s exists %d times: %v", s.url, key, len(evs), evs)
		case len(ext) == 1 && num(evs[0]["extension_id"]) != ext[0]:
			add("wrong extension: PBX subscription %s of evsub %s is on extension %d, not on %s (id %d)", s.url, key, num(evs[0]["extension_id"]), s.full, ext[0])
		case cr.Status.ID != num(evs[0]["id"]):
			add("wrong id: evsub %s has status.id %d, but its PBX subscription %s is id %d", key, cr.Status.ID, s.url, num(evs[0]["id"]))
		}
	}
	for url, evs := range byURL {
		switch {
		case wanted[url]:
		case deletedBy[url] != "":
			add("leaked: PBX subscription %s (%d) of evsub %s, deleted with deletionPolicy Delete, is still in the PBX", url, len(evs), deletedBy[url])
		default:
			add("leaked: PBX subscription %s (%d) belongs to no EventSubscription", url, len(evs))
		}
	}
	return out
}

// checkNumbers compares the PhoneNumbers and the PBX's DIDs: each one that stays routes its number
// to its extension and records the DID's id; every other number (those of deleted PhoneNumbers
// included) rings nowhere.
func (p *plan) checkNumbers(o observed, ix pbxIndex, strict bool) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	dids := map[string]map[string]any{}
	for _, d := range o.pbx.DIDs {
		name, _ := d["name"].(string)
		dids[name] = d
	}
	routed := map[string]bool{}
	for _, n := range p.numbers {
		key := nsMain + "/" + n.cr
		removed := p.deleted && n.remove
		if !removed {
			routed[n.number] = true
		}
		cr, ok := declared(add, o.numbers, "did", key, n.number, removed, strict)
		if !ok {
			continue
		}
		d := dids[n.number]
		if ext := ix.extIDs[n.full]; len(ext) == 1 && num(d["extension_id"]) != ext[0] {
			add("wrong route: number %s of did %s rings at extension %d, not at %s (id %d)", n.number, key, num(d["extension_id"]), n.full, ext[0])
		}
		if cr.Status.ID != num(d["id"]) {
			add("wrong id: did %s has status.id %d, but the DID %s is id %d", key, cr.Status.ID, n.number, num(d["id"]))
		}
	}
	for name, d := range dids {
		if !routed[name] && d["extension_id"] != nil {
			add("leaked: number %s rings at extension %d, and no PhoneNumber routes it", name, num(d["extension_id"]))
		}
	}
	return out
}

// declared checks the custom resource of a declared object: one the test deleted must be gone, one
// that stays must exist and be Ready (and Synced, when strict). It returns the resource, and whether
// its PBX side is to be checked (it stays and exists). what says which object it is in messages.
func declared[P interface {
	client.Object
	GetManagedStatus() *v1alpha1.ManagedStatus
}](add func(string, ...any), crs map[string]P, kind, key, what string, removed, strict bool) (P, bool) {
	cr, ok := crs[key]
	switch {
	case removed && ok:
		add("stuck: %s %s is still there: %s", kind, key, deleting(cr, cr.GetManagedStatus().Conditions))
	case removed:
	case !ok:
		add("missing CR: %s %s is gone from the cluster", kind, key)
	default:
		if c := conditions(cr.GetManagedStatus().Conditions, strict); c != "" {
			add("not ready: %s %s (%s): %s", kind, key, what, c)
		}
	}
	return cr, ok && !removed
}

// conditions describes the Ready and Synced conditions when they are not as wanted: Ready=True
// always, Synced=True when strict; "" when they are.
func conditions(conds []metav1.Condition, strict bool) string {
	ready := meta.IsStatusConditionTrue(conds, v1alpha1.ConditionReady)
	synced := !strict || meta.IsStatusConditionTrue(conds, v1alpha1.ConditionSynced)
	if ready && synced {
		return ""
	}
	return describe(conds)
}

// describe shows a resource's Ready and Synced conditions with their reasons and messages.
func describe(conds []metav1.Condition) string {
	var parts []string
	for _, t := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionSynced} {
		c := meta.FindStatusCondition(conds, t)
		if c == nil {
			parts = append(parts, t+" not set")
			continue
		}
		msg := c.Message
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		parts = append(parts, fmt.Sprintf("%s=%s %s %q", t, c.Status, c.Reason, msg))
	}
	return strings.Join(parts, "; ")
}

// deleting describes a resource that should be gone.
func deleting(obj client.Object, conds []metav1.Condition) string {
	since := "not being deleted"
	if ts := obj.GetDeletionTimestamp(); ts != nil {
		since = fmt.Sprintf("deleting for %v", time.Since(ts.Time).Round(time.Second))
	}
	return fmt.Sprintf("%s, finalizers %v; %s", since, obj.GetFinalizers(), describe(conds))
}

// report is the problems for a failure message: a count per category, then up to 25 lines of
// each category.
func report(problems []string) string {
	byCat := map[string][]string{}
	for _, p := range problems {
		cat, _, _ := strings.Cut(p, ":")
		byCat[cat] = append(byCat[cat], p)
	}
	cats := make([]string, 0, len(byCat))
	for c := range byCat {
		cats = append(cats, c)
	}
	slices.SortFunc(cats, func(a, b string) int { return cmp.Or(cmp.Compare(len(byCat[a]), len(byCat[b])), cmp.Compare(a, b)) })
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(problems))
	for _, c := range cats {
		fmt.Fprintf(&b, " %d %s;", len(byCat[c]), c)
	}
	const most = 25
	for _, c := range cats {
		// Groups first: there are few, and the extensions' problems often follow from theirs.
		slices.SortStableFunc(byCat[c], func(a, b string) int {
			return cmp.Compare(groupLast(a), groupLast(b))
		})
		for i, p := range byCat[c] {
			if i == most {
				fmt.Fprintf(&b, "\n  ... and %d more %s", len(byCat[c])-most, c)
				break
			}
			b.WriteString("\n  " + p)
		}
	}
	return b.String()
}

// groupLast is 0 for a problem about a group and 1 for the others.
func groupLast(problem string) int {
	if strings.Contains(problem, "extgroup ") || strings.Contains(problem, "PBX group ") {
		return 0
	}
	return 1
}
