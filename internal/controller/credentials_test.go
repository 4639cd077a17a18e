package controller_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
		StringData: map[string]string{"clientID": pbxsim.DemoTrustedAppID, "clientSecret": pbxsim.DemoAppSecret, "url": w.srv.URL + "/"},
	})
	a := w.accountAt("unlabelled", "unlabelled", w.srv.URL+"/", v1alpha1.CABundleReference{})
	w.g.Eventually(w.cond(a, v1alpha1.ConditionStalled)).Should(Equal("True/InvalidSpec"))
	want := "The Secret " + w.ns + "/unlabelled is not given to the operator as PBX account credentials: label it with kubectl -n " + w.ns +
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
	w.secretFor("tls", pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret, srv.URL+"/")
	trusting := w.accountAt("trusting", "tls", srv.URL+"/", v1alpha1.CABundleReference{Kind: v1alpha1.CABundleKindConfigMap, Name: "pbx-ca", Key: "ca.crt"})
	w.waitReady(trusting)
	plain := w.accountAt("plain", "tls", srv.URL+"/", v1alpha1.CABundleReference{})
	w.g.Eventually(w.cond(plain, v1alpha1.ConditionReady)).Should(Equal("False/APIUnavailable"))
	if m := message(plain, v1alpha1.ConditionReady); !strings.Contains(m, "certificate") {
		t.Errorf("the condition names the certificate problem: %q", m)
	}
}

// TestCredentialsGoOnlyWhereTheSecretSays: a user who may edit an Account but not read its Secret
// points it at a server of theirs, with a CA bundle of theirs, to receive the app's secret in a
// token request. The Secret names the one PBX its credentials may go to: the retargeted account
// sends nothing and says which key decides; a Secret that names no PBX is not used at all.
func TestCredentialsGoOnlyWhereTheSecretSays(t *testing.T) {
	w := newWorld(t, nil)
	caPEM, cert := testCA(t)
	var stolen atomic.Int32
	thief := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.sim.ServeHTTP(rw, r)
	}))
	thief.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	thief.StartTLS()
	t.Cleanup(thief.Close)
	w.create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "thief-ca", Namespace: w.ns}, Data: map[string]string{"ca.crt": caPEM}})
	thiefCA := v1alpha1.CABundleReference{Kind: v1alpha1.CABundleKindConfigMap, Name: "thief-ca", Key: "ca.crt"}

	// The thief's server works: credentials given to it do reach it.
	w.secretFor("given-to-thief", pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret, thief.URL+"/")
	control := w.accountAt("control", "given-to-thief", thief.URL+"/", thiefCA)
	w.waitReady(control)
	if stolen.Load() == 0 {
		t.Fatal("the thief's server was never called by an account that may call it: the test proves nothing")
	}
	stolen.Store(0)

	a := &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Name: "pbx", Namespace: w.ns}}
	tokens := w.sim.RequestTotal("", "/oauth/token")
	w.update(a, func() {
		a.Spec.URL = thief.URL + "/"
		a.Spec.CABundleRef = thiefCA
	})
	w.g.Eventually(w.cond(a, v1alpha1.ConditionStalled)).Should(Equal("True/InvalidSpec"))
	want := "The Secret " + w.ns + "/pbx allows its credentials to be sent only to the PBX its key url names"
	if m := message(a, v1alpha1.ConditionReady); !strings.HasPrefix(m, want) || strings.Contains(m, w.srv.URL) {
		t.Errorf("the condition says which key decides, without showing the Secret's URL:\nwant %q...\ngot  %q", want, m)
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the retargeted account sent %d requests to the thief's server", n)
	}
	if n := w.sim.RequestTotal("", "/oauth/token") - tokens; n != 0 {
		t.Errorf("a refused account asks for no token anywhere: %d token requests", n)
	}

	// Back at its own PBX (the URL written another way), the account works again.
	w.update(a, func() {
		a.Spec.URL = w.srv.URL
		a.Spec.CABundleRef = v1alpha1.CABundleReference{}
	})
	w.waitReady(a)

	// A Secret that names no PBX is not used at all, and the condition says which key to add.
	w.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "nowhere", Namespace: w.ns, Labels: map[string]string{v1alpha1.LabelCredentials: "true"}},
		StringData: map[string]string{"clientID": pbxsim.DemoTrustedAppID, "clientSecret": pbxsim.DemoAppSecret},
	})
	tokens = w.sim.RequestTotal("", "/oauth/token")
	nowhere := w.accountAt("nowhere", "nowhere", w.srv.URL+"/", v1alpha1.CABundleReference{})
	w.g.Eventually(w.cond(nowhere, v1alpha1.ConditionStalled)).Should(Equal("True/InvalidSpec"))
	if m := message(nowhere, v1alpha1.ConditionReady); !strings.Contains(m, "must name the PBX its credentials may be sent to: add the key url") {
		t.Errorf("the condition says which key to set: %q", m)
	}
	if n := w.sim.RequestTotal("", "/oauth/token") - tokens; n != 0 {
		t.Errorf("a Secret without url is never sent: %d token requests", n)
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

// TestClusterAccountNamespaceSelector: a ClusterAccount is usable only from the namespaces its
// namespaceSelector selects (unset: none). A resource elsewhere is refused, says why, and makes
// no PBX call; selecting its namespace lets it work.
func TestClusterAccountNamespaceSelector(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	name := "shared-" + w.ns
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: trustedNamespace, Labels: map[string]string{v1alpha1.LabelCredentials: "true"}},
		StringData: map[string]string{"clientID": pbxsim.DemoTrustedAppID, "clientSecret": pbxsim.DemoAppSecret, "url": w.srv.URL + "/"},
	}
	w.create(secret)
	t.Cleanup(func() { _ = k.Delete(ctx, secret) })
	ca := &v1alpha1.ClusterAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ClusterAccountSpec{
			ConnectionSpec:       v1alpha1.ConnectionSpec{URL: w.srv.URL + "/"},
			CredentialsSecretRef: v1alpha1.SecretReference{Namespace: trustedNamespace, Name: name},
		},
	}
	w.create(ca)
	t.Cleanup(func() { _ = k.Delete(ctx, ca) })
	w.waitReady(ca)

	posts := w.sim.RequestTotal(http.MethodPost, "/api/ver1.0/client/{realm_id}/extension/")
	e := ext(w.ns, "ursula", "181", func(e *v1alpha1.Extension) {
		e.Spec.AccountRef = v1alpha1.AccountReference{Kind: v1alpha1.AccountKindClusterAccount, Name: name}
	})
	w.create(e)
	w.g.Eventually(w.cond(e, v1alpha1.ConditionStalled)).Should(Equal("True/InvalidSpec"))
	want := "ClusterAccount " + name + " may not be used from namespace " + w.ns + ": its spec.namespaceSelector does not select this namespace"
	if m := message(e, v1alpha1.ConditionSynced); !strings.HasPrefix(m, want) {
		t.Errorf("the condition says why:\nwant %q...\ngot  %q", want, m)
	}
	if n := w.sim.RequestTotal(http.MethodPost, "/api/ver1.0/client/{realm_id}/extension/") - posts; n != 0 {
		t.Errorf("a refused resource reached the PBX: %d creates", n)
	}

	// The administrator selects the namespace by a label, and labels it: the resource works.
	w.update(ca, func() {
		ca.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"pbx-team": w.ns}}
	})
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.ns}}
	w.update(nsObj, func() { nsObj.Labels = map[string]string{"pbx-team": w.ns} })
	w.waitSynced(e)
	if w.pbxExtension("181") == nil {
		t.Errorf("the selected namespace's Extension is not in the PBX")
	}

	// No longer selected, a resource being deleted waits and says how to let it go.
	w.update(nsObj, func() { nsObj.Labels = nil })
	w.delete(e)
	w.g.Eventually(w.cond(e, v1alpha1.ConditionSynced)).Should(Equal("False/DependencyNotReady"))
	if m := message(e, v1alpha1.ConditionSynced); !strings.Contains(m, "set deletionPolicy: Orphan") {
		t.Errorf("the condition says how to let the resource go: %q", m)
	}
	w.update(e, func() { e.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan })
	w.gone(e)
	if w.pbxExtension("181") == nil {
		t.Errorf("an orphaned Extension leaves its PBX object")
	}
}
