package managed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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
	connector Connector[O]
	recorder  events.EventRecorder
	claims    ClaimChecker[O]

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

// WithClaims sets the check that two resources do not claim the same PBX object.
func WithClaims[O Object](c ClaimChecker[O]) Option[O] {
	return func(r *Reconciler[O]) { r.claims = c }
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

// Reconcile runs one pass of the lifecycle (STYLE.md section 4) for obj, which the
// controller-runtime object-reconciler adapter has fetched.
func (r *Reconciler[O]) Reconcile(ctx context.Context, obj O) (res ctrl.Result, err error) {
	p := &pass[O]{r: r, obj: obj, orig: obj.DeepCopyObject().(O), log: log.FromContext(ctx)}
	// The status write uses the reconcile's context, not the PBX calls' shorter one below.
	statusCtx := ctx
	defer func() { r.patchStatus(statusCtx, p, err) }()

	if !obj.GetDeletionTimestamp().IsZero() {
		return r.delete(ctx, p)
	}
	if obj.GetAnnotations()[v1alpha1.AnnotationPaused] == "true" {
		p.setSynced(metav1.ConditionFalse, v1alpha1.ReasonPaused, "Writes to the PBX are paused by the "+v1alpha1.AnnotationPaused+" annotation")
		return ctrl.Result{}, nil
	}
	if err := r.ensureFinalizer(ctx, p); err != nil {
		return p.fail(ctx, err)
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
	obs, err := ext.Observe(ctx, obj)
	if err != nil {
		return p.fail(ctx, err)
	}
	if obs.Exists {
		if err := r.recordIdentity(ctx, p, obs); err != nil {
			return p.fail(ctx, err)
		}
		p.setReady(metav1.ConditionTrue, v1alpha1.ReasonAvailable, "The PBX object exists")
	}
	observeOnly := obj.GetManagedSpec().ManagementPolicy == v1alpha1.ManagementPolicyObserveOnly
	switch {
	case !obs.Exists && observeOnly:
		p.setReady(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object does not exist, and managementPolicy ObserveOnly does not create it")
		p.setSynced(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object does not exist")
		return p.succeed(r.poll(ext)), nil
	case !obs.Exists:
		return r.create(ctx, p, ext)
	case !obs.UpToDate && observeOnly:
		p.setSynced(metav1.ConditionFalse, v1alpha1.ReasonDrifted, "The PBX object differs from the spec: "+obs.Diff)
		return p.succeed(r.poll(ext)), nil
	case !obs.UpToDate:
		if err := ext.Update(ctx, obj); err != nil {
			return p.fail(ctx, err)
		}
		p.log.V(1).Info("Updated PBX object", "diff", obs.Diff)
		p.setSynced(metav1.ConditionFalse, v1alpha1.ReasonUpdating, "An update was sent to the PBX: "+obs.Diff)
		p.event(eventNormal, "Updated", "Updated the PBX object: %s", obs.Diff)
		return p.succeed(shortWait), nil
	}
	p.setSynced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, "The PBX object matches the spec")
	return p.succeed(r.poll(ext)), nil
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

// recordIdentity decides about a PBX object found by its natural key (STYLE.md section 4): ours
// after a lost create response (create-pending), adopted on request, observed, or somebody else's.
func (r *Reconciler[O]) recordIdentity(ctx context.Context, p *pass[O], obs Observation) error {
	st := p.obj.GetManagedStatus()
	ann := p.obj.GetAnnotations()
	if obs.ExternalID == 0 || (st.ID == obs.ExternalID && ann[v1alpha1.AnnotationExternalID] == strconv.FormatInt(obs.ExternalID, 10)) {
		return nil
	}
	known := st.ID != 0 || ann[v1alpha1.AnnotationExternalID] != ""
	pending := ann[v1alpha1.AnnotationCreatePending] != ""
	adopt := ann[v1alpha1.AnnotationAdopt] == "true"
	observeOnly := p.obj.GetManagedSpec().ManagementPolicy == v1alpha1.ManagementPolicyObserveOnly
	if !known && !pending && !adopt && !observeOnly {
		p.setReady(metav1.ConditionFalse, v1alpha1.ReasonAlreadyExists, "A PBX object with this natural key exists and is not managed by this resource")
		return &engineError{reason: v1alpha1.ReasonAlreadyExists, msg: fmt.Sprintf(
			"The PBX object %d has this natural key and is not managed by this resource: pick another, or set the %s: \"true\" annotation to adopt it",
			obs.ExternalID, v1alpha1.AnnotationAdopt)}
	}
	if err := r.setIdentity(ctx, p, obs.ExternalID); err != nil {
		return err
	}
	if !known && (pending || adopt) {
		p.event(eventNormal, "Adopted", "Adopted the PBX object %d", obs.ExternalID)
	}
	return nil
}

// setIdentity records the PBX id at once, outside the deferred status patch, in the external-id
// annotation (which survives backup and restore) and in status.id, and drops the create-pending
// mark. It is the one critical write: an id lost here would leak the PBX object.
func (r *Reconciler[O]) setIdentity(ctx context.Context, p *pass[O], id int64) error {
	err := r.patchMetadata(ctx, p.obj, func(o O) {
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[v1alpha1.AnnotationExternalID] = strconv.FormatInt(id, 10)
		delete(ann, v1alpha1.AnnotationCreatePending)
		o.SetAnnotations(ann)
	})
	if err != nil {
		return fmt.Errorf("recording PBX id %d in the annotations: %w", id, err)
	}
	before := p.obj.DeepCopyObject().(O)
	p.obj.GetManagedStatus().ID = id
	cp := p.obj.DeepCopyObject().(O)
	if err := r.client.Status().Patch(ctx, cp, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("recording PBX id %d in the status: %w", id, err)
	}
	p.obj.SetResourceVersion(cp.GetResourceVersion())
	p.orig.GetManagedStatus().ID = id
	return nil
}

// create marks the resource create-pending, creates the PBX object and records its id.
func (r *Reconciler[O]) create(ctx context.Context, p *pass[O], ext Adapter[O]) (ctrl.Result, error) {
	err := r.patchMetadata(ctx, p.obj, func(o O) {
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[v1alpha1.AnnotationCreatePending] = r.now().UTC().Format(time.RFC3339)
		o.SetAnnotations(ann)
	})
	if err != nil {
		return p.fail(ctx, fmt.Errorf("marking the resource create-pending: %w", err))
	}
	id, err := ext.Create(ctx, p.obj)
	if err != nil {
		if c := Classify(err); c.Terminal {
			// The PBX refused the create, so nothing exists: drop the mark, or a later object with
			// this natural key (made by someone else) would be taken for ours.
			if perr := r.patchMetadata(ctx, p.obj, func(o O) {
				ann := o.GetAnnotations()
				delete(ann, v1alpha1.AnnotationCreatePending)
				o.SetAnnotations(ann)
			}); perr != nil {
				return p.fail(ctx, errors.Join(err, perr))
			}
			p.setReady(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object could not be created")
		}
		// Otherwise the answer may be lost after the object was made: the mark stays, and the next
		// pass finds the object by its natural key and adopts it.
		return p.fail(ctx, err)
	}
	if err := r.setIdentity(ctx, p, id); err != nil {
		return p.fail(ctx, err)
	}
	p.log.Info("Created PBX object", "pbxID", id)
	p.setReady(metav1.ConditionFalse, v1alpha1.ReasonCreating, "The PBX object was created; waiting to observe it")
	p.setSynced(metav1.ConditionFalse, v1alpha1.ReasonCreating, "The PBX object was created; waiting to observe it")
	p.event(eventNormal, "Created", "Created the PBX object %d", id)
	return p.succeed(shortWait), nil
}

// delete runs the deletion policy and releases the resource.
func (r *Reconciler[O]) delete(ctx context.Context, p *pass[O]) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p.obj, v1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	spec := p.obj.GetManagedSpec()
	if spec.DeletionPolicy == v1alpha1.DeletionPolicyOrphan || spec.ManagementPolicy == v1alpha1.ManagementPolicyObserveOnly {
		if err := r.removeFinalizer(ctx, p); err != nil {
			return p.fail(ctx, err)
		}
		p.event(eventNormal, "Orphaned", "Left the PBX object in place")
		return ctrl.Result{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.deleteExternal(ctx, p); err != nil {
		p.setReady(metav1.ConditionFalse, v1alpha1.ReasonDeleting, "The PBX object is being deleted")
		return p.fail(ctx, err)
	}
	if err := r.removeFinalizer(ctx, p); err != nil {
		return p.fail(ctx, err)
	}
	p.event(eventNormal, "Deleted", "Deleted the PBX object")
	return ctrl.Result{}, nil
}

// deleteExternal deletes the PBX object if there is one and it is ours: one with a recorded id,
// or one found by its natural key while the create-pending mark says we may have made it.
func (r *Reconciler[O]) deleteExternal(ctx context.Context, p *pass[O]) error {
	ext, err := r.connector.Connect(ctx, p.obj)
	if err != nil {
		return err
	}
	ann := p.obj.GetAnnotations()
	known := p.obj.GetManagedStatus().ID != 0 || ann[v1alpha1.AnnotationExternalID] != ""
	if !known && ann[v1alpha1.AnnotationCreatePending] == "" {
		return nil // nothing of ours exists upstream
	}
	obs, err := ext.Observe(ctx, p.obj)
	if err != nil {
		return err
	}
	if !obs.Exists {
		return nil
	}
	if !known {
		p.obj.GetManagedStatus().ID = obs.ExternalID
	}
	if err := ext.Delete(ctx, p.obj); err != nil {
		var hs httpStatuser
		if errors.As(err, &hs) && hs.HTTPStatus() == 404 {
			return nil
		}
		return err
	}
	return nil
}

// ensureFinalizer adds the finalizer before any write to the PBX, and the pass goes on: the
// predicate filters finalizer-only updates, so waiting for that event would wait forever.
func (r *Reconciler[O]) ensureFinalizer(ctx context.Context, p *pass[O]) error {
	if controllerutil.ContainsFinalizer(p.obj, v1alpha1.Finalizer) {
		return nil
	}
	return r.patchMetadata(ctx, p.obj, func(o O) { controllerutil.AddFinalizer(o, v1alpha1.Finalizer) })
}

func (r *Reconciler[O]) removeFinalizer(ctx context.Context, p *pass[O]) error {
	if err := r.patchMetadata(ctx, p.obj, func(o O) { controllerutil.RemoveFinalizer(o, v1alpha1.Finalizer) }); err != nil {
		return err
	}
	p.released = true
	return nil
}

// patchMetadata changes obj's metadata with mutate and merge-patches the change, leaving obj's
// in-memory status alone (the server's answer is decoded into a copy).
func (r *Reconciler[O]) patchMetadata(ctx context.Context, obj O, mutate func(O)) error {
	before := obj.DeepCopyObject().(O)
	mutate(obj)
	cp := obj.DeepCopyObject().(O)
	if err := r.client.Patch(ctx, cp, client.MergeFrom(before)); err != nil {
		return err
	}
	obj.SetResourceVersion(cp.GetResourceVersion())
	return nil
}

// patchStatus is the single deferred status write of a pass: observedGeneration moves only after a
// pass without error, and nothing is sent when nothing changed or the object was released.
func (r *Reconciler[O]) patchStatus(ctx context.Context, p *pass[O], err error) {
	if p.released {
		return
	}
	if err == nil && p.ok {
		p.obj.GetManagedStatus().ObservedGeneration = p.obj.GetGeneration()
	}
	if statusEqual(p.orig, p.obj) {
		return
	}
	cp := p.obj.DeepCopyObject().(O)
	if perr := r.client.Status().Patch(ctx, cp, client.MergeFrom(p.orig)); perr != nil && !isGone(perr) {
		p.log.Error(perr, "Patching the status failed")
	}
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
	ok       bool // the pass ended without error
	released bool // the finalizer was removed: the object may be gone
}

// succeed ends a pass without error.
func (p *pass[O]) succeed(after time.Duration) ctrl.Result {
	p.ok = true
	return ctrl.Result{RequeueAfter: after}
}

// fail sets the conditions of an error's class and returns what controller-runtime should do.
func (p *pass[O]) fail(ctx context.Context, err error) (ctrl.Result, error) {
	c := Classify(err)
	if c.Quiet {
		// An optimistic-lock conflict with the API server, or a dependency that is only getting
		// ready: try again soon and say nothing.
		log.FromContext(ctx).V(1).Info("Trying again soon", "message", c.Message, "after", c.RequeueAfter)
		return ctrl.Result{RequeueAfter: c.RequeueAfter}, nil
	}
	st := p.obj.GetManagedStatus()
	switch c.Reason {
	case v1alpha1.ReasonAlreadyExists, v1alpha1.ReasonConflict:
		p.setReady(metav1.ConditionFalse, c.Reason, c.Message)
	case v1alpha1.ReasonDependencyNotReady:
		if st.ID == 0 {
			p.setReady(metav1.ConditionFalse, c.Reason, c.Message)
		}
	case v1alpha1.ReasonInvalidSpec:
		if meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady) == nil {
			p.setReady(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object has not been observed")
		}
	default:
		if meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady) == nil {
			p.setReady(metav1.ConditionUnknown, v1alpha1.ReasonUnavailable, "The PBX object has not been observed yet")
		}
	}
	prev := meta.FindStatusCondition(p.orig.GetManagedStatus().Conditions, v1alpha1.ConditionSynced)
	p.setSynced(metav1.ConditionFalse, c.Reason, c.Message)
	if !c.Silent && (prev == nil || prev.Reason != c.Reason || prev.Message != c.Message) {
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
	if len(message) > maxMessage {
		message = message[:maxMessage-3] + "..."
	}
	meta.SetStatusCondition(&p.obj.GetManagedStatus().Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: p.obj.GetGeneration(),
	})
}

// maxMessage bounds condition messages; the PBX's message comes last and may be cut.
const maxMessage = 512

const (
	eventNormal  = "Normal"
	eventWarning = "Warning"
)

func (p *pass[O]) event(kind, reason, format string, args ...any) {
	if p.r.recorder == nil {
		return
	}
	p.r.recorder.Eventf(p.obj, nil, kind, reason, reason, format, args...)
}
