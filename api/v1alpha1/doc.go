// Package v1alpha1 holds the pbx.cloudpbx.dev/v1alpha1 API: the custom resources that are the desired
// state of a cloud PBX.
//
// Account and ClusterAccount hold the connection to one PBX client (its API URL and the Secret with an
// OAuth2 app's credentials). ExtensionGroup and Extension are managed resources: each one stands for
// one object in the PBX, found through its account, and shares the spec block ManagedSpec (account
// reference, deletion and management policies) and the status block ManagedStatus (conditions, PBX id,
// observed generation). Conditions, reasons, annotations and the finalizer are constants here, so that
// the operator and its users name them the same way.
//
// +kubebuilder:object:generate=true
// +groupName=pbx.cloudpbx.dev
package v1alpha1
