package controller

import (
	"context"
	"strconv"
	"strings"
	"sync"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/snapshot"
)

// indexSubscriptionExtension indexes EventSubscriptions by the Extension of their extensionRef
// (namespace/name).
const indexSubscriptionExtension = "pbx.cloudpbx.dev/eventsubscription-extension"

// eventStores is one account's snapshots of event subscriptions. The PBX lists subscriptions per
// extension only, so there is one snapshot per extension, made when a subscription of it is first
// observed: N subscriptions on M extensions cost M lists per poll interval. It is safe for
// concurrent use.
type eventStores struct {
	conn  *account.Connection
	drift *driftQueue

	mu     sync.Mutex
	stores map[int64]objects[pbx.Event]
}

// of returns the snapshot of one extension's subscriptions.
func (e *eventStores) of(extensionID int64) objects[pbx.Event] {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.stores[extensionID]; ok {
		return s
	}
	realm := pbx.ExtensionRealm(extensionID)
	s := newObjects(snapshot.Options[pbx.Event]{
		List: func(ctx context.Context) ([]pbx.Event, error) {
			events, err := e.conn.Client.Events.ListAll(ctx, realm, pbx.EventFilter{})
			if pbx.IsNotFound(err) {
				// The extension is gone, and the PBX deleted its subscriptions with it.
				return nil, nil
			}
			return events, err
		},
		ID:       func(x pbx.Event) int64 { return x.ID },
		Key:      pbxEventKey,
		MaxAge:   e.conn.PollInterval(),
		OnChange: e.drift.notify,
	})
	e.stores[extensionID] = s
	return s
}

// subscriptionExtension returns a subscription's extension: extensionID as written, or
// extensionRef's Extension once it is Ready. The PBX takes only Hangup on IVR and Queue
// extensions; for an Extension of those types other event types are refused here, before the PBX
// refuses them.
func subscriptionExtension(ctx context.Context, c client.Reader, s *v1alpha1.EventSubscription) (pbxRef, error) {
	if s.Spec.ExtensionID != 0 {
		if err := foreignID(ctx, c, s, "extensionID", s.Spec.ExtensionID, &v1alpha1.ExtensionList{}); err != nil {
			return pbxRef{}, err
		}
		return pbxRef{id: s.Spec.ExtensionID}, nil
	}
	var e v1alpha1.Extension
	name := s.Spec.ExtensionRef.Name
	err := readyRef(ctx, c, s, name, "The Extension "+name, &e, func(e *v1alpha1.Extension) error {
		if onlyHangup(e.Spec.Type) && s.Spec.EventType != v1alpha1.EventTypeHangup {
			return managed.InvalidSpec("The Extension %s is of type %s, which takes only Hangup subscriptions: the PBX refuses %s there (an ivr-type error)",
				e.Name, e.Spec.Type, s.Spec.EventType)
		}
		return nil
	})
	if err != nil {
		return pbxRef{}, err
	}
	return extensionRef("The Extension "+name, &e), nil
}

// deletedSubscriptionExtension returns the extension of a subscription being deleted: the realm
// recorded with its id (where the subscription lives, also when the status is lost), else the one
// its status records, else its spec's if that still resolves, else 0 (its Extension is gone, and
// most likely the PBX extension and its subscriptions with it).
func deletedSubscriptionExtension(ctx context.Context, c client.Reader, s *v1alpha1.EventSubscription) int64 {
	if v, ok := strings.CutPrefix(s.Annotations[v1alpha1.AnnotationRealm], string(pbx.RealmExtension)+"/"); ok {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			return id
		}
	}
	if s.Status.ExtensionID != 0 {
		return s.Status.ExtensionID
	}
	ref, err := subscriptionExtension(ctx, c, s)
	if err != nil {
		return 0
	}
	return ref.id
}

// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=eventsubscriptions,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=eventsubscriptions/status,verbs=patch

// setupEventSubscription registers the EventSubscription controller, with per-extension snapshots
// of each account's subscriptions. The URL of a serviceRef is built from the reference, so the
// controller reads no Services.
func setupEventSubscription(mgr ctrl.Manager, o Options) error {
	c := mgr.GetClient()
	drift := &driftQueue{}
	stores := account.AddPart(o.Registry, func(conn *account.Connection) *eventStores {
		return &eventStores{conn: conn, drift: drift, stores: map[int64]objects[pbx.Event]{}}
	})
	connector := managed.ConnectorFn[*v1alpha1.EventSubscription](func(ctx context.Context, s *v1alpha1.EventSubscription) (managed.Adapter[*v1alpha1.EventSubscription], error) {
		conn, err := connection(ctx, c, o, s)
		if err != nil {
			return nil, err
		}
		var ref pbxRef
		if s.DeletionTimestamp.IsZero() {
			if ref, err = subscriptionExtension(ctx, c, s); err != nil {
				return nil, err
			}
		} else {
			ref.id = deletedSubscriptionExtension(ctx, c, s)
		}
		a := &eventAdapter{poller: poller{conn}, conn: conn, extensionID: ref.id, extension: ref}
		if ref.id != 0 {
			a.events = stores.Of(conn).of(ref.id)
		}
		return a, nil
	})
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.EventSubscription{}, indexSubscriptionExtension, func(o client.Object) []string {
		if name := o.(*v1alpha1.EventSubscription).Spec.ExtensionRef.Name; name != "" {
			return []string{o.GetNamespace() + "/" + name}
		}
		return nil
	}); err != nil {
		return err
	}
	// An Extension that becomes Ready (or changes, or goes) re-triggers its subscriptions.
	subscribed := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, e client.Object) []reconcile.Request {
		return requestsFor(ctx, c, &v1alpha1.EventSubscriptionList{}, indexSubscriptionExtension, e.GetNamespace()+"/"+e.GetName())
	})
	return setupManaged(mgr, o, managedKind[*v1alpha1.EventSubscription]{
		name:       "eventsubscription",
		object:     &v1alpha1.EventSubscription{},
		newList:    func() client.ObjectList { return &v1alpha1.EventSubscriptionList{} },
		naturalKey: subscriptionClaim,
		connector:  connector,
		drift:      drift,
		watches:    func(b *builder.Builder) *builder.Builder { return b.Watches(&v1alpha1.Extension{}, subscribed) },
	}, mgr.GetEventRecorder("eventsubscription-controller"))
}

// subscriptionClaim is the natural key two EventSubscriptions of an account must not share: the
// extension as the spec names it, and the URL, event type and method.
func subscriptionClaim(s *v1alpha1.EventSubscription) string {
	extension := "extensionRef=" + s.Namespace + "/" + s.Spec.ExtensionRef.Name
	if s.Spec.ExtensionID != 0 {
		extension = "extensionID=" + strconv.FormatInt(s.Spec.ExtensionID, 10)
	}
	return extension + " " + eventSpecKey(s)
}
