package localenv

import (
	"errors"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// ErrNoAssets explains what to do when the control plane binaries are not known.
var ErrNoAssets = errors.New("KUBEBUILDER_ASSETS is not set: run 'make test', or " +
	"'export KUBEBUILDER_ASSETS=$(make -s envtest)' first (use -short to skip the tests that need it)")

// Short tells whether a test binary runs with -short, before the testing flags are parsed (a
// TestMain must decide whether to start the control plane before m.Run parses them).
func Short() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

// Scheme holds the Kubernetes types and the pbx.cloudpbx.dev types.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// APIServer starts an envtest kube-apiserver and etcd from KUBEBUILDER_ASSETS with the CRDs of
// config/crd/bases, found from root (the repository). Stop the returned Environment when done.
func APIServer(root string, scheme *runtime.Scheme) (*envtest.Environment, *rest.Config, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, nil, ErrNoAssets
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, err
	}
	return env, cfg, nil
}
