package pbxsim_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func TestTokenEndpoint(t *testing.T) {
	type want struct {
		status int
		error  string // the OAuth2 error code of a refusal
	}
	cases := map[string]struct {
		reason string
		form   url.Values
		want   want
	}{
		"ClientCredentials": {
			reason: "A trusted app gets a token with the client_credentials grant.",
			form:   url.Values{"grant_type": {"client_credentials"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {pbxsim.DemoAppSecret}},
			want:   want{status: http.StatusOK},
		},
		"BadSecret": {
			reason: "A wrong secret is refused.",
			form:   url.Values{"grant_type": {"client_credentials"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {"nope"}},
			want:   want{status: http.StatusUnauthorized, error: "invalid_client"},
		},
		"UnknownApp": {
			reason: "An unknown app is refused.",
			form:   url.Values{"grant_type": {"client_credentials"}, "client_id": {"ghost"}, "client_secret": {pbxsim.DemoAppSecret}},
			want:   want{status: http.StatusUnauthorized, error: "invalid_client"},
		},
		"PasswordAppWithClientCredentials": {
			reason: "A password_credentials app may not use client_credentials.",
			form:   url.Values{"grant_type": {"client_credentials"}, "client_id": {pbxsim.DemoPasswordAppID}, "client_secret": {pbxsim.DemoAppSecret}},
			want:   want{status: http.StatusBadRequest, error: "unauthorized_client"},
		},
		"PasswordGrant": {
			reason: "A password_credentials app logs in any user with the user's password.",
			form: url.Values{"grant_type": {"password"}, "client_id": {pbxsim.DemoPasswordAppID}, "client_secret": {pbxsim.DemoAppSecret},
				"username": {pbxsim.DemoAdminLogin}, "password": {pbxsim.DemoAdminPassword}},
			want: want{status: http.StatusOK},
		},
		"PasswordGrantWrongPassword": {
			reason: "A wrong user password is refused.",
			form: url.Values{"grant_type": {"password"}, "client_id": {pbxsim.DemoPasswordAppID}, "client_secret": {pbxsim.DemoAppSecret},
				"username": {pbxsim.DemoAdminLogin}, "password": {"wrong"}},
			want: want{status: http.StatusBadRequest, error: "invalid_grant"},
		},
		"TrustedAppWithPasswordGrant": {
			reason: "A trusted app may not use the password grant.",
			form: url.Values{"grant_type": {"password"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {pbxsim.DemoAppSecret},
				"username": {pbxsim.DemoAdminLogin}, "password": {pbxsim.DemoAdminPassword}},
			want: want{status: http.StatusBadRequest, error: "unauthorized_client"},
		},
		"UnknownGrant": {
			reason: "Only the documented grants are served.",
			form:   url.Values{"grant_type": {"refresh_token"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {pbxsim.DemoAppSecret}},
			want:   want{status: http.StatusBadRequest, error: "unsupported_grant_type"},
		},
	}
	e := strictDemo(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.form(tc.form)
			if r.status != tc.want.status {
				t.Fatalf("%s\nwant status %d, got %d: %s", tc.reason, tc.want.status, r.status, r.body)
			}
			got := r.obj(t)
			if tc.want.error != "" {
				if got["error"] != tc.want.error || got["message"] == "" {
					t.Errorf("%s\nwant error %q with a message, got %v", tc.reason, tc.want.error, got)
				}
				return
			}
			tok, _ := got["access_token"].(string)
			if len(tok) != 30 || got["token_type"] != "Bearer" || got["expires_in"] != float64(3600) || got["scope"] != "all" {
				t.Errorf("%s\nwant the documented token answer, got %v", tc.reason, got)
			}
		})
	}
}

// multipartForm encodes fields as multipart/form-data, as PHP's curl sends an array of POSTFIELDS.
func multipartForm(t *testing.T, fields url.Values) (body *bytes.Buffer, contentType string) {
	t.Helper()
	body = &bytes.Buffer{}
	mw := multipart.NewWriter(body)
	for k, vs := range fields {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return body, mw.FormDataContentType()
}

func TestTokenEncodings(t *testing.T) {
	creds := url.Values{"grant_type": {"client_credentials"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {pbxsim.DemoAppSecret}}
	wrong := url.Values{"grant_type": {"client_credentials"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {"nope"}}
	type want struct {
		status int
		error  string // the OAuth2 error code of a refusal
	}
	cases := map[string]struct {
		reason string
		req    func(t *testing.T, base string) *http.Request
		want   want
	}{
		"FormURLEncoded": {
			reason: "The documented encoding.",
			req: func(t *testing.T, base string) *http.Request {
				r, _ := http.NewRequest(http.MethodPost, base, strings.NewReader(creds.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return r
			},
			want: want{status: http.StatusOK},
		},
		"Multipart": {
			reason: "PHP's curl sends an array of POSTFIELDS as multipart/form-data, with the same fields; the live API issues a token.",
			req: func(t *testing.T, base string) *http.Request {
				body, ct := multipartForm(t, creds)
				r, _ := http.NewRequest(http.MethodPost, base, body)
				r.Header.Set("Content-Type", ct)
				return r
			},
			want: want{status: http.StatusOK},
		},
		"MultipartBadSecret": {
			reason: "A multipart request is checked like any other.",
			req: func(t *testing.T, base string) *http.Request {
				body, ct := multipartForm(t, wrong)
				r, _ := http.NewRequest(http.MethodPost, base, body)
				r.Header.Set("Content-Type", ct)
				return r
			},
			want: want{status: http.StatusUnauthorized, error: "invalid_client"},
		},
		"MalformedMultipart": {
			reason: "A multipart body that does not parse is a bad request, not a bad client.",
			req: func(t *testing.T, base string) *http.Request {
				r, _ := http.NewRequest(http.MethodPost, base, strings.NewReader("no parts here"))
				r.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
				return r
			},
			want: want{status: http.StatusBadRequest, error: "invalid_request"},
		},
		"QueryString": {
			reason: "One SDK sends the parameters as the query string of the POST.",
			req: func(t *testing.T, base string) *http.Request {
				r, _ := http.NewRequest(http.MethodPost, base+"?"+creds.Encode(), nil)
				return r
			},
			want: want{status: http.StatusOK},
		},
	}
	e := strictDemo(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := e.srv.Client().Do(tc.req(t, e.srv.URL+pbxsim.TokenPath))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			data, _ := io.ReadAll(res.Body)
			r := reply{status: res.StatusCode, body: data}
			if r.status != tc.want.status {
				t.Fatalf("%s\nwant status %d, got %d: %s", tc.reason, tc.want.status, r.status, r.body)
			}
			if got := r.obj(t); tc.want.error != "" && got["error"] != tc.want.error {
				t.Errorf("%s\nwant error %q, got %v", tc.reason, tc.want.error, got)
			} else if tc.want.error == "" && got["access_token"] == nil {
				t.Errorf("%s\nwant a token, got %v", tc.reason, got)
			}
		})
	}
}

func TestBearer(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	cfg.TokenLifetimeSeconds = 60
	e := newEnv(t, cfg, pbxsim.WithStrictSlashes())
	tok := e.login(pbxsim.DemoTrustedAppID)
	me := pbxsim.APIPrefix + "/user/"

	if r := e.raw(http.MethodGet, me, "", nil, nil); r.status != http.StatusUnauthorized || r.message(t) != "Unauthorized" {
		t.Errorf("no bearer: want 401 Unauthorized, got %d %s", r.status, r.body)
	}
	if r := e.raw(http.MethodGet, me, "not-a-token", nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("unknown bearer: want 401, got %d", r.status)
	}
	must(t, e.raw(http.MethodGet, me, tok, nil, nil), http.StatusOK)

	e.clock.Step(61 * time.Second)
	if r := e.raw(http.MethodGet, me, tok, nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("expired token: want 401, got %d", r.status)
	}

	tok = e.login(pbxsim.DemoTrustedAppID)
	must(t, e.raw(http.MethodGet, me, tok, nil, nil), http.StatusOK)
	e.sim.InvalidateTokens()
	if r := e.raw(http.MethodGet, me, tok, nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("invalidated token: want 401, got %d", r.status)
	}
}
