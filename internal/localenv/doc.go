// Package localenv runs pbx-operator on one machine, the way the demo and the tests need it: the
// local control plane (etcd and kube-apiserver, built by hack/controlplane), pbxsim and the manager
// as separate processes, a kubeconfig for kubectl, and one folder with every log. It also starts
// the envtest API server with the project's CRDs that the API validation and integration suites
// share.
package localenv
