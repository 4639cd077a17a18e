package controller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// CacheOptions says what the manager's cache holds: the resources of the watched namespaces
// (none: all), and of the Secrets only the metadata of those that their owners gave the
// operator with the credentials label, in the Secret namespaces (none: the watched ones).
// Unrelated Secrets are never read, and the data of a given one is read from the API server when
// it is used: the manager's memory grows neither with the number of Secrets in the cluster nor
// with what a tenant puts in its own.
//
// A sharded manager (shard.Sharded) caches, of the accounts and the managed kinds, only those its
// shard's selector selects, filtered by the API server: the shard's memory and its share of the
// API server's watch traffic grow with its own objects, not the cluster's. Secrets, Namespaces,
// Leases and Events keep their own selection.
func CacheOptions(namespaces, secretNamespaces []string, shard Shard) cache.Options {
	given, err := labels.NewRequirement(v1alpha1.LabelCredentials, selection.In,
		[]string{v1alpha1.LabelCredentialsAccount, v1alpha1.LabelCredentialsPassword, v1alpha1.LabelCredentialsSIP})
	if err != nil {
		panic(err) // a constant selector
	}
	byObject := map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Namespaces: namespaceSet(secretNamespaces), Label: labels.NewSelector().Add(*given)},
	}
	if shard.Sharded() {
		for _, o := range shardedObjects() {
			byObject[o] = cache.ByObject{Label: shard.Selector}
		}
	}
	return cache.Options{
		// managedFields are a large part of every cached object and nothing here reads them.
		DefaultTransform:  cache.TransformStripManagedFields(),
		DefaultNamespaces: namespaceSet(namespaces),
		ByObject:          byObject,
	}
}

// shardedObjects are the kinds a shard's selector applies to: the accounts and the managed kinds.
func shardedObjects() []client.Object {
	out := []client.Object{&v1alpha1.Account{}, &v1alpha1.ClusterAccount{}}
	for _, k := range kinds {
		out = append(out, k.object())
	}
	return out
}

// namespaceSet is a namespace list as cache settings; nil means all.
func namespaceSet(list []string) map[string]cache.Config {
	if len(list) == 0 {
		return nil
	}
	out := make(map[string]cache.Config, len(list))
	for _, ns := range list {
		out[ns] = cache.Config{}
	}
	return out
}
