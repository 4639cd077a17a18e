// Command etcd is etcd's own server, built from go.etcd.io/etcd/server/v3 at the version pinned in
// this module's go.mod, for the local control plane (kube-apiserver's storage in envtest, the demo
// and the e2e tests).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
