package managed

// This file decides whether a PBX object is a resource's own. Identity is what the resource
// records (status.id, the external-id annotation, the keys of AnnotationExternalKey, the realm,
// the create-pending mark) and what this process knows of its last create call (attempts).
//
// The pass calls six steps, all in this file:
//
//   - mark: before a create call, the create-pending mark (and the finalizer) on the resource;
//   - settle: before looking for an object a marked create may have made, wait until every such
//     call has surely ended, and make the look read nothing older;
//   - observe (look afresh): find the object, and forget a recorded id that is no longer ours;
//   - record: decide whether an object found is ours, and record its id, keys and realm at once;
//   - forget: drop a recorded id whose object is gone, so that it is looked for again;
//   - release: tell the adapter that the resource lets its object go (Adapter.Release, called
//     where an id is let go: here and in the deletion policy's pass).
//
// # What is written when
//
// A create costs two API-server writes, the floor: metadata and status are separate
// subresources (a status write ignores metadata, a metadata write ignores status), the mark must
// be written before the create call, and the id and the conditions can only be written after it.
//
//  1. mark, before the call, in one metadata patch on the version the pass read: the finalizer,
//     the create-pending mark (the time of the call), and what the identity records besides the
//     id, which is known before the call: the key record of the object about to be made, with id
//     0 ({"id":0,"keys":["Sales"]}, for a kind whose key changes in place), and its realm.
//  2. the pass's status write, after the call: status.id and the conditions.
//
// Nothing else is written on the create path: no external-id annotation, and the mark stays. It
// now means "a create was made under this resource's natural key; the id of what it made, once
// known, is in status.id". A record with id 0 stands for the id in status.id (RecordedKeys)
// while no external-id annotation names an id. The external-id annotation remains what a user
// sets to import an object, and what the operator writes (setIdentity, one more metadata patch)
// when it records an object it did not make under its mark: an adoption, an import, the object of
// a rename (whose keys change before the PBX is asked), or one the PBX answered with a key of its
// own writing.
//
// Why each guarantee still holds:
//
//   - No twin after a lost answer, a SIGKILL, or a lost status write: the mark is written before
//     the call and only forget and a definite refusal drop it. A version with the mark and no id
//     is a create whose answer was lost, wherever it comes from, and settle makes the look for it
//     wait for the call to end and read afresh (below).
//   - No hijack through a lagging cache: a version with the mark and without status.id exists
//     only between the mark and the status write (or, restored, below), since forget drops the
//     mark before it clears status.id; a version with status.id and without its key record
//     exists never, since the record is written with the mark, before the id, and dropped after
//     it. A create happens only once status.id is 0 (observe forgets a lost id first).
//   - Claims: status.id, which only the operator writes, is the strongest claim (claims.go), and
//     an object made by the operator is recorded there, as before.
//   - Imports by the external-id annotation: KnownID reads the annotation first; an annotation
//     that names an id turns off the create's record for status.id, so an import is judged as
//     before (no record: the object is the resource's unless another resource records its id).
//   - A restore without status (Velero keeps metadata only): the resource comes back with its
//     mark, key record and realm and without an id. The mark makes it look afresh by its natural
//     key and take the object found, unless another resource holds it (Claims), as after a lost
//     answer; deletion finds the object the same way, in the recorded realm. No twin is made.
//     What the restore cannot tell without the id: an object with the resource's natural key
//     that replaced its own in the PBX between the backup and the restore (someone deleted the
//     resource's object and another integration made one with the same number or name) is taken
//     for the resource's. Before, the external-id annotation would have found the old id gone and
//     reported AlreadyExists. Closing that window costs the third write on every create; a
//     resource that records its id by annotation (adopted, imported, renamed, or made by an
//     earlier version of the operator) still restores by id.
//   - Downgrade: an earlier version of the operator reads status.id as the id, finds no
//     external-id annotation and writes it (one metadata patch per resource), dropping the mark;
//     until then it reads the create's record as none (the id is the resource's unless another
//     resource records it).
//
// What happens to an object whose create answer was lost:
//
//  1. Before the create call the pass marks the resource create-pending (create, mark) and, after
//     the call, notes how it ended (noteAttempt): answered, not sent at all (its account's pace
//     deferred it), or unknown (a timeout: it may still be under way).
//  2. The answer is lost (a timeout, a dropped connection, a crash or SIGKILL of the manager), or
//     the status write after it is: no id is recorded, the mark stays.
//  3. The next pass sees the mark without an id (settle). It waits until every create call made
//     before the mark has surely ended (at once when this process saw the answer, else the PBX
//     call timeout after the mark), then looks afresh, not at a list from before the create.
//  4. Observe finds the object by its natural key. record takes it as the resource's own because
//     of the mark (not as somebody else's, AlreadyExists), unless another resource holds it
//     (heldByOther), and records its id in status.id (and, should its keys or realm differ from
//     those the mark recorded, in the annotations too: setIdentity).
//  5. Nothing found: the create is made again. A refused create (refused) looks afresh too, since
//     "already exists" may answer a second call for an object the first one made.
//
// An id is evidence, not proof: an object found at the recorded id must still carry the
// resource's natural key or a key recorded for it, and be held by no other resource (lost);
// otherwise the id is forgotten (forget: the mark first, then status, so that no version the
// cache may serve holds a mark without an id, or an id without its key record) and the object
// looked for again. The marks are annotations that users may write, so none of them takes an
// object from a resource whose status (written only by the operator) records it: not to manage,
// and not to delete (deleteExternal).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// pendingSince returns when the create-pending mark of obj was set.
func pendingSince(obj Object) (time.Time, bool) {
	v := obj.GetAnnotations()[v1alpha1.AnnotationCreatePending]
	if v == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		// A mark that cannot be read is treated as just set: the safe side.
		return time.Now(), true
	}
	return t, true
}

// KnownID is the PBX id a resource manages: the external-id annotation (which a user sets to
// import an object, and the operator writes when it adopts one), or else status.id (where the
// operator records the id of an object it made).
func KnownID(obj Object) int64 {
	if id := annotatedID(obj); id != 0 {
		return id
	}
	return obj.GetManagedStatus().ID
}

// annotatedID is the PBX id the external-id annotation of obj names, 0 for none.
func annotatedID(obj Object) int64 {
	if id, err := strconv.ParseInt(obj.GetAnnotations()[v1alpha1.AnnotationExternalID], 10, 64); err == nil && id > 0 {
		return id
	}
	return 0
}

// attempt is what this process knows of a resource's last create call.
type attempt struct {
	// ended is when the call ended with an answer: nothing of it is under way.
	ended time.Time
	// unsent is the create-pending mark of a pass whose create was never sent (its account's
	// pace deferred it): nothing can exist for that mark.
	unsent string
}

// noteAttempt remembers how a create call ended: with an answer (an error status, or a connection
// the PBX closed), so nothing of it is still under way; or not sent at all. A call that timed out
// may be under way.
func (r *Reconciler[O]) noteAttempt(obj O, err error) {
	var de deferrer
	switch {
	case errors.As(err, &de):
		r.attempts.Store(obj.GetUID(), attempt{unsent: obj.GetAnnotations()[v1alpha1.AnnotationCreatePending]})
	case err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		r.attempts.Delete(obj.GetUID())
	default:
		r.attempts.Store(obj.GetUID(), attempt{ended: r.now()})
	}
}

// settledAt is when every create call for obj made before its create-pending mark has surely
// ended: at once if this process saw the last one answered, else after the PBX call timeout.
func (r *Reconciler[O]) settledAt(obj O, mark time.Time) time.Time {
	if v, ok := r.attempts.Load(obj.GetUID()); ok {
		if t := v.(attempt).ended; !t.Before(mark) {
			return t
		}
	}
	return mark.Add(r.timeout + settleMargin)
}

// settle readies the pass's look for an object that a create call of an earlier pass (or an
// earlier process) may have made: one whose create-pending mark has no id yet and whose call
// this process did not see deferred (unsent). Until every create call for obj made before the
// mark has surely ended (settledAt) it asks for another pass (a Wait), and what says what the
// look is for; after that, the pass's looks read nothing older. Without such a mark it does
// nothing.
func (r *Reconciler[O]) settle(p *pass[O], what string) error {
	mark, ok := pendingSince(p.obj)
	if !ok || KnownID(p.obj) != 0 || r.unsent(p.obj) {
		return nil
	}
	settled := r.settledAt(p.obj, mark)
	if wait := settled.Sub(r.now()); wait > 0 {
		return Wait(wait, "waiting for an earlier create call to end before %s", what)
	}
	p.lookAfter(settled)
	return nil
}

// create marks the resource create-pending, creates the PBX object and records its id in
// status.id (written by the pass's status write), which it returns. When the PBX refuses the
// create it looks afresh (refused): it returns the object found (Exists) if an earlier create of
// this resource may have made it, and an error otherwise.
func (r *Reconciler[O]) create(ctx context.Context, p *pass[O], ext Adapter[O]) (int64, Observation, error) {
	p.action = "Create"
	wctx, err := turn(ctx, ext, p.obj)
	if err != nil {
		return 0, Observation{}, err
	}
	_, hadMark := pendingSince(p.orig)
	if err := r.mark(ctx, p, ext); err != nil {
		return 0, Observation{}, err
	}
	id, err := ext.Create(wctx, p.obj)
	r.noteAttempt(p.obj, err)
	if err == nil && id <= 0 {
		// Nothing to record: the object may exist, so the mark stays and a later pass looks.
		return 0, Observation{}, fmt.Errorf("the PBX answered the create without an id")
	}
	if err != nil {
		if !Classify(err).Terminal {
			// The answer may be lost after the object was made: the mark stays, and a later pass
			// looks afresh, once this call has surely ended, and adopts what it finds.
			return 0, Observation{}, err
		}
		obs, err := r.refused(ctx, p, ext, err, hadMark)
		return 0, obs, err
	}
	// The mark has recorded the object's keys and realm: status.id is all that is left to record,
	// and it goes with the pass's status write. Should that write be lost, the mark stays without
	// an id, and a later pass finds the object by its key as after a lost answer.
	p.obj.GetManagedStatus().ID = id
	return id, Observation{}, nil
}

// mark sets the create-pending mark, with the time of the create call about to be made, what
// the object's identity records besides its id (the create's key record and the realm), and the
// finalizer, in one write that lands only on the version the pass read (patchCurrent).
func (r *Reconciler[O]) mark(ctx context.Context, p *pass[O], ext Adapter[O]) error {
	var keys []string
	if want, keyed := ext.Key(p.obj); keyed {
		keys = []string{want}
	}
	err := r.patchCurrent(ctx, p.obj, func(o O) {
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[v1alpha1.AnnotationCreatePending] = r.now().UTC().Format(time.RFC3339Nano)
		markIdentity(ann, keys, ext.Realm())
		o.SetAnnotations(ann)
		controllerutil.AddFinalizer(o, v1alpha1.Finalizer)
	})
	if err != nil {
		return fmt.Errorf("marking the resource create-pending: %w", err)
	}
	return nil
}

// unsent tells whether obj's create-pending mark is that of a pass whose create this process
// never sent: the pass that set it had looked afresh and found nothing, so nothing of the mark
// exists. After a restart it is not known, and the mark is looked into as any other.
func (r *Reconciler[O]) unsent(obj O) bool {
	v, ok := r.attempts.Load(obj.GetUID())
	return ok && v.(attempt).unsent != "" && v.(attempt).unsent == obj.GetAnnotations()[v1alpha1.AnnotationCreatePending]
}

// observe runs the adapter's Observe and checks that an object found at the recorded id is still
// this resource's (an id is evidence, not proof: docs/promises.md). When it is not (gone, or another object now has the id)
// the resource's identity is cleared and the object looked for again by its natural key, so that
// it is recreated, or adopted by the usual rules.
func (r *Reconciler[O]) observe(ctx context.Context, p *pass[O], ext Adapter[O]) (Observation, error) {
	obs, err := ext.Observe(ctx, p.obj, p.since)
	if err != nil {
		return obs, err
	}
	id := KnownID(p.obj)
	if id == 0 || observeOnly(p.obj) {
		return obs, nil
	}
	lost, err := r.lost(ctx, p, ext, obs)
	if err != nil || !lost {
		return obs, err
	}
	if p.since.IsZero() {
		// Confirm with a fresh look (a GET by id) before letting the id go.
		p.lookAfter(r.now())
		if obs, err = ext.Observe(ctx, p.obj, p.since); err != nil {
			return obs, err
		}
		if lost, err = r.lost(ctx, p, ext, obs); err != nil || !lost {
			return obs, err
		}
	}
	p.log.Info("The PBX object of this resource is gone; looking for it again by its natural key", "pbxID", id)
	p.event(eventWarning, "Lost", "The PBX object %d is gone or is now another object; it will be created again", id)
	if err := r.forget(ctx, p); err != nil {
		return Observation{}, err
	}
	r.lostObjects.Store(p.obj.GetUID(), struct{}{})
	ext.Release(p.obj)
	return ext.Observe(ctx, p.obj, p.since)
}

// lost tells whether an observation by the recorded id shows that the object is no longer this
// resource's: it is gone, or it carries another natural key than the spec's and than those
// recorded for it (keys.go), or, with no record, another resource records its id.
func (r *Reconciler[O]) lost(ctx context.Context, p *pass[O], ext Adapter[O], obs Observation) (bool, error) {
	if !obs.Exists {
		return true, nil
	}
	want, keyed := ext.Key(p.obj)
	if !keyed || obs.Key == want {
		return false, nil
	}
	if ForeignKey(p.obj, KnownID(p.obj), obs.Key) {
		return true, nil
	}
	if r.claims == nil {
		return false, nil
	}
	holder, err := r.claims.HeldByOther(ctx, p.obj, obs.ExternalID)
	return holder != "", err
}

// record decides about a PBX object found by its natural key: ours
// after a lost create response (create-pending), adopted on request, unclaimed (Observation.Unclaimed),
// observed, or somebody else's. For an object found at the recorded id it brings the record up to
// date: the id in status, the keys (before a rename is sent) and the realm.
func (r *Reconciler[O]) record(ctx context.Context, p *pass[O], ext Adapter[O], obs Observation) error {
	if obs.ExternalID == 0 {
		return nil
	}
	ann := p.obj.GetAnnotations()
	onlyObserve := observeOnly(p.obj)
	var keys []string
	if want, keyed := ext.Key(p.obj); keyed && !onlyObserve {
		keys = keysToRecord(p.obj, obs, want)
	}
	idn := identityOf(ext, obs.ExternalID, keys)
	if idn.recorded(p.obj) && p.obj.GetManagedStatus().ID == obs.ExternalID {
		return nil
	}
	known := KnownID(p.obj) != 0
	// What recording the object means, decided before setIdentity drops the create-pending mark:
	// nothing new for an object only observed or already in status.id; the end of a create whose
	// answer was lost; else an adoption (by key, or an import by the external-id annotation).
	newlyMade := !known && ann[v1alpha1.AnnotationCreatePending] != ""
	newlyAdopted := !newlyMade && !onlyObserve && p.obj.GetManagedStatus().ID != obs.ExternalID
	if newlyAdopted && KnownID(p.obj) == obs.ExternalID && r.reader != nil {
		// The id is in the annotation but not in status.id: an import, or a copy from the cache
		// older than the status write of the pass that recorded the id. The latest version tells.
		latest := p.obj.DeepCopyObject().(O)
		if err := r.reader.Get(ctx, client.ObjectKeyFromObject(p.obj), latest); err != nil {
			return err
		}
		newlyAdopted = latest.GetManagedStatus().ID != obs.ExternalID
	}
	if !Adopts(p.obj, obs.Unclaimed) {
		return r.alreadyExists(ctx, p, obs.ExternalID)
	}
	if r.claims != nil && p.obj.GetManagedStatus().ID != obs.ExternalID {
		// An id asked for by annotation (which a tenant may write), or an object found by its
		// natural key, is not taken from a resource that records it (see Claims).
		holder, err := r.claims.HeldByOther(ctx, p.obj, obs.ExternalID)
		if err != nil {
			return err
		}
		if holder != "" {
			return Conflict("The PBX object %d is already managed by %s", obs.ExternalID, holder)
		}
	}
	if newlyMade && idn.marked(p.obj) {
		// The object a create under the mark made, with the keys and realm the mark recorded:
		// status.id is all that is left to record (create).
		p.obj.GetManagedStatus().ID = obs.ExternalID
		r.attempts.Delete(p.obj.GetUID())
	} else if err := r.setIdentity(ctx, p, idn); err != nil {
		return err
	}
	switch {
	case newlyMade:
		r.made(p.obj)
	case newlyAdopted:
		r.lostObjects.Delete(p.obj.GetUID())
		r.acted(p.obj, ActionAdopted)
	}
	if !known && (ann[v1alpha1.AnnotationCreatePending] != "" || ann[v1alpha1.AnnotationAdopt] == "true") {
		p.event(eventNormal, "Adopted", "Adopted the PBX object %d", obs.ExternalID)
	}
	return nil
}

// Adopts tells whether a PBX object found by obj's natural key is obj's to record, rather than
// somebody else's (AlreadyExists): obj records an id already, a create of it may have made the
// object (create-pending), it asks to adopt, it only observes, or the object is nobody's
// (Observation.Unclaimed). The engine and kubectl pbx plan decide by it.
func Adopts(obj Object, unclaimed bool) bool {
	ann := obj.GetAnnotations()
	return KnownID(obj) != 0 || ann[v1alpha1.AnnotationCreatePending] != "" || ann[v1alpha1.AnnotationAdopt] == "true" ||
		observeOnly(obj) || unclaimed
}

// deleteExternal deletes the PBX object if there is one and it is ours: one with a recorded id
// that still carries this resource's identity, or one found by its natural key while the
// create-pending mark says we may have made it (after any create call still under way has ended).
func (r *Reconciler[O]) deleteExternal(ctx context.Context, p *pass[O]) error {
	known := KnownID(p.obj) != 0
	_, pending := pendingSince(p.obj)
	if !known && (!pending || r.unsent(p.obj)) {
		return nil // nothing of ours exists upstream: no account is needed to let it go
	}
	ext, err := r.connector.Connect(ctx, p.obj)
	if err != nil {
		return err
	}
	if err := r.settle(p, "deleting its object"); err != nil {
		return err
	}
	obs, err := ext.Observe(ctx, p.obj, p.since)
	if err != nil {
		return err
	}
	if known {
		lost, err := r.lost(ctx, p, ext, obs)
		if err != nil {
			return err
		}
		if lost {
			// Gone, or the id now belongs to another resource's object: nothing of ours to delete.
			ext.Release(p.obj)
			return nil
		}
	}
	if !obs.Exists {
		return nil
	}
	// The marks that make an object ours (create-pending, external-id, the key record) are
	// annotations its users may write: an object that another resource holds is never deleted on
	// their word, only let go.
	if held, err := r.heldByOther(ctx, p.obj, obs.ExternalID); err != nil || held {
		if held {
			ext.Release(p.obj)
		}
		return err
	}
	if !known {
		p.obj.GetManagedStatus().ID = obs.ExternalID
	}
	ctx, err = turn(ctx, ext, p.obj)
	if err != nil {
		return err
	}
	switch err := ext.Delete(ctx, p.obj); {
	case err == nil:
		r.acted(p.obj, ActionDeleted)
	case httpStatus(err) != http.StatusNotFound:
		return err
	}
	ext.Release(p.obj)
	return nil
}

// heldByOther tells whether another resource holds the PBX object with the id: it holds the
// object's natural key against obj, or records the id at least as strongly (Claims).
func (r *Reconciler[O]) heldByOther(ctx context.Context, obj O, id int64) (bool, error) {
	if r.claims == nil {
		return false, nil
	}
	if err := r.claims.Check(ctx, obj); err != nil {
		if Classify(err).Reason == v1alpha1.ReasonConflict {
			return true, nil
		}
		return false, err
	}
	holder, err := r.claims.HeldByOther(ctx, obj, id)
	return holder != "", err
}

// alreadyExists reports a PBX object with this resource's natural key that is not its own, after
// making sure that the resource read from the cache is not older than the operator's own
// writes (an id or a create-pending mark recorded a moment ago).
func (r *Reconciler[O]) alreadyExists(ctx context.Context, p *pass[O], id int64) error {
	if r.reader != nil {
		latest := p.obj.DeepCopyObject().(O)
		if err := r.reader.Get(ctx, client.ObjectKeyFromObject(p.obj), latest); err != nil {
			return err
		}
		if KnownID(latest) != 0 || latest.GetAnnotations()[v1alpha1.AnnotationCreatePending] != "" {
			return Wait(time.Second, "the cached resource is older than its recorded identity")
		}
	}
	p.setReady(metav1.ConditionFalse, v1alpha1.ReasonAlreadyExists, "A PBX object with this natural key exists and is not managed by this resource")
	return &engineError{reason: v1alpha1.ReasonAlreadyExists, msg: fmt.Sprintf(
		"The PBX object %d has this natural key and is not managed by this resource: pick another, or set the %s: \"true\" annotation to adopt it",
		id, v1alpha1.AnnotationAdopt)}
}

// setIdentity records the PBX id of an object the resource did not make under its mark (adopted,
// imported, or renamed: its keys change) at once, outside the deferred status patch, in the
// external-id annotation (which survives backup and restore) with the object's keys and realm,
// and in status.id, and drops the create-pending mark. An object made under the mark needs none of
// it: the mark recorded its keys and realm, and status.id records its id (create).
func (r *Reconciler[O]) setIdentity(ctx context.Context, p *pass[O], idn identity) error {
	id := idn.id
	err := r.patchMetadata(ctx, p.obj, func(o O) {
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		idn.write(ann)
		delete(ann, v1alpha1.AnnotationCreatePending)
		o.SetAnnotations(ann)
		controllerutil.AddFinalizer(o, v1alpha1.Finalizer)
	})
	if err != nil {
		return fmt.Errorf("recording PBX id %d in the annotations: %w", id, err)
	}
	r.attempts.Delete(p.obj.GetUID())
	// status.id follows in the pass's status write: the annotation is the record that counts.
	p.obj.GetManagedStatus().ID = id
	return nil
}

// forget forgets the PBX id of a resource whose object is gone, in the annotations and the
// status, so that it is looked for by its natural key again.
//
// The order keeps every version that a lagging cache may serve a later pass from taking another
// object for the resource's:
//
//  1. the create-pending mark goes first: a version with the mark and without status.id says
//     that a create's answer was lost, and would make a pass adopt whatever now carries the key;
//     the key record written with the mark stays, and still records the keys of the id in status;
//  2. then status.id: KnownID falls back to it when the annotation is gone, and a version of the
//     resource with the id in status but without its key record would look like an import of the
//     old id, which the next pass would take for its own (and rename the object that took the id);
//  3. then the identity annotations.
//
// All three writes land only on the version the pass read.
func (r *Reconciler[O]) forget(ctx context.Context, p *pass[O]) error {
	if _, marked := pendingSince(p.obj); marked {
		if err := r.patchCurrent(ctx, p.obj, func(o O) {
			ann := o.GetAnnotations()
			delete(ann, v1alpha1.AnnotationCreatePending)
			o.SetAnnotations(ann)
		}); err != nil {
			return fmt.Errorf("forgetting the create of the lost PBX object: %w", err)
		}
	}
	if st := p.obj.GetManagedStatus(); st.ID != 0 {
		before := p.obj.DeepCopyObject().(O)
		// Ready goes with the id: no reader sees a Ready resource without its object.
		p.setReady(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object is gone")
		st.ID = 0
		cp := p.obj.DeepCopyObject().(O)
		if err := r.client.Status().Patch(ctx, cp, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("forgetting the lost PBX id in the status: %w", err)
		}
		p.obj.SetResourceVersion(cp.GetResourceVersion())
	}
	err := r.patchCurrent(ctx, p.obj, func(o O) {
		ann := o.GetAnnotations()
		forgetIdentity(ann)
		o.SetAnnotations(ann)
	})
	if err != nil {
		return fmt.Errorf("forgetting the lost PBX id: %w", err)
	}
	p.setReady(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object is gone")
	return nil
}

// refused handles a create the PBX refused. A refusal is not proof that nothing exists: "already
// exists" proves the opposite, and may answer a second POST for an object whose first POST was
// slow. So the PBX is looked at afresh: an object found is ours if an earlier create of this
// resource may have made it (hadMark), and is returned; it is somebody else's otherwise. Only when
// nothing of ours is found is the create-pending mark dropped and the refusal reported.
func (r *Reconciler[O]) refused(ctx context.Context, p *pass[O], ext Adapter[O], cerr error, hadMark bool) (Observation, error) {
	p.lookAfter(r.now())
	obs, err := ext.Observe(ctx, p.obj, p.since)
	if err != nil {
		return Observation{}, errors.Join(cerr, err)
	}
	if obs.Exists && hadMark {
		p.action = "Observe"
		return obs, nil
	}
	if err := r.patchCurrent(ctx, p.obj, func(o O) {
		ann := o.GetAnnotations()
		// With the mark goes what it recorded for the object the create would have made.
		delete(ann, v1alpha1.AnnotationCreatePending)
		delete(ann, v1alpha1.AnnotationExternalKey)
		delete(ann, v1alpha1.AnnotationRealm)
		o.SetAnnotations(ann)
	}); err != nil {
		return Observation{}, errors.Join(cerr, err)
	}
	r.attempts.Delete(p.obj.GetUID())
	if obs.Exists {
		return Observation{}, r.alreadyExists(ctx, p, obs.ExternalID)
	}
	p.setReady(metav1.ConditionFalse, v1alpha1.ReasonUnavailable, "The PBX object could not be created")
	return Observation{}, cerr
}
