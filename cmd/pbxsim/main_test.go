package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// writeCert writes a certificate for 127.0.0.1 and its key into dir, and returns the pool of
// its CA for clients.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	ca, err := pbxsim.NewCA("pbxsim test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := pbxsim.EncodePEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	return certFile, keyFile, roots
}

// start runs pbxsim with args until the test ends and returns the base URL it prints.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), w)
		w.CloseWithError(errors.New("pbxsim stopped")) //nolint:errcheck // always nil
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pbxsim: %v", err)
		}
	})
	lines := bufio.NewScanner(r)
	if !lines.Scan() {
		t.Fatalf("pbxsim printed nothing: %v", lines.Err())
	}
	go io.Copy(io.Discard, r) //nolint:errcheck // the rest of the banner
	// "pbxsim serving https://127.0.0.1:1234/api/ver1.0/ (token endpoint ...)"
	fields := strings.Fields(lines.Text())
	if len(fields) < 3 {
		t.Fatalf("unexpected first line: %q", lines.Text())
	}
	return strings.TrimSuffix(fields[2], "api/ver1.0/")
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile, roots := writeCert(t, t.TempDir())
	base := start(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("with --tls-cert pbxsim must serve https, got %q", base)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {pbxsim.DemoAppSecret}}

	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	res, err := trusting.PostForm(base+"oauth/token", form)
	if err != nil {
		t.Fatalf("a client that trusts the certificate: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("token request over TLS: want 200, got %s", res.Status)
	}

	var verr *tls.CertificateVerificationError
	if _, err := http.PostForm(base+"oauth/token", form); !errors.As(err, &verr) {
		t.Errorf("a client that does not trust the certificate: want a certificate verification error, got %v", err)
	}
}

func TestServeTLSNeedsKey(t *testing.T) {
	certFile, _, _ := writeCert(t, t.TempDir())
	err := run(context.Background(), []string{"--listen", "127.0.0.1:0", "--tls-cert", certFile}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("--tls-cert without --tls-key: want an error naming --tls-key, got %v", err)
	}
}

func TestVersion(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"--version"}, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "pbxsim "+version+"\n"; got != want {
		t.Errorf("--version: want %q, got %q", want, got)
	}
}
