package controller_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// TestCredentialsAreGivenNotTaken: a Secret without the opt-in label is never used, and a
// ClusterAccount cannot use a Secret outside the trusted namespaces; both say how to fix it.
func TestCredentialsAreGivenNotTaken(t *testing.T) {
	w := newWorld(t, nil)
	tokens := w.sim.RequestTotal("", "/oauth/token")
	w.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "unlabelled", Namespace: w.ns},
		StringData: map[string]string{"clientID": pbxsim.DemoTrustedAppID, "clientSecret": pbxsim.DemoAppSecret},
	})
	a := &v1alpha1.Account{
		ObjectMeta: metav1.ObjectMeta{Name: "unlabelled", Namespace: w.ns},
		Spec: v1alpha1.AccountSpec{
			ConnectionSpec:       v1alpha1.ConnectionSpec{URL: w.srv.URL + "/"},
			CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "unlabelled"},
		},
	}
	w.create(a)
	w.g.Eventually(w.cond(a, v1alpha1.ConditionStalled)).Should(Equal("True/InvalidSpec"))
	want := "The Secret " + w.ns + "/unlabelled is not opted in as PBX credentials: label it with kubectl -n " + w.ns +
		" label secret unlabelled pbx.cloudpbx.dev/credentials=true"
	if m := message(a, v1alpha1.ConditionReady); m != want {
		t.Errorf("the condition says how to opt the Secret in:\nwant %q\ngot  %q", want, m)
	}
	if n := w.sim.RequestTotal("", "/oauth/token") - tokens; n != 0 {
		t.Errorf("an unlabelled Secret's values never reach the PBX: %d token requests", n)
	}
	s := &corev1.Secret{}
	s.Name, s.Namespace = "unlabelled", w.ns
	w.update(s, func() { s.Labels = map[string]string{v1alpha1.LabelCredentials: "true"} })
	w.waitReady(a)

	// A ClusterAccount may not take a Secret from a namespace the operator does not trust, even
	// one that is opted in.
	ca := &v1alpha1.ClusterAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "deputy-" + w.ns},
		Spec: v1alpha1.ClusterAccountSpec{
			ConnectionSpec:       v1alpha1.ConnectionSpec{URL: w.srv.URL + "/"},
			CredentialsSecretRef: v1alpha1.SecretReference{Namespace: w.ns, Name: "pbx"},
		},
	}
	w.create(ca)
	t.Cleanup(func() { _ = k.Delete(context.Background(), ca) })
	w.g.Eventually(w.cond(ca, v1alpha1.ConditionStalled)).Should(Equal("True/InvalidSpec"))
	if m := message(ca, v1alpha1.ConditionReady); !strings.Contains(m, "may not use Secrets or ConfigMaps in namespace "+w.ns+": the operator trusts only "+trustedNamespace) {
		t.Errorf("the condition names the trusted namespaces: %q", m)
	}
}

// TestPrivateCA: a PBX behind a TLS certificate of a private CA works with the account's CA bundle,
// and without it says which certificate problem stops it.
func TestPrivateCA(t *testing.T) {
	w := newWorld(t, nil)
	caPEM, cert := testCA(t)
	srv := httptest.NewUnstartedServer(w.sim)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	w.create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pbx-ca", Namespace: w.ns}, Data: map[string]string{"ca.crt": caPEM}})
	w.secret("tls", pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret)
	newAccount := func(name string, ca v1alpha1.CABundleReference) *v1alpha1.Account {
		a := &v1alpha1.Account{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns},
			Spec: v1alpha1.AccountSpec{
				ConnectionSpec:       v1alpha1.ConnectionSpec{URL: srv.URL + "/", CABundleRef: ca},
				CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "tls"},
			},
		}
		w.create(a)
		return a
	}
	trusting := newAccount("trusting", v1alpha1.CABundleReference{Kind: v1alpha1.CABundleKindConfigMap, Name: "pbx-ca", Key: "ca.crt"})
	w.waitReady(trusting)
	plain := newAccount("plain", v1alpha1.CABundleReference{})
	w.g.Eventually(w.cond(plain, v1alpha1.ConditionReady)).Should(Equal("False/APIUnavailable"))
	if m := message(plain, v1alpha1.ConditionReady); !strings.Contains(m, "certificate") {
		t.Errorf("the condition names the certificate problem: %q", m)
	}
}

// testCA returns a new CA's PEM and a server certificate for 127.0.0.1 signed by it.
func testCA(t *testing.T) (string, tls.Certificate) {
	t.Helper()
	ca, err := pbxsim.NewCA("test PBX CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return string(ca.PEM), cert
}
