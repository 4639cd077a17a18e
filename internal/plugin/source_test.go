package plugin_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

// TestAccountSourceAsTheManagerWould: kubectl pbx uses an account's credentials as the manager
// does: only from a Secret given as account credentials, only towards the PBX its url names, and
// with the account's CA bundle (a PBX behind a private CA is reached, with TLS verified).
func TestAccountSourceAsTheManagerWould(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	sim, err := pbxsim.New(pbxsim.DemoConfig())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pbxsim.NewCA("test PBX CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	url := srv.URL + "/"

	const ns = "source"
	objects := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pbx-ca", Namespace: ns}, Data: map[string]string{"ca.crt": string(ca.PEM)}},
	}
	secret := func(name, label, url string) *corev1.Secret {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			StringData: map[string]string{"clientID": pbxsim.DemoTrustedAppID, "clientSecret": pbxsim.DemoAppSecret, "url": url},
		}
		if label != "" {
			s.Labels = map[string]string{v1alpha1.LabelCredentials: label}
		}
		return s
	}
	acct := func(name, secret string) *v1alpha1.Account {
		return &v1alpha1.Account{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: v1alpha1.AccountSpec{
				ConnectionSpec: v1alpha1.ConnectionSpec{URL: url,
					CABundleRef: v1alpha1.CABundleReference{Kind: v1alpha1.CABundleKindConfigMap, Name: "pbx-ca", Key: "ca.crt"}},
				CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: secret},
			},
		}
	}
	objects = append(objects,
		secret("unlabelled", "", url), acct("unlabelled", "unlabelled"),
		secret("password", "sip-password", url), acct("password", "password"),
		secret("elsewhere", "true", "https://pbx.example/"), acct("elsewhere", "elsewhere"),
	)
	for _, o := range objects {
		if err := c.k.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	for name, want := range map[string]string{
		"unlabelled": "is not given as account credentials: label it with kubectl -n source label secret unlabelled pbx.cloudpbx.dev/credentials=true",
		"password":   "is not given as account credentials",
		"elsewhere":  "allows its credentials to be sent only to the PBX its key url names",
	} {
		calls := sim.RequestTotal("", "")
		cmd := &plugin.ExportCommand{Kube: c.k, Account: name, Namespace: ns, Out: io.Discard}
		if err := cmd.Run(ctx); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("account %s: want an error with %q, got %v", name, want, err)
		}
		if n := sim.RequestTotal("", "") - calls; n != 0 {
			t.Errorf("account %s: %d requests reached the PBX", name, n)
		}
	}

	// Given last: the manager, running beside, checks it (and refused the others unsent).
	for _, o := range []client.Object{secret("given", "true", url), acct("given", "given")} {
		if err := c.k.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	var progress []string
	cmd := &plugin.ExportCommand{Kube: c.k, Account: "given", Namespace: ns, Out: io.Discard,
		Progress: func(format string, args ...any) { progress = append(progress, fmt.Sprintf(format, args...)) }}
	if err := cmd.Run(ctx); err != nil {
		t.Fatalf("export through the given account and its CA bundle: %v", err)
	}
	if len(progress) == 0 || !strings.HasPrefix(progress[0], "Reading the PBX client") {
		t.Errorf("the export read the PBX through its private CA: %q", progress)
	}
}
