package pbx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// newTestCA makes a CA for one test.
func newTestCA(t *testing.T, name string) *pbxsim.CA {
	t.Helper()
	ca, err := pbxsim.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue makes a server certificate signed by ca.
func issue(t *testing.T, ca *pbxsim.CA, ips []net.IP, names ...string) tls.Certificate {
	t.Helper()
	cert, err := ca.Issue(ips, names...)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// newTLSSim serves the simulator's demo tenant over HTTPS with cert.
func newTLSSim(t *testing.T, cert tls.Certificate) *httptest.Server {
	t.Helper()
	sim, err := pbxsim.New(pbxsim.DemoConfig(), pbxsim.WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	// The handshake failures the test provokes are not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// roundTripFunc is a RoundTripper that is not an *http.Transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClientTLS(t *testing.T) {
	loopback := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	pbxCA := newTestCA(t, "corporate proxy CA")
	otherCA := newTestCA(t, "some other CA")
	good := newTLSSim(t, issue(t, pbxCA, loopback))
	wrongHost := newTLSSim(t, issue(t, pbxCA, []net.IP{net.IPv4(127, 0, 0, 2)}, "pbx.example"))

	type args struct {
		srv  *httptest.Server
		opts []Option
	}
	type want struct {
		// newErr is a part of New's error; empty means New succeeds.
		newErr string
		// certErr is the certificate error Users.Me must fail with (errors.As); nil means it works.
		certErr error
		// msg is a part of the error message that names the certificate problem.
		msg string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"TrustedCA": {
			reason: "With the CA that signed the PBX's certificate in the bundle, the client connects.",
			args:   args{srv: good, opts: []Option{WithCABundle(pbxCA.PEM)}},
		},
		"BundleWithSeveralCAs": {
			reason: "A bundle holds any number of certificates.",
			args:   args{srv: good, opts: []Option{WithCABundle(append(append([]byte{}, otherCA.PEM...), pbxCA.PEM...))}},
		},
		"NoBundle": {
			reason: "Without the bundle only the system's roots count, which do not know the private CA.",
			args:   args{srv: good},
			want:   want{certErr: x509.UnknownAuthorityError{}, msg: "x509: certificate signed by unknown authority"},
		},
		"OtherCA": {
			reason: "A bundle with another CA does not make the certificate trusted.",
			args:   args{srv: good, opts: []Option{WithCABundle(otherCA.PEM)}},
			want:   want{certErr: x509.UnknownAuthorityError{}, msg: "x509: certificate signed by unknown authority"},
		},
		"WrongHost": {
			reason: "A trusted CA does not turn off the host name check.",
			args:   args{srv: wrongHost, opts: []Option{WithCABundle(pbxCA.PEM)}},
			want:   want{certErr: x509.HostnameError{}, msg: "x509: certificate is valid for 127.0.0.2, not 127.0.0.1"},
		},
		"InsecureTransportStillVerified": {
			reason: "A transport that skips verification is verified anyway once a bundle is given.",
			args: args{srv: good, opts: []Option{WithCABundle(otherCA.PEM), WithHTTPClient(&http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test shows it is overridden
			}})}},
			want: want{certErr: x509.UnknownAuthorityError{}, msg: "x509: certificate signed by unknown authority"},
		},
		"NotPEM": {
			reason: "A bundle without a certificate is a mistake, not an empty trust list.",
			args:   args{srv: good, opts: []Option{WithCABundle([]byte("not a certificate"))}},
			want:   want{newErr: "CA bundle: no PEM-encoded certificate found"},
		},
		"NotAnHTTPTransport": {
			reason: "The roots can only be set on an *http.Transport.",
			args: args{srv: good, opts: []Option{WithCABundle(pbxCA.PEM), WithHTTPClient(&http.Client{
				Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") }),
			})}},
			want: want{newErr: "CA bundle: the HTTP client's transport is a pbx.roundTripFunc, not an *http.Transport"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts := append([]Option{WithCredentials(pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret), WithRateLimit(0, 0)}, tc.args.opts...)
			c, err := New(tc.args.srv.URL, opts...)
			if tc.want.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want.newErr) {
					t.Fatalf("%s\nNew: want an error containing %q, got %v", tc.reason, tc.want.newErr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nNew: %v", tc.reason, err)
			}
			_, err = c.Users.Me(context.Background())
			switch want := tc.want.certErr.(type) {
			case nil:
				if err != nil {
					t.Errorf("%s\nUsers.Me: %v", tc.reason, err)
				}
			case x509.UnknownAuthorityError:
				if !errors.As(err, &want) {
					t.Errorf("%s\nUsers.Me: want an x509.UnknownAuthorityError, got %v", tc.reason, err)
				}
			case x509.HostnameError:
				if !errors.As(err, &want) {
					t.Errorf("%s\nUsers.Me: want an x509.HostnameError, got %v", tc.reason, err)
				}
			}
			if tc.want.certErr == nil {
				return
			}
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) {
				t.Errorf("%s\nwant a *tls.CertificateVerificationError, got %v", tc.reason, err)
			}
			if !strings.Contains(err.Error(), tc.want.msg) {
				t.Errorf("%s\nwant a message naming the certificate problem (%q), got %q", tc.reason, tc.want.msg, err)
			}
		})
	}
}
