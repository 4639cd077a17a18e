package controller_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func newRequest(method, u, body string) (*http.Request, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return http.NewRequest(method, u, rd)
}

// token gets a token of the demo trusted app from the world's simulator.
func (w *world) token() string {
	w.t.Helper()
	res, err := w.srv.Client().PostForm(w.srv.URL+pbxsim.TokenPath, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {pbxsim.DemoAppSecret},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil {
		w.t.Fatal(err)
	}
	return tok.AccessToken
}
