package v1alpha1_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

func TestCABundle(t *testing.T) {
	ref := v1alpha1.CABundleReference{Kind: v1alpha1.CABundleKindConfigMap, Name: "corp-ca", Key: "ca.crt"}
	inPBX := ref
	inPBX.Namespace = "pbx"
	cases := map[string]struct {
		reason string
		got    *v1alpha1.CABundleReference
		want   *v1alpha1.CABundleReference
	}{
		"AccountWithout": {
			reason: "An account without caBundleRef trusts the system's roots only.",
			got:    (&v1alpha1.Account{}).CABundle(),
		},
		"AccountInItsNamespace": {
			reason: "An Account's bundle is in the Account's namespace.",
			got: (&v1alpha1.Account{
				ObjectMeta: metav1.ObjectMeta{Namespace: "pbx"},
				Spec:       v1alpha1.AccountSpec{ConnectionSpec: v1alpha1.ConnectionSpec{CABundleRef: ref}},
			}).CABundle(),
			want: &inPBX,
		},
		"ClusterAccountWithout": {
			reason: "A ClusterAccount without caBundleRef trusts the system's roots only.",
			got:    (&v1alpha1.ClusterAccount{}).CABundle(),
		},
		"ClusterAccountAsGiven": {
			reason: "A ClusterAccount's bundle is where the reference says.",
			got: (&v1alpha1.ClusterAccount{
				Spec: v1alpha1.ClusterAccountSpec{ConnectionSpec: v1alpha1.ConnectionSpec{CABundleRef: inPBX}},
			}).CABundle(),
			want: &inPBX,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("%s\nCABundle() (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
	if ref.Namespace != "" {
		t.Errorf("CABundle() must not change the spec's reference")
	}
}
