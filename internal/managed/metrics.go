package managed

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/telemetry"
)

// Action is something the engine did to a PBX object, the action label of
// pbx_resource_actions_total.
type Action string

// The actions the engine counts, each once, after the write succeeded.
const (
	// ActionCreated: the engine made the PBX object (counted when the create's answer came, or,
	// when it was lost, when a later pass found the object its create-pending mark made).
	ActionCreated Action = "created"
	// ActionUpdated: the engine changed the PBX object after a change of the spec.
	ActionUpdated Action = "updated"
	// ActionDriftCorrected: the engine set back a PBX object that changed in the PBX while the
	// spec did not (the spec's generation was in sync before the update).
	ActionDriftCorrected Action = "drift_corrected"
	// ActionDeleted: the engine deleted the PBX object (deletion policy Delete).
	ActionDeleted Action = "deleted"
	// ActionAdopted: the engine recorded an existing PBX object as the resource's: found by its
	// natural key with the adopt annotation or unclaimed, or imported by the external-id
	// annotation.
	ActionAdopted Action = "adopted"
	// ActionRecreated: the engine made the PBX object again after it was lost (gone from the PBX,
	// or its id taken by another object); counted instead of created.
	ActionRecreated Action = "recreated"
	// ActionConflict: a resource entered AlreadyExists or Conflict.
	ActionConflict Action = "conflict"
)

// Actions returns every Action, in the order of the documentation.
func Actions() []Action {
	return []Action{ActionCreated, ActionUpdated, ActionDriftCorrected, ActionDeleted, ActionAdopted, ActionRecreated, ActionConflict}
}

// Metrics counts what the engines of every kind did (pbx_resource_actions_total) and keeps the
// resources that fight over their PBX object (pbx_resources_drift_fights). One Metrics serves the
// Reconcilers of all kinds (WithMetrics); register its Collectors once.
type Metrics struct {
	actions *prometheus.CounterVec
	fights  *fights
}

// NewMetrics returns the engine's metrics; now is the clock of the drift fights (time.Now when
// nil).
func NewMetrics(now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	return &Metrics{actions: telemetry.ResourceActions.CounterVec(), fights: &fights{now: now, byUID: map[types.UID]*fight{}}}
}

// Collectors returns the collectors to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.actions, m.fights}
}

// ForgetAccount drops the action counters of the resources of a deleted account: an Account's
// (in its namespace), or a ClusterAccount's (in every namespace), so that accounts and namespaces
// that come and go leave no series behind.
func (m *Metrics) ForgetAccount(kind v1alpha1.AccountKind, namespace, name string) {
	match := prometheus.Labels{"account_kind": string(kind), "account": name}
	if kind == v1alpha1.AccountKindAccount {
		match["namespace"] = namespace
	}
	m.actions.DeletePartialMatch(match)
}

// WithMetrics counts what the Reconciler does to the PBX objects of its kind (named as users
// write it: Extension) in m.
func WithMetrics[O Object](m *Metrics, kind string) Option[O] {
	return func(r *Reconciler[O]) { r.metrics, r.kind = m, kind }
}

// ResourceLabels are the labels of a resource's series, telemetry's resource labels: its kind,
// its namespace, and the kind and name of the account it uses.
func ResourceLabels(kind string, obj Object) [4]string {
	ref := obj.GetManagedSpec().AccountRef
	accountKind := ref.Kind
	if accountKind == "" {
		accountKind = v1alpha1.AccountKindAccount
	}
	return [4]string{kind, obj.GetNamespace(), string(accountKind), ref.Name}
}

// acted counts an action of the Reconciler on obj's PBX object.
func (r *Reconciler[O]) acted(obj O, a Action) {
	if r.metrics == nil {
		return
	}
	l := ResourceLabels(r.kind, obj)
	r.metrics.actions.WithLabelValues(l[0], l[1], l[2], l[3], string(a)).Inc()
	if a == ActionDriftCorrected {
		r.metrics.fights.corrected(obj.GetUID(), l)
	}
}

// made counts a PBX object the Reconciler made for obj: recreated when obj lost its object before,
// created otherwise.
func (r *Reconciler[O]) made(obj O) {
	if _, lost := r.lostObjects.LoadAndDelete(obj.GetUID()); lost {
		r.acted(obj, ActionRecreated)
		return
	}
	r.acted(obj, ActionCreated)
}

// forgetResource drops what the Reconciler and its metrics remember of a resource that was
// released.
func (r *Reconciler[O]) forgetResource(uid types.UID) {
	r.attempts.Delete(uid)
	r.lostObjects.Delete(uid)
	r.inSync.Delete(uid)
	if r.metrics != nil {
		r.metrics.fights.forget(uid)
	}
}

// The drift fights: a resource whose PBX object was set back fightCorrections times within
// fightWindow is fighting somebody.
const (
	fightCorrections = 3
	fightWindow      = time.Hour
	// pruneEvery is how often the fights of resources quiet for a whole window are dropped.
	pruneEvery = time.Minute
)

// fights remembers, per resource, the times of its last fightCorrections drift corrections, and
// drops a resource once its last one is older than fightWindow, or when it is released: its
// memory is bounded by the resources corrected within the last hour.
type fights struct {
	now func() time.Time

	mu     sync.Mutex
	byUID  map[types.UID]*fight
	pruned time.Time
}

// fight is one resource's last drift corrections, a ring: times[next] is the oldest.
type fight struct {
	labels [4]string
	times  [fightCorrections]time.Time
	next   int
}

func (f *fight) latest() time.Time { return f.times[(f.next+fightCorrections-1)%fightCorrections] }

// fighting tells whether all of the resource's last fightCorrections corrections fall within the
// window before now.
func (f *fight) fighting(now time.Time) bool {
	oldest := f.times[f.next]
	return !oldest.IsZero() && now.Sub(oldest) < fightWindow
}

// corrected records a drift correction of the resource uid.
func (fs *fights) corrected(uid types.UID, labels [4]string) {
	now := fs.now()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.prune(now)
	f := fs.byUID[uid]
	if f == nil {
		f = &fight{}
		fs.byUID[uid] = f
	}
	f.labels = labels
	f.times[f.next] = now
	f.next = (f.next + 1) % fightCorrections
}

// forget drops a released resource.
func (fs *fights) forget(uid types.UID) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	delete(fs.byUID, uid)
}

// prune drops the resources whose last correction is older than the window, at most every
// pruneEvery. The caller holds mu.
func (fs *fights) prune(now time.Time) {
	if now.Sub(fs.pruned) < pruneEvery {
		return
	}
	fs.pruned = now
	for uid, f := range fs.byUID {
		if now.Sub(f.latest()) >= fightWindow {
			delete(fs.byUID, uid)
		}
	}
}

// Describe sends pbx_resources_drift_fights.
func (fs *fights) Describe(ch chan<- *prometheus.Desc) { ch <- driftFightsDesc }

// Collect counts the fighting resources by their labels; 0 for labels whose resources were
// corrected within the window, but fewer times.
func (fs *fights) Collect(ch chan<- prometheus.Metric) {
	now := fs.now()
	fs.mu.Lock()
	fs.prune(now)
	counts := map[[4]string]int{}
	for _, f := range fs.byUID {
		n := counts[f.labels]
		if f.fighting(now) {
			n++
		}
		counts[f.labels] = n
	}
	fs.mu.Unlock()
	for l, n := range counts {
		ch <- prometheus.MustNewConstMetric(driftFightsDesc, prometheus.GaugeValue, float64(n), l[0], l[1], l[2], l[3])
	}
}

var driftFightsDesc = telemetry.DriftFights.Desc()
