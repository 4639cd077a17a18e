package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// apiStatus logs in to the demo tenant at base and sends one API request; it returns the status.
func apiStatus(t *testing.T, base, method, path, body string) int {
	t.Helper()
	status, _ := apiCall(t, base, method, path, body)
	return status
}

// apiCall logs in to the demo tenant at base and sends one API request; it returns the answer.
func apiCall(t *testing.T, base, method, path, body string) (int, []byte) {
	t.Helper()
	res, err := http.PostForm(base+"oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {pbxsim.DemoAppSecret}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, base+"api/ver1.0"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, data
}

func TestAssumptionSwitches(t *testing.T) {
	configFile := func(t *testing.T, a pbxsim.Assumptions) string {
		cfg := pbxsim.DemoConfig()
		cfg.Assumptions = a
		data, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const (
		zeroGroup     = `{"name":"101","extension_group_id":0}`
		emptyPassword = `{"password":""}`
	)
	type want struct{ zeroGroup, emptyPassword int }
	cases := map[string]struct {
		reason string
		args   func(t *testing.T) []string
		want   want
	}{
		"Defaults": {
			reason: "Without switches 0 names no group (400) and an empty phone password is accepted.",
			args:   func(*testing.T) []string { return nil },
			want:   want{zeroGroup: http.StatusBadRequest, emptyPassword: http.StatusOK},
		},
		"Flags": {
			reason: "--zero-id-is-none and --reject-empty-phone-password switch both.",
			args:   func(*testing.T) []string { return []string{"--zero-id-is-none", "--reject-empty-phone-password"} },
			want:   want{zeroGroup: http.StatusCreated, emptyPassword: http.StatusBadRequest},
		},
		"ConfigFile": {
			reason: "The assumptions block of --config switches them too.",
			args: func(t *testing.T) []string {
				return []string{"--config", configFile(t, pbxsim.Assumptions{ZeroIDIsNone: true, RejectEmptyPhonePassword: true})}
			},
			want: want{zeroGroup: http.StatusCreated, emptyPassword: http.StatusBadRequest},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			base := start(t, tc.args(t)...)
			got := want{zeroGroup: apiStatus(t, base, http.MethodPost, "/client/@me/extension/", zeroGroup)}
			// The phone PUT needs extension 101; make it plainly where the zero group was refused.
			if got.zeroGroup != http.StatusCreated {
				if s := apiStatus(t, base, http.MethodPost, "/client/@me/extension/", `{"name":"101"}`); s != http.StatusCreated {
					t.Fatalf("creating extension 101: %d", s)
				}
			}
			got.emptyPassword = apiStatus(t, base, http.MethodPut, "/extension/@101/phone/", emptyPassword)
			if got != tc.want {
				t.Errorf("%s\nwant %+v, got %+v", tc.reason, tc.want, got)
			}
		})
	}
}

func TestSimulatedCalls(t *testing.T) {
	answered := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(answered.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // read, so the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	base := start(t, "--admin", "--event-timeout", "100ms")
	status, body := apiCall(t, base, http.MethodPost, "/client/@me/extension/", `{"name":"101","status":"active"}`)
	if status != http.StatusCreated {
		t.Fatalf("creating extension 101: %d %s", status, body)
	}
	for typ, hook := range map[string]string{"dial-in": answered.URL, "hangup": slow.URL} {
		if s := apiStatus(t, base, http.MethodPost, "/extension/@101/event/", `{"url":"`+hook+`","event_type":"`+typ+`","method":"POST"}`); s != http.StatusCreated {
			t.Fatalf("subscribing to %s: %d", typ, s)
		}
	}
	res, err := http.Post(base+pbxsim.AdminPrefix[1:]+"/calls", "application/json", strings.NewReader(`{"extension":"101"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var call pbxsim.CallResult
	if err := json.NewDecoder(res.Body).Decode(&call); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("POST /_pbxsim/calls: %s, %v", res.Status, err)
	}
	if len(call.Deliveries) != 2 || call.Deliveries[0].Status != http.StatusOK || !strings.Contains(call.Deliveries[1].Error, "deadline exceeded") {
		t.Errorf("--admin serves simulated calls and --event-timeout bounds each delivery: got %+v", call.Deliveries)
	}
}
