package controller

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// Options configure the managed-kind controllers.
type Options struct {
	// Registry holds the accounts' connections.
	Registry *account.Registry
	// PollInterval is how often objects in sync are checked for changes made in the PBX, unless
	// their account sets its own.
	PollInterval time.Duration
	// Concurrency is the number of resources of a kind reconciled at once.
	Concurrency int
	// Timeout bounds the PBX calls of one reconcile.
	Timeout time.Duration
	// RoutineEventsPerSecond bounds the routine (Normal) events of each kind, with a burst of five
	// times as many; 0 means no bound. Warnings are never left out.
	RoutineEventsPerSecond float64
	// Metrics, when set, counts what the engines of every kind do (register its Collectors, or
	// Collectors of this package, which include them).
	Metrics *managed.Metrics
	// Shard is the part of the accounts and resources this manager reconciles; the zero Shard is
	// all of them. The manager's cache holds only the shard's objects (CacheOptions).
	Shard Shard

	// placement tells a resource whose account is not in a sharded manager's cache whether it is
	// on another shard; nil when the manager is not sharded.
	placement *placement
}

// routineBurst is the burst of routine events of each kind, in seconds of
// Options.RoutineEventsPerSecond: a small apply gets a Created event for each object, and a mass
// create spends few API-server writes on events (with the two writes of each create, at most 2.5
// writes per created object from 100 objects on at the default 5 a second).
const routineBurst = 5

// managedKind is what setupManaged needs to know of one managed kind.
type managedKind[O managed.Object] struct {
	name       string
	object     O
	newList    func() client.ObjectList
	naturalKey func(O) string
	connector  managed.Connector[O]
	// drift brings the resources whose PBX objects changed outside the operator, from the kind's
	// snapshots.
	drift *driftQueue
	// watches adds the kind's own watches.
	watches func(*builder.Builder) *builder.Builder
}

// setupManaged registers the engine for one managed kind: field indexes, the claim check, the
// watches of accounts, the drift events of the account snapshots, and the predicate.
func setupManaged[O managed.Object](mgr ctrl.Manager, o Options, k managedKind[O], recorder events.EventRecorder) error {
	ctx := context.Background()
	claims := managed.Claims[O]{
		Reader:  mgr.GetClient(),
		NewList: k.newList,
		Key:     func(obj O) string { return managed.ClaimKey(obj, k.naturalKey(obj)) },
	}
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, k.object, managed.ClaimIndex, claims.IndexValue); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, k.object, managed.IDIndex, claims.IDIndexValue); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, k.object, indexAccount, accountIndexValue); err != nil {
		return err
	}
	opts := []managed.Option[O]{
		managed.WithPollInterval[O](o.PollInterval, 0.1),
		managed.WithTimeout[O](o.Timeout),
		managed.WithRecorder[O](recorder),
		managed.WithClaims[O](claims),
		managed.WithAPIReader[O](mgr.GetAPIReader()),
	}
	if o.RoutineEventsPerSecond > 0 {
		opts = append(opts, managed.WithRoutineEvents[O](o.RoutineEventsPerSecond, int(routineBurst*o.RoutineEventsPerSecond)))
	}
	if o.Metrics != nil {
		gvk, err := apiutil.GVKForObject(k.object, mgr.GetScheme())
		if err != nil {
			return err
		}
		opts = append(opts, managed.WithMetrics[O](o.Metrics, gvk.Kind))
	}
	r := managed.NewReconciler(mgr.GetClient(), k.connector, opts...)
	c := mgr.GetClient()
	b := ctrl.NewControllerManagedBy(mgr).
		For(k.object, builder.WithPredicates(managed.DesiredStateChanged())).
		Named(k.name).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(o.Concurrency, 1), RateLimiter: retryLimiter()}).
		Watches(&v1alpha1.Account{}, usersOf(c, k.newList), builder.WithPredicates(accountReadiness())).
		Watches(&v1alpha1.ClusterAccount{}, usersOf(c, k.newList), builder.WithPredicates(accountReadiness())).
		WatchesMetadata(&corev1.Namespace{}, clusterAccountUsersIn(c, k.newList), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WatchesRawSource(k.drift.source())
	if k.watches != nil {
		b = k.watches(b)
	}
	return b.Complete(reconcile.AsReconciler(c, r))
}

// clusterAccountUsersIn maps a namespace whose labels changed to its resources that use a
// ClusterAccount: a namespaceSelector may select the namespace now, or no longer.
func clusterAccountUsersIn(c client.Reader, newList func() client.ObjectList) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, ns client.Object) []reconcile.Request {
		list := newList()
		if err := c.List(ctx, list, client.InNamespace(ns.GetName())); err != nil {
			return nil
		}
		var out []reconcile.Request
		for _, o := range items(list) {
			if m, ok := o.(managed.Object); ok && m.GetManagedSpec().AccountRef.Kind == v1alpha1.AccountKindClusterAccount {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
			}
		}
		return out
	})
}

// driftQueue takes the resources whose PBX objects changed outside the operator, as the snapshot
// refreshes report them, straight into the kind's workqueue, which never blocks and merges repeats.
// A report made before the controller starts is dropped: every resource is reconciled at start.
type driftQueue struct {
	queue atomic.Pointer[workqueue.TypedRateLimitingInterface[reconcile.Request]]
}

// notify queues the resources.
func (d *driftQueue) notify(names []types.NamespacedName) {
	if q := d.queue.Load(); q != nil {
		for _, n := range names {
			(*q).Add(reconcile.Request{NamespacedName: n})
		}
	}
}

// source is the controller's source of drift: it only remembers the workqueue.
func (d *driftQueue) source() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		d.queue.Store(&q)
		return nil
	})
}

// maxRetryWait is the longest wait before a failed pass is tried again.
const maxRetryWait = time.Minute

// retryLimiter spaces the retries of failed passes (transient PBX errors, an account that cannot
// be checked): exponentially from 5 ms, at most maxRetryWait apart. controller-runtime's default
// goes up to 16 minutes and adds a bucket of 10 retries a second for the whole kind, so after a
// spell of faults (or a restart under them) a resource could sit for many minutes after the PBX
// recovered, and a thousand could take minutes to drain. A minute keeps a failing resource from
// hot-looping (its requests are paced by its account besides) and bounds its recovery.
func retryLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxRetryWait)
}

// connectionWait is how soon a resource looks again for its account's connection while the
// account is Ready but its connection is not built yet (right after a manager start).
const connectionWait = 2 * time.Second

// connection returns the connection of a managed resource's account, which must act for a
// client-level PBX user: only those manage groups and extensions. On a sharded manager, an account
// on another shard is an InvalidSpec that names the label to set (placement).
func connection(ctx context.Context, c client.Reader, o Options, obj managed.Object) (*account.Connection, error) {
	reg := o.Registry
	k := account.KeyFor(obj.GetManagedSpec().AccountRef, obj.GetNamespace())
	if err := selects(ctx, c, k, obj.GetNamespace()); err != nil {
		if !obj.GetDeletionTimestamp().IsZero() && managed.Classify(err).Terminal {
			// Not terminal while deleting: the resource waits for its namespace to be selected
			// again, or for its owner to let its PBX object go.
			return nil, managed.DependencyNotReady("%s, so the PBX object cannot be deleted: set deletionPolicy: Orphan to leave the PBX object in place and let the resource go",
				strings.TrimSuffix(managed.Classify(err).Message, "."))
		}
		return nil, err
	}
	// On a sharded manager an account missing from the cache may be on another shard: then the
	// resource is not waiting for it, it is on the wrong shard. Its connection, if this manager
	// still holds one, is going: the account just left the shard.
	if err := o.placement.check(ctx, c, k); err != nil {
		return nil, err
	}
	conn, ok := reg.Connection(k)
	if !ok {
		ready := accountReady(ctx, c, k)
		switch {
		case ready != nil && ready.Status == metav1.ConditionTrue,
			ready != nil && ready.Reason == v1alpha1.ReasonInUse:
			// A manager that just started has no connections yet; the account controller is making
			// them (a deleted account still in use, too). Waiting quietly keeps thousands of
			// resources from flapping to DependencyNotReady.
			return nil, managed.Wait(connectionWait, "waiting for the connection of %s", k)
		case !obj.GetDeletionTimestamp().IsZero():
			return nil, managed.DependencyNotReady("%s does not work (%s), so the PBX object cannot be deleted: fix the account, or set deletionPolicy: Orphan to leave the PBX object in place",
				k, accountProblem(ready))
		default:
			return nil, managed.DependencyNotReady("%s is not Ready: %s", k, accountProblem(ready))
		}
	}
	if conn.Prefix == "" {
		return nil, managed.InvalidSpec("%s acts for a PBX user of realm %s; managing groups and extensions needs a client-level user", k, conn.Realm.Kind)
	}
	return conn, nil
}

// selects refuses a resource the use of a ClusterAccount whose namespaceSelector does not select
// the resource's namespace: whoever may create resources in a namespace may use only the
// ClusterAccounts a cluster administrator opened to it. A ClusterAccount that does not exist (yet)
// is the connection's business, which reports it.
func selects(ctx context.Context, c client.Reader, k account.Key, namespace string) error {
	if k.Kind != v1alpha1.AccountKindClusterAccount {
		return nil
	}
	var a v1alpha1.ClusterAccount
	if err := c.Get(ctx, client.ObjectKey{Name: k.Name}, &a); err != nil {
		return client.IgnoreNotFound(err)
	}
	refused := managed.InvalidSpec("%s may not be used from namespace %s: its spec.namespaceSelector does not select this namespace (unset selects none); ask a cluster administrator to select it, or use an Account of this namespace",
		k, namespace)
	if a.Spec.NamespaceSelector == nil {
		return refused
	}
	sel, err := metav1.LabelSelectorAsSelector(a.Spec.NamespaceSelector)
	if err != nil {
		return managed.InvalidSpec("%s has an invalid spec.namespaceSelector: %v", k, err)
	}
	if sel.Empty() {
		return nil
	}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return err
	}
	if !sel.Matches(labels.Set(ns.Labels)) {
		return refused
	}
	return nil
}

// accountProblem says in a few words why an account is not Ready.
func accountProblem(ready *metav1.Condition) string {
	switch {
	case ready == nil:
		return "it does not exist or has not been checked yet"
	case ready.Message != "":
		return ready.Reason + ": " + managed.Truncate(ready.Message, 200)
	default:
		return ready.Reason
	}
}

// accountReady returns an account's Ready condition in the API server, or nil when the account or
// its condition does not exist.
func accountReady(ctx context.Context, c client.Reader, k account.Key) *metav1.Condition {
	var conds []metav1.Condition
	if k.Kind == v1alpha1.AccountKindClusterAccount {
		var a v1alpha1.ClusterAccount
		if c.Get(ctx, client.ObjectKey{Name: k.Name}, &a) != nil {
			return nil
		}
		conds = a.Status.Conditions
	} else {
		var a v1alpha1.Account
		if c.Get(ctx, client.ObjectKey{Namespace: k.Namespace, Name: k.Name}, &a) != nil {
			return nil
		}
		conds = a.Status.Conditions
	}
	return meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
}

// foreignID refuses a raw PBX id (field, as the spec names it) that names an object a resource of
// another namespace manages through the same ClusterAccount: its status records the id, which only
// the operator writes, so nobody can make a tenant's raw ids refused by claiming its objects. A
// tenant may name by id only its own namespace's objects or objects no resource manages; through
// a namespaced Account it holds the client's credentials anyway. list is an empty list of the
// kind the id names.
func foreignID(ctx context.Context, c client.Reader, from managed.Object, field string, id int64, list client.ObjectList) error {
	if id == 0 || from.GetManagedSpec().AccountRef.Kind != v1alpha1.AccountKindClusterAccount {
		return nil
	}
	if err := c.List(ctx, list, client.MatchingFields{managed.IDIndex: managed.ClaimKey(from, "id="+strconv.FormatInt(id, 10))}); err != nil {
		return err
	}
	for _, o := range items(list) {
		if m, ok := o.(managed.Object); ok && o.GetNamespace() != from.GetNamespace() && m.GetManagedStatus().ID == id {
			return managed.InvalidSpec("%s %d names a PBX object that a resource in another namespace manages: a raw id may name only objects of this namespace or objects no resource manages",
				field, id)
		}
	}
	return nil
}

// readyRef reads into ref the managed resource named name in from's namespace, and checks that it
// uses from's account, passes check (when set), and is Ready with a PBX id. what names it in the
// messages ("The ExtensionGroup sales").
func readyRef[O managed.Object](ctx context.Context, c client.Reader, from managed.Object, name, what string, ref O, check func(O) error) error {
	if err := c.Get(ctx, client.ObjectKey{Namespace: from.GetNamespace(), Name: name}, ref); err != nil {
		if apierrors.IsNotFound(err) {
			return managed.DependencyNotReady("%s does not exist", what)
		}
		return err
	}
	if a := ref.GetManagedSpec().AccountRef; a != from.GetManagedSpec().AccountRef {
		return managed.InvalidSpec("%s uses another account (%s %s)", what, a.Kind, a.Name)
	}
	if check != nil {
		if err := check(ref); err != nil {
			return err
		}
	}
	if !meta.IsStatusConditionTrue(ref.GetManagedStatus().Conditions, v1alpha1.ConditionReady) || ref.GetManagedStatus().ID == 0 {
		return managed.DependencyNotReady("%s is not Ready", what)
	}
	return nil
}

// pbxRef is a PBX object that a resource names through another resource (the Extension a
// PhoneNumber routes to or an EventSubscription is on, the ExtensionGroup of an Extension), by the id
// that resource's status records, or a raw id.
type pbxRef struct {
	// what names the resource in messages ("The Extension alice (extensionRef)").
	what string
	// noun is the PBX object's kind in messages ("extension").
	noun string
	id   int64
	// names are the names the object may carry; none for a raw id, which nothing confirms.
	names []string
}

// extensionRef is the PBX extension of an Extension.
func extensionRef(what string, e *v1alpha1.Extension) pbxRef {
	return pbxRef{what: what, noun: "extension", id: e.Status.ID, names: []string{e.Status.FullName}}
}

// groupRef is the PBX group of an ExtensionGroup: its name, or during a rename any name recorded
// for it.
func groupRef(what string, g *v1alpha1.ExtensionGroup) pbxRef {
	names := []string{g.Spec.Name}
	if keys, ok := managed.RecordedKeys(g, g.Status.ID); ok {
		names = append(names, keys...)
	}
	return pbxRef{what: what, noun: "group", id: g.Status.ID, names: names}
}

// name is the name the object should carry; "" for a raw id.
func (r pbxRef) name() string {
	if len(r.names) == 0 {
		return ""
	}
	return r.names[0]
}

// confirm checks, before a write that names the object, that the PBX object at the id is still the
// resource's: it carries one of its names (read reads the name at an id). The id comes from the
// resource's status, which is stale from the moment the PBX loses its data until the resource looks
// again: the PBX may have given the id to another object, and a write made then would route calls
// to, send the events of, or put an extension in somebody else's object, and leave a subscription
// behind there. One GET, made only by a pass about to write.
func (r pbxRef) confirm(ctx context.Context, read func(context.Context, int64) (string, error)) error {
	if len(r.names) == 0 || slices.Contains(r.names, "") {
		return nil
	}
	name, err := read(ctx, r.id)
	switch {
	case pbx.IsNotFound(err):
		return managed.DependencyNotReady("%s records the PBX %s %d, which the PBX no longer has; waiting for it to make it again", r.what, r.noun, r.id)
	case err != nil:
		return err
	case !slices.Contains(r.names, name):
		return managed.DependencyNotReady("%s records the PBX %s %d, which is %s now, not %s (the PBX lost its data and gave the id to another %s); waiting for it to find its own",
			r.what, r.noun, r.id, name, r.names[0], r.noun)
	}
	return nil
}

// mayWrite tells whether a pass of the resource may write to the PBX: it is neither being deleted
// nor only observed. References are confirmed only then (a GET nobody needs otherwise).
func mayWrite(o managed.Object) bool {
	return o.GetDeletionTimestamp().IsZero() && o.GetManagedSpec().ManagementPolicy != v1alpha1.ManagementPolicyObserveOnly
}

// extensionName reads the name of the PBX extension at an id.
func extensionName(conn *account.Connection) func(context.Context, int64) (string, error) {
	return func(ctx context.Context, id int64) (string, error) {
		x, err := conn.Client.Extensions.Get(ctx, conn.Realm, id)
		if err != nil {
			return "", err
		}
		return x.Name, nil
	}
}

// groupName reads the name of the PBX group at an id.
func groupName(conn *account.Connection) func(context.Context, int64) (string, error) {
	return func(ctx context.Context, id int64) (string, error) {
		g, err := conn.Client.Groups.Get(ctx, conn.Realm, id)
		if err != nil {
			return "", err
		}
		return g.Name, nil
	}
}
