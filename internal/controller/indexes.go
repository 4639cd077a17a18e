package controller

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

// Field indexes the controllers map events through.
const (
	// indexAccount indexes managed resources by the account they use (account.Key.String()).
	indexAccount = "pbx.cloudpbx.dev/account"
	// indexGroup indexes Extensions by the ExtensionGroup of their groupRef (namespace/name).
	indexGroup = "pbx.cloudpbx.dev/group"
	// indexPasswordSecret indexes Extensions by the Secret of their passwordSecretRef
	// (namespace/name).
	indexPasswordSecret = "pbx.cloudpbx.dev/password-secret"
	// indexSecret indexes accounts by their credentials Secret (namespace/name).
	indexSecret = "pbx.cloudpbx.dev/secret"
)

// accountIndexValue is the index function of indexAccount.
func accountIndexValue(o client.Object) []string {
	m, ok := o.(managed.Object)
	if !ok {
		return nil
	}
	return []string{account.KeyFor(m.GetManagedSpec().AccountRef, o.GetNamespace()).String()}
}

// accountKeyOf returns the key of an Account or ClusterAccount object.
func accountKeyOf(o client.Object) account.Key {
	if _, ok := o.(*v1alpha1.ClusterAccount); ok {
		return account.Key{Kind: v1alpha1.AccountKindClusterAccount, Name: o.GetName()}
	}
	return account.Key{Kind: v1alpha1.AccountKindAccount, Namespace: o.GetNamespace(), Name: o.GetName()}
}

// requestsFor lists the resources of a kind whose index field has value, as reconcile requests.
func requestsFor(ctx context.Context, r client.Reader, list client.ObjectList, index, value string) []reconcile.Request {
	if err := r.List(ctx, list, client.MatchingFields{index: value}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, o := range items(list) {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
	}
	return out
}

// items returns the objects of a list of one of the kinds.
func items(list client.ObjectList) []client.Object {
	objs, _ := meta.ExtractList(list)
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(client.Object))
	}
	return out
}

// usersOf maps an Account or ClusterAccount to the resources of one managed kind that use it.
func usersOf(r client.Reader, newList func() client.ObjectList) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		return requestsFor(ctx, r, newList(), indexAccount, accountKeyOf(o).String())
	})
}

// accountReadiness passes the account changes that its users act on: a new spec, a deletion, or a
// change of Ready's status. Other status changes (the limits' counts, a message) do not wake every
// resource of the account.
func accountReadiness() predicate.Predicate {
	ready := func(o client.Object) metav1.ConditionStatus {
		if a, ok := o.(interface {
			GetAccountStatus() *v1alpha1.AccountStatus
		}); ok {
			if c := meta.FindStatusCondition(a.GetAccountStatus().Conditions, v1alpha1.ConditionReady); c != nil {
				return c.Status
			}
		}
		return ""
	}
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
			!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp()) ||
			ready(e.ObjectOld) != ready(e.ObjectNew)
	}}
}
