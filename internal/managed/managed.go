package managed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// Object is a custom resource that stands for one PBX object. Each managed kind implements it
// with two one-line methods in its types file.
type Object interface {
	client.Object
	GetManagedSpec() *v1alpha1.ManagedSpec
	GetManagedStatus() *v1alpha1.ManagedStatus
}

// Observation is what an adapter saw of the PBX object.
type Observation struct {
	// Exists is true when the PBX object was found.
	Exists bool
	// UpToDate is true when the PBX object matches the spec.
	UpToDate bool
	// Diff names what differs, for logs, the Updated event and ObserveOnly's condition.
	Diff string
	// ExternalID is the PBX id of the object found. When the resource has no id recorded yet
	// (the object was found by its natural key), the engine records it if the object is ours
	// (create-pending), adopted or only observed, and reports AlreadyExists otherwise.
	ExternalID int64
	// Key is the natural key of the object found, for a kind whose key the PBX changes in place
	// (Adapter.Key). The engine decides whether an object at the recorded id with another key
	// than the spec's is the resource's (keys.go). An adapter whose natural key cannot change
	// upstream (an extension's number) reports an object with another key at the recorded id as
	// not existing instead.
	Key string
	// Unclaimed says that the object found by its natural key is nobody's: no create could have
	// made it and nothing uses it, so the key alone makes it the resource's (a DID, which the
	// provider allocates, that is free or already routed as the spec asks). The engine records its
	// id without a create-pending mark or adopt annotation; an object found by key that is not
	// Unclaimed is somebody else's until adopted (AlreadyExists).
	Unclaimed bool
}

// Adapter is the per-kind part of the lifecycle, bound to one PBX account: four verbs against the
// PBX, what identifies the kind's objects besides their id, and the account's pace. Every method
// is required: a kind states each of these facts, even when its answer is "none" (an extension's
// number never changes in place, so its Key says so), and a missing or mistyped method is a
// compile error, never a feature silently off.
type Adapter[O Object] interface {
	// Observe finds the PBX object: by status.id when it is set, otherwise by the natural key. It
	// never changes the PBX. It may fill observed read-only status fields. Not found is
	// Exists=false, not an error. Unless since is zero, the look reads nothing listed before it:
	// after a create whose answer was lost, or when the user asks for a fresh look; a zero since
	// accepts the account's snapshot of the current poll interval.
	Observe(ctx context.Context, obj O, since time.Time) (Observation, error)
	// Create creates the PBX object and returns its id. It is called only when Observe said the
	// object does not exist.
	Create(ctx context.Context, obj O) (int64, error)
	// Update changes the PBX object to match the spec, sending only what differs. It is called
	// only when the object exists and is not up to date.
	Update(ctx context.Context, obj O) error
	// Delete deletes the PBX object; an object already gone is not an error.
	Delete(ctx context.Context, obj O) error

	// Key returns the natural key the spec asks for, as Observation.Key writes it, and whether
	// the PBX changes the kind's key in place (a group's name, a subscription's URL): only then
	// is the key recorded with the id and compared with the object's (keys.go). A kind whose key
	// cannot change upstream (an extension's number, a DID's digits) returns "", false.
	Key(obj O) (key string, changesInPlace bool)
	// Realm returns the realm the object lives in when it is not the account's client (an
	// extension's subscriptions, as "extension/303052"), and "" otherwise. The engine records it
	// with the id, so that the object is found where it was made after the resource naming the
	// realm is gone.
	Realm() string
	// Release tells the adapter that the resource lets its object go (deleted, orphaned or
	// lost), for the state it keeps outside the resource (a snapshot's record of who owns which
	// PBX object).
	Release(obj O)

	// Turn books a turn for one write of the resource with this uid in the account's request
	// pace: 0 when it is due, with the context for the write (which carries the turn), else how
	// long until it is (asking again finds the same booking). A pass whose turn is not due ends
	// and comes back when it is, so a paced account never holds a reconcile worker, and a paced
	// create leaves no create-pending mark and costs no API-server write.
	Turn(ctx context.Context, uid string) (context.Context, time.Duration)
	// PollInterval is how often an object in sync is observed again (the account's); 0 uses the
	// Reconciler's.
	PollInterval() time.Duration
}

// Connector binds an Adapter to the PBX account of an object, after resolving the object's
// references. It returns DependencyNotReady while the account or a referenced object is not
// Ready, and InvalidSpec for references that cannot work.
type Connector[O Object] interface {
	Connect(ctx context.Context, obj O) (Adapter[O], error)
}

// ConnectorFn is a Connector written as a function.
type ConnectorFn[O Object] func(ctx context.Context, obj O) (Adapter[O], error)

// Connect calls the function.
func (fn ConnectorFn[O]) Connect(ctx context.Context, obj O) (Adapter[O], error) { return fn(ctx, obj) }

// Reconciler observes a PBX object, then either creates, updates or deletes it so that it
// matches its custom resource, and reports the outcome in the resource's conditions, events and
// status.
type Reconciler[O Object] struct {
	client    client.Client
	reader    client.Reader
	connector Connector[O]
	recorder  events.EventRecorder
	// routine bounds the Normal events; nil means no bound.
	routine *rate.Limiter
	claims  ClaimChecker[O]
	// attempts remembers, per resource, what this process knows of its last create call (attempt).
	attempts sync.Map
	// lostObjects holds the resources whose PBX object was lost (forget) and not made again yet, so
	// that the create that makes it again counts as recreated.
	lostObjects sync.Map
	// inSync holds, per resource, the last generation a pass found its PBX object matching, so
	// that an update at that generation counts as a drift correction even when passes in between
	// failed (Synced False: the PBX unavailable, the budget spent, a correction refused).
	inSync sync.Map

	// metrics, when set, counts what the Reconciler does, labelled with kind (WithMetrics).
	metrics *Metrics
	kind    string

	pollInterval time.Duration
	jitter       float64
	timeout      time.Duration
	now          func() time.Time
}

// Option configures a Reconciler.
type Option[O Object] func(*Reconciler[O])

// WithPollInterval sets how often an object in sync is observed again to find changes made in the
// PBX (default ten minutes), and the jitter, a fraction of it added or taken at random (default
// 0.1), so that objects spread over the interval.
func WithPollInterval[O Object](d time.Duration, jitter float64) Option[O] {
	return func(r *Reconciler[O]) { r.pollInterval, r.jitter = d, jitter }
}

// WithTimeout bounds the PBX calls of one pass (default 30 seconds).
func WithTimeout[O Object](d time.Duration) Option[O] {
	return func(r *Reconciler[O]) { r.timeout = d }
}

// WithRecorder sets the event recorder.
func WithRecorder[O Object](rec events.EventRecorder) Option[O] {
	return func(r *Reconciler[O]) { r.recorder = rec }
}

// WithRoutineEvents bounds the routine (Normal) events of the kind, Created, Updated, Deleted and
// the like, to perSecond with a burst: past it they are left out (the status keeps the facts).
// Warnings are never left out. A batch of a thousand creates then
// costs a few hundred events rather than a thousand API-server writes. With perSecond 0 only the
// burst goes; without this option every routine event does.
func WithRoutineEvents[O Object](perSecond float64, burst int) Option[O] {
	return func(r *Reconciler[O]) { r.routine = rate.NewLimiter(rate.Limit(perSecond), burst) }
}

// WithClaims sets the check that two resources do not claim the same PBX object.
func WithClaims[O Object](c ClaimChecker[O]) Option[O] {
	return func(r *Reconciler[O]) { r.claims = c }
}

// WithAPIReader sets the uncached reader used to confirm, before reporting AlreadyExists, that
// the resource read from the cache is not older than the operator's own writes (default: none).
func WithAPIReader[O Object](r client.Reader) Option[O] {
	return func(rc *Reconciler[O]) { rc.reader = r }
}

// WithClock sets the clock, for tests.
func WithClock[O Object](now func() time.Time) Option[O] {
	return func(r *Reconciler[O]) { r.now = now }
}

// DefaultPollInterval is how often objects in sync are checked for changes made in the PBX.
const DefaultPollInterval = 10 * time.Minute

// NewReconciler returns a Reconciler for one managed kind.
func NewReconciler[O Object](c client.Client, connector Connector[O], opts ...Option[O]) *Reconciler[O] {
	r := &Reconciler[O]{
		client:       c,
		connector:    connector,
		pollInterval: DefaultPollInterval,
		jitter:       0.1,
		timeout:      30 * time.Second,
		now:          time.Now,
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// shortWait is the requeue after a create or update, to confirm it by observing.
const shortWait = 2 * time.Second

// settleMargin is added to the PBX call timeout to bound how long a create call sent by an earlier
// pass (or an earlier process) may still be under way in the PBX; it also covers the second
// precision of older create-pending marks.
const settleMargin = 6 * time.Second

// Reconcile runs one pass of the lifecycle (the steps of the package documentation) for obj, which the
// controller-runtime object-reconciler adapter has fetched.
func (r *Reconciler[O]) Reconcile(ctx context.Context, obj O) (res ctrl.Result, err error) {
	p := &pass[O]{r: r, obj: obj, orig: obj.DeepCopyObject().(O), log: log.FromContext(ctx), action: "Reconcile"}
	r.noteInSync(obj)
	// The status write uses the reconcile's context, not the PBX calls' shorter one below.
	statusCtx := ctx
	defer func() {
		if perr := r.patchStatus(statusCtx, p, err); perr != nil {
			err = errors.Join(err, perr)
		}
	}()

	if !obj.GetDeletionTimestamp().IsZero() {
		return r.delete(ctx, p)
	}
	if obj.GetAnnotations()[v1alpha1.AnnotationPaused] == "true" {
		p.setSynced(metav1.ConditionFalse, v1alpha1.ReasonPaused, "Writes to the PBX are paused by the "+v1alpha1.AnnotationPaused+" annotation")
		return ctrl.Result{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	ext, err := r.connector.Connect(ctx, obj)
	if err != nil {
		return p.fail(ctx, err)
	}
	if r.claims != nil {
		if err := r.claims.Check(ctx, obj); err != nil {
			return p.fail(ctx, err)
		}
	}
	// A user who asks for a reconcile wants the PBX looked at now, not the snapshot of the last poll.
	if req := obj.GetAnnotations()[v1alpha1.AnnotationReconcileRequestedAt]; req != "" && req != obj.GetManagedStatus().LastHandledReconcileAt {
		p.lookAfter(r.now())
		obj.GetManagedStatus().LastHandledReconcileAt = req
	}
	// A create-pending mark from an earlier pass means a create whose answer never came: the object
	// may exist. Only a look made after that create has surely ended can tell (identity.go).
	if err := r.settle(p, "looking for its object"); err != nil {
		return p.fail(ctx, err)
	}
	p.action = "Observe"
	obs, err := r.observe(ctx, p, ext)
	if err != nil {
		return p.fail(ctx, err)
	}
	if !obs.Exists && !observeOnly(obj) {
		id, found, err := r.create(ctx, p, ext)
		if err != nil {
			return p.fail(ctx, err)
		}
		if !found.Exists {
			r.made(obj)
			p.log.Info("Created PBX object", "pbxID", id)
			p.event(eventNormal, "Created", "Created the PBX object %d", id)
			p.setReady(metav1.ConditionFalse, v1alpha1.ReasonCreating, "The PBX object was created; waiting to observe it")
			return r.confirm(ctx, p, ext, v1alpha1.ReasonCreating, "The PBX object was created; waiting to observe it")
		}
		// The PBX refused the create, and a fresh look found the object an earlier create of
		// this resource made.
		obs = found
	}
	if obs.Exists {
		if err := r.record(ctx, p, ext, obs); err != nil {
			return p.fail(ctx, err)
		}
		p.setReady(metav1.ConditionTrue, v1alpha1.ReasonAvailable, "The PBX object exists")
	}
	return r.act(ctx, p, ext, obs)
}

// act updates or leaves the observed PBX object, or reports that an object only observed is
// missing.
func (r *Reconciler[O]) act(ctx context.Context, p *pass[O], ext Adapter[O], obs Observation) (ctrl.Result, error) {
	obj := p.obj
	onlyObserve := observeOnly(obj)
	if !obs.Exists {
		p.setReady(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object does not exist, and managementPolicy ObserveOnly does not create it")
		p.setSynced(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object does not exist")
		return ctrl.Result{RequeueAfter: r.poll(ext)}, nil
	}
	// The finalizer goes on before any write to the PBX (and on an object that is only observed,
	// so that its deletion is seen); a create adds it with its create-pending mark.
	if err := r.ensureFinalizer(ctx, p); err != nil {
		return p.fail(ctx, err)
	}
	switch {
	case !obs.UpToDate && onlyObserve:
		p.setSynced(metav1.ConditionFalse, v1alpha1.ReasonDrifted, "The PBX object differs from the spec: "+obs.Diff)
		return ctrl.Result{RequeueAfter: r.poll(ext)}, nil
	case !obs.UpToDate:
		p.action = "Update"
		wctx, err := turn(ctx, ext, obj)
		if err != nil {
			return p.fail(ctx, err)
		}
		drift := r.drifted(p)
		if err := ext.Update(wctx, obj); err != nil {
			if httpStatus(err) == http.StatusNotFound {
				// Deleted behind our back between the look and the write: look again at once.
				return p.fail(ctx, Wait(time.Second, "the PBX object was deleted while it was being updated"))
			}
			return p.fail(ctx, err)
		}
		if drift {
			r.acted(obj, ActionDriftCorrected)
		} else {
			r.acted(obj, ActionUpdated)
		}
		p.log.V(1).Info("Updated PBX object", "diff", obs.Diff)
		p.event(eventNormal, "Updated", "Updated the PBX object: %s", obs.Diff)
		return r.confirm(ctx, p, ext, v1alpha1.ReasonUpdating, "An update was sent to the PBX: "+obs.Diff)
	}
	p.setSynced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, "The PBX object matches the spec")
	return ctrl.Result{RequeueAfter: r.poll(ext)}, nil
}

// noteInSync remembers the generation of a resource read with Synced True at it: its PBX object
// matched that spec.
func (r *Reconciler[O]) noteInSync(obj O) {
	gen := obj.GetGeneration()
	if c := meta.FindStatusCondition(obj.GetManagedStatus().Conditions, v1alpha1.ConditionSynced); c != nil &&
		c.Status == metav1.ConditionTrue && c.ObservedGeneration == gen {
		r.inSync.Store(obj.GetUID(), gen)
	}
}

// drifted tells whether the update a pass is about to send sets back a PBX object that changed in
// the PBX, rather than one whose spec changed: the PBX object matched this generation of the spec
// before, as a resource read with Synced True at it or a pass of this process found.
func (r *Reconciler[O]) drifted(p *pass[O]) bool {
	synced, ok := r.inSync.Load(p.obj.GetUID())
	return ok && synced.(int64) == p.obj.GetGeneration()
}

// turn asks the account for the pass's turn to write, and returns the context for the write.
func turn[O Object](ctx context.Context, ext Adapter[O], obj O) (context.Context, error) {
	wctx, d := ext.Turn(ctx, string(obj.GetUID()))
	if d > 0 {
		return ctx, &turnError{after: d}
	}
	return wctx, nil
}

// poll returns the poll interval of the adapter's account, or the Reconciler's, with jitter.
func (r *Reconciler[O]) poll(ext Adapter[O]) time.Duration {
	d := r.pollInterval
	if p := ext.PollInterval(); p > 0 {
		d = p
	}
	if r.jitter <= 0 {
		return d
	}
	f := 1 + r.jitter*(2*rand.Float64()-1) //nolint:gosec // spreading requeues needs no crypto
	return time.Duration(float64(d) * f)
}

// confirm observes the PBX object right after a write. The write's answer is the PBX's own view
// of the object, and the adapters keep it (read-your-writes), so this costs no PBX call: Ready and
// Synced follow from it in the same pass instead of a later one. When the look fails or the
// object does not match yet, the pass ends with Synced=False for reason (Creating, Updating) and
// looks again shortly.
func (r *Reconciler[O]) confirm(ctx context.Context, p *pass[O], ext Adapter[O], reason, pending string) (ctrl.Result, error) {
	// Any look the pass made afresh is done: the write's own answer is the one to see.
	obs, err := ext.Observe(ctx, p.obj, time.Time{})
	if err == nil && obs.Exists {
		// The object as the PBX answered may carry its key otherwise than the spec writes it (a
		// URL the PBX normalised): that key is recorded too, or the next pass would take the
		// object for somebody else's and make another.
		err = r.record(ctx, p, ext, obs)
	}
	if err != nil || !obs.Exists || !obs.UpToDate {
		p.setSynced(metav1.ConditionFalse, reason, pending)
		return ctrl.Result{RequeueAfter: shortWait}, nil
	}
	p.setReady(metav1.ConditionTrue, v1alpha1.ReasonAvailable, "The PBX object exists")
	p.setSynced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, "The PBX object matches the spec")
	return ctrl.Result{RequeueAfter: r.poll(ext)}, nil
}

// delete runs the deletion policy and releases the resource.
func (r *Reconciler[O]) delete(ctx context.Context, p *pass[O]) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p.obj, v1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	p.action = "Delete"
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	spec := p.obj.GetManagedSpec()
	event, message := "Deleted", "Deleted the PBX object"
	if spec.DeletionPolicy == v1alpha1.DeletionPolicyOrphan || observeOnly(p.obj) {
		// An account that cannot be reached any more has nothing to release.
		if ext, err := r.connector.Connect(ctx, p.obj); err == nil {
			ext.Release(p.obj)
		}
		event, message = "Orphaned", "Left the PBX object in place"
	} else if err := r.deleteExternal(ctx, p); err != nil {
		p.setReady(metav1.ConditionFalse, v1alpha1.ReasonDeleting, "The PBX object is being deleted")
		return p.fail(ctx, err)
	}
	released, err := r.removeFinalizer(ctx, p)
	if err != nil {
		return p.fail(ctx, err)
	}
	r.forgetResource(p.obj.GetUID())
	if released {
		p.event(eventNormal, event, "%s", message)
	}
	return ctrl.Result{}, nil
}

// observeOnly tells whether obj only observes its PBX object, never writing it.
func observeOnly(obj Object) bool {
	return obj.GetManagedSpec().ManagementPolicy == v1alpha1.ManagementPolicyObserveOnly
}

// ensureFinalizer adds the finalizer before any write to the PBX, and the pass goes on: the
// predicate filters finalizer-only updates, so waiting for that event would wait forever.
func (r *Reconciler[O]) ensureFinalizer(ctx context.Context, p *pass[O]) error {
	if controllerutil.ContainsFinalizer(p.obj, v1alpha1.Finalizer) {
		return nil
	}
	return r.patchMetadata(ctx, p.obj, func(o O) { controllerutil.AddFinalizer(o, v1alpha1.Finalizer) })
}

// removeFinalizer releases the resource. It reports false, without an error, when the resource
// was gone already: an earlier pass released it, and this one ran on a stale copy from the cache.
func (r *Reconciler[O]) removeFinalizer(ctx context.Context, p *pass[O]) (bool, error) {
	err := r.patchCurrent(ctx, p.obj, func(o O) { controllerutil.RemoveFinalizer(o, v1alpha1.Finalizer) })
	switch {
	case err == nil:
		p.released = true
		return true, nil
	case isGone(err):
		p.released = true
		return false, nil
	default:
		return false, err
	}
}

// patchMetadata changes obj's metadata with mutate and merge-patches the change, leaving obj's
// in-memory status alone (the server's answer is decoded into a copy). It writes whatever version
// the resource has: for the writes that must land (the PBX id once an object exists).
func (r *Reconciler[O]) patchMetadata(ctx context.Context, obj O, mutate func(O)) error {
	return r.patch(ctx, obj, mutate, client.MergeFrom(obj.DeepCopyObject().(O)))
}

// patchCurrent is patchMetadata for writes that follow a decision made on obj's identity: forget
// the id, mark a create, drop a mark, release the resource. It lands only on the version the pass
// read (optimistic locking). The cache may lag behind an earlier pass's writes; a pass that read
// a copy without that pass's create-pending mark would create a twin, or release a resource whose
// object that pass made. Such a pass fails with a conflict, and the next one reads the latest.
func (r *Reconciler[O]) patchCurrent(ctx context.Context, obj O, mutate func(O)) error {
	return r.patch(ctx, obj, mutate, client.MergeFromWithOptions(obj.DeepCopyObject().(O), client.MergeFromWithOptimisticLock{}))
}

func (r *Reconciler[O]) patch(ctx context.Context, obj O, mutate func(O), p client.Patch) error {
	mutate(obj)
	cp := obj.DeepCopyObject().(O)
	if err := r.client.Patch(ctx, cp, p); err != nil {
		return err
	}
	obj.SetResourceVersion(cp.GetResourceVersion())
	return nil
}

// patchStatus is the single deferred status write of a pass. A pass that set conditions moves
// observedGeneration (failing passes too: the conditions describe this generation, which is what
// kstatus reads first) and derives Reconciling and Stalled from Synced. Nothing is sent when
// nothing changed or the object was released. A failed write is returned, so the pass is tried
// again rather than its outcome lost.
func (r *Reconciler[O]) patchStatus(ctx context.Context, p *pass[O], err error) error {
	if p.released {
		return nil
	}
	if st := p.obj.GetManagedStatus(); p.wrote {
		st.ObservedGeneration = ptr.To(p.obj.GetGeneration())
		Progress(&st.Conditions, v1alpha1.ConditionSynced, p.obj.GetGeneration())
	}
	return PatchStatus(ctx, r.client, p.orig, p.obj)
}

// PatchStatus writes obj's status as a merge patch against orig, the object as it was read, and
// only when the status changed: an object in sync costs no write. An object deleted meanwhile is
// no error. It is the one status write of the engine's passes and of the account controllers'.
func PatchStatus(ctx context.Context, c client.Client, orig, obj client.Object) error {
	if statusEqual(orig, obj) {
		return nil
	}
	cp := obj.DeepCopyObject().(client.Object)
	if err := c.Status().Patch(ctx, cp, client.MergeFrom(orig)); err != nil && !isGone(err) {
		return fmt.Errorf("patching the status: %w", err)
	}
	return nil
}

func isGone(err error) bool { return client.IgnoreNotFound(err) == nil }

// statusEqual compares the status of two objects of one kind.
func statusEqual(a, b runtime.Object) bool {
	ua, err1 := runtime.DefaultUnstructuredConverter.ToUnstructured(a)
	ub, err2 := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return equality.Semantic.DeepEqual(ua["status"], ub["status"])
}

// pass is the state of one reconcile.
type pass[O Object] struct {
	r        *Reconciler[O]
	obj      O
	orig     O
	log      logr.Logger
	action   string    // the step under way, the action of its events (Observe, Create, Update, Delete)
	since    time.Time // the pass's looks read nothing listed before this (zero: the snapshot will do)
	wrote    bool      // the pass set conditions
	released bool      // the finalizer was removed: the object may be gone
}

// fail sets the conditions of an error's class and returns what controller-runtime should do.
func (p *pass[O]) fail(ctx context.Context, err error) (ctrl.Result, error) {
	c := Classify(err)
	if c.Quiet {
		// An optimistic-lock conflict with the API server, a dependency that is only getting
		// ready, or a manager shutting down: try again soon and say nothing.
		log.FromContext(ctx).V(1).Info("Trying again soon", "message", c.Message, "after", c.RequeueAfter)
		return c.Result(err)
	}
	st := p.obj.GetManagedStatus()
	ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
	switch c.Reason {
	case v1alpha1.ReasonAlreadyExists, v1alpha1.ReasonConflict, v1alpha1.ReasonNotFound:
		p.setReady(metav1.ConditionFalse, c.Reason, c.Message)
	case v1alpha1.ReasonDependencyNotReady:
		if st.ID == 0 {
			p.setReady(metav1.ConditionFalse, c.Reason, c.Message)
		}
	case v1alpha1.ReasonUnauthorized, v1alpha1.ReasonForbidden:
		// The object cannot be seen with these credentials: it is not known to be usable.
		if ready == nil || ready.Status != metav1.ConditionTrue {
			p.setReady(metav1.ConditionFalse, c.Reason, c.Message)
		}
	case v1alpha1.ReasonInvalidSpec:
		if ready == nil {
			p.setReady(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object has not been observed")
		}
	default:
		if ready == nil {
			p.setReady(metav1.ConditionUnknown, v1alpha1.ReasonUnavailable, "The PBX object has not been observed yet")
		}
	}
	prev := meta.FindStatusCondition(p.orig.GetManagedStatus().Conditions, v1alpha1.ConditionSynced)
	p.setSynced(metav1.ConditionFalse, c.Reason, c.Message)
	if (c.Reason == v1alpha1.ReasonAlreadyExists || c.Reason == v1alpha1.ReasonConflict) && (prev == nil || prev.Reason != c.Reason) {
		p.r.acted(p.obj, ActionConflict)
	}
	// One event per change of reason and message; a transport failure, whose text may differ on
	// every retry, makes one per change of reason.
	changed := prev == nil || prev.Reason != c.Reason || (prev.Message != c.Message && c.Reason != v1alpha1.ReasonAPIUnavailable)
	if !c.Silent && changed {
		kind := eventWarning
		if c.Reason == v1alpha1.ReasonDependencyNotReady {
			kind = eventNormal
		}
		p.event(kind, c.Reason, "%s", c.Message)
	}
	logger := log.FromContext(ctx)
	switch {
	case c.Terminal:
		logger.Info("Waiting for a change of the spec", "reason", c.Reason, "message", c.Message)
	case c.RequeueAfter > 0:
		logger.V(1).Info("Waiting before the next attempt", "reason", c.Reason, "after", c.RequeueAfter)
	}
	return c.Result(err)
}

// lookAfter makes the pass's looks at the PBX from now on read nothing listed before t.
func (p *pass[O]) lookAfter(t time.Time) {
	if t.After(p.since) {
		p.since = t
	}
}

func (p *pass[O]) setReady(status metav1.ConditionStatus, reason, message string) {
	p.set(v1alpha1.ConditionReady, status, reason, message)
}

func (p *pass[O]) setSynced(status metav1.ConditionStatus, reason, message string) {
	if status == metav1.ConditionTrue {
		p.r.inSync.Store(p.obj.GetUID(), p.obj.GetGeneration())
	}
	p.set(v1alpha1.ConditionSynced, status, reason, message)
}

// set is the one condition helper: it stamps observedGeneration; metav1 keeps
// lastTransitionTime unless the status changes.
func (p *pass[O]) set(typ string, status metav1.ConditionStatus, reason, message string) {
	p.wrote = true
	meta.SetStatusCondition(&p.obj.GetManagedStatus().Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: Truncate(message, MaxMessage), ObservedGeneration: p.obj.GetGeneration(),
	})
}

// MaxMessage bounds condition and event messages; the PBX's message comes last and may be cut.
const MaxMessage = 512

// Truncate cuts a message to at most n bytes, at a rune boundary, marking the cut with "...".
func Truncate(msg string, n int) string {
	if len(msg) <= n {
		return msg
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "..."
}

const (
	eventNormal  = "Normal"
	eventWarning = "Warning"
)

// event records an event about the resource; the pass's current step is its action.
func (p *pass[O]) event(kind, reason, format string, args ...any) {
	if p.r.recorder == nil || (kind == eventNormal && p.r.routine != nil && !p.r.routine.Allow()) {
		return
	}
	p.r.recorder.Eventf(p.obj, nil, kind, reason, p.action, format, args...)
}
