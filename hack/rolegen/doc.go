// Command rolegen writes the files that list every kind of the pbx.cloudpbx.dev API, so that a new
// kind is added to them by 'make manifests' and not by hand: the CRD kustomization, the user roles
// (admin, editor, viewer) in config/rbac and in the Helm chart, and the chart's manager
// ClusterRole and per-namespace Secrets Roles. Its sources are the CRDs controller-gen generates into config/crd/bases and the
// manager's rules it generates into config/rbac/role.yaml (from the +kubebuilder:rbac markers).
//
// Usage, from the repository root:
//
//	go run ./hack/rolegen
package main
