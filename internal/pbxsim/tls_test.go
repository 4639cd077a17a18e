package pbxsim_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestCAIssuesVerifiableCertificates(t *testing.T) {
	ca, err := pbxsim.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]net.IP{net.IPv4(127, 0, 0, 1)}, "pbx.example")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pbxsim.EncodePEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("the PEM files load as a key pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	for _, host := range []string{"127.0.0.1", "pbx.example"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("the certificate verifies for %s against the CA: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "pbx.example"}); err == nil {
		t.Errorf("the certificate does not verify against the system roots")
	}
}
