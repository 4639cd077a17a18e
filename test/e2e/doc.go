// Package e2e holds the black-box tests: the local control plane (real kube-apiserver and etcd),
// the pbxsim binary and the manager binary as separate processes, driven only through kubectl
// and pbxsim's HTTP API. They run in 'make test'; 'go test -short' skips them.
package e2e
