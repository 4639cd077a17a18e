// Command rolegen writes the lists of the kinds of the pbx.cloudpbx.dev API, so that a new kind is
// added to them by 'make manifests' and not by hand:
//
//   - the CRD kustomization, the samples' kustomization and kubebuilder's PROJECT;
//   - the user roles (admin, editor, viewer) in config/rbac and in the Helm chart;
//   - the lists in the Markdown and the Chart.yaml: the README's table of kinds, the chart's
//     description and README template (README.md.gotmpl, from which helm-docs then writes
//     README.md), docs/conditions.md, docs/promises.md, the table of roles in
//     docs/security.md and the per-kind Argo CD health snippet in docs/argocd.md. In these files it
//     writes only what is between the markers <!-- kinds:NAME --> and <!-- /kinds:NAME --> (the
//     lines # kinds:NAME and # /kinds:NAME in YAML); the var lists names them all.
//
// It also writes the chart's manager ClusterRole and per-namespace Secrets Roles, from the manager's
// rules that controller-gen generates into config/rbac/role.yaml (from the +kubebuilder:rbac
// markers), and the chart's CRD templates (templates/crds/), one per CRD of config/crd/bases with
// the same spec, byte for byte, and the chart's metadata; it removes the templates of CRDs that are
// gone.
//
// Which kinds are managed, and in what order, is the kinds table of internal/controller
// (controller.ManagedKinds); the account kinds are the values of a managed resource's
// spec.accountRef.kind. Everything else of a kind comes from its CRD, which controller-gen generates
// into config/crd/bases from api/: plural, short names, scope, version, and the first sentence of
// its description (the Go type's doc comment, "<Kind> is ...") for the README. rolegen fails when
// the table and the CRDs disagree, when a managed kind has no sample in config/samples, or when a
// file lost its markers. The test of the package fails when a committed list differs from what
// rolegen writes.
//
// Usage, from the repository root, after controller-gen (as 'make manifests' runs it):
//
//	go run ./hack/rolegen
package main
