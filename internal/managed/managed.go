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
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/snapshot"
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
	// Key is the natural key of the object found, for a Keyed adapter (a kind whose key the PBX
	// changes in place). The engine decides whether an object at the recorded id with another key
	// than the spec's is the resource's (see Keyed). An adapter whose natural key cannot change
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

// Adapter is the per-kind part of the lifecycle: four verbs against the PBX.
type Adapter[O Object] interface {
	// Observe finds the PBX object: by status.id when it is set, otherwise by the natural key. It
	// never changes the PBX. It may fill observed read-only status fields. Not found is
	// Exists=false, not an error.
	Observe(ctx context.Context, obj O) (Observation, error)
	// Create creates the PBX object and returns its id. It is called only when Observe said the
	// object does not exist.
	Create(ctx context.Context, obj O) (int64, error)
	// Update changes the PBX object to match the spec, sending only what differs. It is called
	// only when the object exists and is not up to date.
	Update(ctx context.Context, obj O) error
	// Delete deletes the PBX object; an object already gone is not an error.
	Delete(ctx context.Context, obj O) error
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
		ctx = snapshot.WithFreshness(ctx, r.now())
		obj.GetManagedStatus().LastHandledReconcileAt = req
	}
	// A create-pending mark from an earlier pass means a create whose answer never came: the object
	// may exist. Only a look made after that create has surely ended can tell.
	if mark, ok := pendingSince(obj); ok && KnownID(obj) == 0 && !r.unsent(obj) {
		if ctx, err = r.settle(ctx, obj, mark, "looking for its object"); err != nil {
			return p.fail(ctx, err)
		}
	}
	p.action = "Observe"
	obs, err := r.observe(ctx, p, ext)
	if err != nil {
		return p.fail(ctx, err)
	}
	if obs.Exists {
		if err := r.recordIdentity(ctx, p, ext, obs); err != nil {
			return p.fail(ctx, err)
		}
		p.setReady(metav1.ConditionTrue, v1alpha1.ReasonAvailable, "The PBX object exists")
	}
	return r.act(ctx, p, ext, obs)
}

// act creates, updates or leaves the observed PBX object.
func (r *Reconciler[O]) act(ctx context.Context, p *pass[O], ext Adapter[O], obs Observation) (ctrl.Result, error) {
	obj := p.obj
	onlyObserve := observeOnly(obj)
	switch {
	case !obs.Exists && onlyObserve:
		p.setReady(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object does not exist, and managementPolicy ObserveOnly does not create it")
		p.setSynced(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object does not exist")
		return ctrl.Result{RequeueAfter: r.poll(ext)}, nil
	case !obs.Exists:
		return r.create(ctx, p, ext)
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
		if err := ext.Update(wctx, obj); err != nil {
			if httpStatus(err) == http.StatusNotFound {
				// Deleted behind our back between the look and the write: look again at once.
				return p.fail(ctx, Wait(time.Second, "the PBX object was deleted while it was being updated"))
			}
			return p.fail(ctx, err)
		}
		p.log.V(1).Info("Updated PBX object", "diff", obs.Diff)
		p.event(eventNormal, "Updated", "Updated the PBX object: %s", obs.Diff)
		return r.confirm(ctx, p, ext, "An update was sent to the PBX: "+obs.Diff)
	}
	p.setSynced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, "The PBX object matches the spec")
	return ctrl.Result{RequeueAfter: r.poll(ext)}, nil
}

// Pacer is an Adapter whose PBX writes take turns in a shared pace (its account's request
// budget). Before a write the engine asks for the resource's turn; a pass whose turn is not due
// ends and comes back when it is, so a paced account never holds a reconcile worker, and a
// paced create leaves no create-pending mark and costs no API-server write.
type Pacer interface {
	// Turn books a turn for one write of the resource with this uid: 0 when it is due, with the
	// context for the write (which carries the turn), else how long until it is (asking again
	// finds the same booking).
	Turn(ctx context.Context, uid string) (context.Context, time.Duration)
}

// turn asks a Pacer adapter for the pass's turn to write, and returns the context for the write.
func turn(ctx context.Context, ext any, obj Object) (context.Context, error) {
	pc, ok := ext.(Pacer)
	if !ok {
		return ctx, nil
	}
	wctx, d := pc.Turn(ctx, string(obj.GetUID()))
	if d > 0 {
		return ctx, &turnError{after: d}
	}
	return wctx, nil
}

// Poller is an Adapter with a poll interval of its own (its account's), used instead of the
// Reconciler's.
type Poller interface{ PollInterval() time.Duration }

// poll returns the poll interval of an adapter, with jitter.
func (r *Reconciler[O]) poll(ext Adapter[O]) time.Duration {
	d := r.pollInterval
	if p, ok := ext.(Poller); ok && p.PollInterval() > 0 {
		d = p.PollInterval()
	}
	if r.jitter <= 0 {
		return d
	}
	f := 1 + r.jitter*(2*rand.Float64()-1) //nolint:gosec // spreading requeues needs no crypto
	return time.Duration(float64(d) * f)
}

// create marks the resource create-pending, creates the PBX object and records its id.
func (r *Reconciler[O]) create(ctx context.Context, p *pass[O], ext Adapter[O]) (ctrl.Result, error) {
	p.action = "Create"
	wctx, err := turn(ctx, ext, p.obj)
	if err != nil {
		return p.fail(ctx, err)
	}
	_, hadMark := pendingSince(p.orig)
	err = r.patchCurrent(ctx, p.obj, func(o O) {
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[v1alpha1.AnnotationCreatePending] = r.now().UTC().Format(time.RFC3339Nano)
		o.SetAnnotations(ann)
		controllerutil.AddFinalizer(o, v1alpha1.Finalizer)
	})
	if err != nil {
		return p.fail(ctx, fmt.Errorf("marking the resource create-pending: %w", err))
	}
	id, err := ext.Create(wctx, p.obj)
	r.noteAttempt(p.obj, err)
	if err != nil {
		if !Classify(err).Terminal {
			// The answer may be lost after the object was made: the mark stays, and a later pass
			// looks afresh, once this call has surely ended, and adopts what it finds.
			return p.fail(ctx, err)
		}
		return r.refused(ctx, p, ext, err, hadMark)
	}
	var keys []string
	if want, keyed := specKey(ext, p.obj); keyed {
		keys = []string{want}
	}
	if err := r.setIdentity(ctx, p, identityOf(ext, id, keys)); err != nil {
		return p.fail(ctx, err)
	}
	p.log.Info("Created PBX object", "pbxID", id)
	p.event(eventNormal, "Created", "Created the PBX object %d", id)
	p.setReady(metav1.ConditionFalse, v1alpha1.ReasonCreating, "The PBX object was created; waiting to observe it")
	return r.confirm(ctx, p, ext, "The PBX object was created; waiting to observe it")
}

// confirm observes the PBX object right after a write. The write's answer is the PBX's own view
// of the object, and the adapters keep it (read-your-writes), so this costs no PBX call: Ready and
// Synced follow from it in the same pass instead of a later one. When the look fails or the
// object does not match yet, the pass ends with Synced=False (pending) and looks again shortly.
func (r *Reconciler[O]) confirm(ctx context.Context, p *pass[O], ext Adapter[O], pending string) (ctrl.Result, error) {
	reason := v1alpha1.ReasonUpdating
	if p.action == "Create" {
		reason = v1alpha1.ReasonCreating
	}
	obs, err := ext.Observe(ctx, p.obj)
	if err == nil && obs.Exists {
		// The object as the PBX answered may carry its key otherwise than the spec writes it (a
		// URL the PBX normalised): that key is recorded too, or the next pass would take the
		// object for somebody else's and make another.
		err = r.recordIdentity(ctx, p, ext, obs)
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
	if spec.DeletionPolicy == v1alpha1.DeletionPolicyOrphan || observeOnly(p.obj) {
		r.release(ctx, p)
		released, err := r.removeFinalizer(ctx, p)
		if err != nil {
			return p.fail(ctx, err)
		}
		r.attempts.Delete(p.obj.GetUID())
		if released {
			p.event(eventNormal, "Orphaned", "Left the PBX object in place")
		}
		return ctrl.Result{}, nil
	}
	if err := r.deleteExternal(ctx, p); err != nil {
		p.setReady(metav1.ConditionFalse, v1alpha1.ReasonDeleting, "The PBX object is being deleted")
		return p.fail(ctx, err)
	}
	released, err := r.removeFinalizer(ctx, p)
	if err != nil {
		return p.fail(ctx, err)
	}
	r.attempts.Delete(p.obj.GetUID())
	if released {
		p.event(eventNormal, "Deleted", "Deleted the PBX object")
	}
	return ctrl.Result{}, nil
}

// observeOnly tells whether obj only observes its PBX object, never writing it.
func observeOnly(obj Object) bool {
	return obj.GetManagedSpec().ManagementPolicy == v1alpha1.ManagementPolicyObserveOnly
}

// release tells an adapter that keeps per-object state that the resource lets its object go. An
// account that cannot be reached any more has nothing to release.
func (r *Reconciler[O]) release(ctx context.Context, p *pass[O]) {
	ext, err := r.connector.Connect(ctx, p.obj)
	if err != nil {
		return
	}
	letGo(ext, p.obj)
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
	action   string // the step under way, the action of its events (Observe, Create, Update, Delete)
	wrote    bool   // the pass set conditions
	released bool   // the finalizer was removed: the object may be gone
}

// fail sets the conditions of an error's class and returns what controller-runtime should do.
func (p *pass[O]) fail(ctx context.Context, err error) (ctrl.Result, error) {
	c := Classify(err)
	if c.Quiet {
		// An optimistic-lock conflict with the API server, a dependency that is only getting
		// ready, or a manager shutting down: try again soon and say nothing.
		log.FromContext(ctx).V(1).Info("Trying again soon", "message", c.Message, "after", c.RequeueAfter)
		return ctrl.Result{RequeueAfter: c.RequeueAfter}, nil
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
		return ctrl.Result{}, reconcile.TerminalError(err)
	case c.RequeueAfter > 0:
		logger.V(1).Info("Waiting before the next attempt", "reason", c.Reason, "after", c.RequeueAfter)
		return ctrl.Result{RequeueAfter: c.RequeueAfter}, nil
	default:
		return ctrl.Result{}, err
	}
}

func (p *pass[O]) setReady(status metav1.ConditionStatus, reason, message string) {
	p.set(v1alpha1.ConditionReady, status, reason, message)
}

func (p *pass[O]) setSynced(status metav1.ConditionStatus, reason, message string) {
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
