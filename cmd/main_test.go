package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pbxv1alpha1 "github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/localenv"
)

// TestSecretCache shows that the manager's cache holds only the metadata of the Secrets given with
// the credentials label, in the Secret namespaces, however many other Secrets there are and
// whatever their size.
func TestSecretCache(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the envtest API server; runs without -short")
	}
	scheme := localenv.Scheme()
	env, cfg, err := localenv.APIServer(filepath.Join(".."), scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the envtest API server: %v", err)
		}
	})
	k, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Per namespace: one labelled Secret, one labelled "false", and many unrelated large ones.
	const unrelated = 50
	big := strings.Repeat("x", 100<<10)
	for _, ns := range []string{"team-a", "team-b", "elsewhere"} {
		if err := k.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		secrets := []*corev1.Secret{
			{ObjectMeta: metav1.ObjectMeta{Name: "pbx", Labels: map[string]string{pbxv1alpha1.LabelCredentials: "true"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "opted-out", Labels: map[string]string{pbxv1alpha1.LabelCredentials: "false"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "sip", Labels: map[string]string{pbxv1alpha1.LabelCredentials: pbxv1alpha1.LabelCredentialsSIP}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "password", Labels: map[string]string{pbxv1alpha1.LabelCredentials: pbxv1alpha1.LabelCredentialsPassword}}},
		}
		for i := range unrelated {
			secrets = append(secrets, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%d", i)}})
		}
		for _, s := range secrets {
			s.Namespace, s.StringData = ns, map[string]string{"data": big}
			if err := k.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}

	cases := map[string]struct {
		reason           string
		secretNamespaces string
		want             []string
	}{
		"AllNamespaces": {
			reason: "Without --secret-namespaces, only the labelled Secrets of every namespace are cached.",
			want: []string{"elsewhere/password", "elsewhere/pbx", "elsewhere/sip", "team-a/password", "team-a/pbx", "team-a/sip",
				"team-b/password", "team-b/pbx", "team-b/sip"},
		},
		"SecretNamespaces": {
			reason:           "--secret-namespaces restricts the labelled Secrets further to its namespaces.",
			secretNamespaces: "team-a, team-b",
			want:             []string{"team-a/password", "team-a/pbx", "team-a/sip", "team-b/password", "team-b/pbx", "team-b/sip"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := cache.New(cfg, func() cache.Options {
				o := controller.CacheOptions(nil, list(tc.secretNamespaces), controller.Shard{})
				o.Scheme = scheme
				return o
			}())
			if err != nil {
				t.Fatal(err)
			}
			cctx, stop := context.WithCancel(ctx)
			defer stop()
			go func() {
				if err := c.Start(cctx); err != nil {
					t.Errorf("cache: %v", err)
				}
			}()
			if !c.WaitForCacheSync(ctx) {
				t.Fatal("the cache did not sync")
			}
			var secrets metav1.PartialObjectMetadataList
			secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
			if err := c.List(ctx, &secrets); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range secrets.Items {
				got = append(got, s.Namespace+"/"+s.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s\nSecrets in the cache: want %v, got %v (of %d in the cluster)", tc.reason, tc.want, got, 3*(unrelated+2))
			}
			// A Get of a Secret that is not opted in finds nothing, which is what the account
			// controller sees of an unlabelled Secret.
			m := &metav1.PartialObjectMetadata{}
			m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
			err = c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "unrelated-0"}, m)
			if !apierrors.IsNotFound(err) {
				t.Errorf("%s\nGet of an unlabelled Secret: want NotFound, got %v", tc.reason, err)
			}
		})
	}
}
