package controller

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// indexPhoneNumberExtension indexes PhoneNumbers by the Extensions of their extensionRef and
// messageExtensionRef (namespace/name).
const indexPhoneNumberExtension = "pbx.cloudpbx.dev/phonenumber-extension"

// phoneNumberExtensions is the index function of indexPhoneNumberExtension.
func phoneNumberExtensions(o client.Object) []string {
	p := o.(*v1alpha1.PhoneNumber)
	var out []string
	for _, name := range []string{p.Spec.ExtensionRef.Name, p.Spec.MessageExtensionRef.Name} {
		if v := p.Namespace + "/" + name; name != "" && (len(out) == 0 || out[0] != v) {
			out = append(out, v)
		}
	}
	return out
}

// resolveExtension returns the Extension that a PhoneNumber's field (extensionRef or
// messageExtensionRef) names, once it is Ready.
func resolveExtension(ctx context.Context, c client.Reader, p *v1alpha1.PhoneNumber, field string, ref v1alpha1.PhoneNumberExtensionReference) (pbxRef, error) {
	var e v1alpha1.Extension
	what := fmt.Sprintf("The Extension %s (%s)", ref.Name, field)
	if err := readyRef(ctx, c, p, ref.Name, what, &e, nil); err != nil {
		return pbxRef{}, err
	}
	return extensionRef(what, &e), nil
}

// resolve sets the adapter's route from the spec: each reference to its Extension's PBX id, each
// raw id as written.
func (a *phoneNumberAdapter) resolve(ctx context.Context, c client.Reader, p *v1alpha1.PhoneNumber) error {
	switch {
	case p.Spec.ExtensionRef.Name != "":
		ref, err := resolveExtension(ctx, c, p, "extensionRef", p.Spec.ExtensionRef)
		if err != nil {
			return err
		}
		a.route.extension, a.extension = &ref.id, ref
	case p.Spec.ExtensionID != 0:
		if err := foreignID(ctx, c, p, "extensionID", p.Spec.ExtensionID, &v1alpha1.ExtensionList{}); err != nil {
			return err
		}
		a.route.extension = idOrNil(p.Spec.ExtensionID)
	}
	switch {
	case p.Spec.MessageExtensionRef.Name != "":
		ref, err := resolveExtension(ctx, c, p, "messageExtensionRef", p.Spec.MessageExtensionRef)
		if err != nil {
			return err
		}
		a.route.messageExtension, a.messageExtension = &ref.id, ref
	case p.Spec.MessageExtensionID != 0:
		if err := foreignID(ctx, c, p, "messageExtensionID", p.Spec.MessageExtensionID, &v1alpha1.ExtensionList{}); err != nil {
			return err
		}
		a.route.messageExtension = idOrNil(p.Spec.MessageExtensionID)
	}
	return nil
}

// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=phonenumbers,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=phonenumbers/status,verbs=patch

// setupPhoneNumber registers the PhoneNumber controller, with a snapshot of each account's DIDs.
func setupPhoneNumber(mgr ctrl.Manager, o Options) error {
	c := mgr.GetClient()
	drift := &driftQueue{}
	dids := snapshotPart(o.Registry, drift,
		func(ctx context.Context, c *account.Connection) ([]pbx.DID, error) {
			return c.Client.DIDs.ListAll(ctx, c.Realm, pbx.DIDFilter{})
		},
		func(d pbx.DID) int64 { return d.ID },
		func(d pbx.DID) string { return d.Name })
	connector := managed.ConnectorFn[*v1alpha1.PhoneNumber](func(ctx context.Context, p *v1alpha1.PhoneNumber) (managed.Adapter[*v1alpha1.PhoneNumber], error) {
		conn, err := connection(ctx, c, o, p)
		if err != nil {
			return nil, err
		}
		a := &phoneNumberAdapter{poller: poller{conn}, conn: conn, dids: dids.Of(conn)}
		// Unassigning needs none of the references: a number is let go even when its Extension is
		// gone or being deleted with it.
		if p.DeletionTimestamp.IsZero() {
			if err := a.resolve(ctx, c, p); err != nil {
				return nil, err
			}
		}
		return a, nil
	})
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.PhoneNumber{}, indexPhoneNumberExtension, phoneNumberExtensions); err != nil {
		return err
	}
	// An Extension that becomes Ready (or changes, or goes) re-triggers the numbers routed to it.
	routed := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, e client.Object) []reconcile.Request {
		return requestsFor(ctx, c, &v1alpha1.PhoneNumberList{}, indexPhoneNumberExtension, e.GetNamespace()+"/"+e.GetName())
	})
	return setupManaged(mgr, o, managedKind[*v1alpha1.PhoneNumber]{
		name:       "phonenumber",
		object:     &v1alpha1.PhoneNumber{},
		newList:    func() client.ObjectList { return &v1alpha1.PhoneNumberList{} },
		naturalKey: PhoneNumberClaim,
		connector:  connector,
		drift:      drift,
		watches:    func(b *builder.Builder) *builder.Builder { return b.Watches(&v1alpha1.Extension{}, routed) },
	}, mgr.GetEventRecorder("phonenumber-controller"))
}
