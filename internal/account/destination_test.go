package account

import (
	"strings"
	"testing"
)

func TestDestination(t *testing.T) {
	for _, c := range []struct {
		secret, account string
		ok              bool
	}{
		{"https://apiproxy.example/", "https://apiproxy.example/", true},
		{"https://apiproxy.example", "https://apiproxy.example/", true},
		{"HTTPS://ApiProxy.Example:443/", "https://apiproxy.example", true},
		{"http://127.0.0.1:80/", "http://127.0.0.1/", true},
		{"http://[::1]:8090/", "http://[::1]:8090", true},
		{"http://[::1]/", "http://[::1]:80/", true},
		{"https://apiproxy.example/pbx/", "https://apiproxy.example/pbx", true},
		{" https://apiproxy.example/\n", "https://apiproxy.example/", true},

		{"https://apiproxy.example/", "https://evil.example/", false},
		{"https://apiproxy.example/", "http://apiproxy.example/", false},
		{"https://apiproxy.example/", "https://apiproxy.example:8443/", false},
		{"https://apiproxy.example/", "https://apiproxy.example.evil.example/", false},
		{"https://apiproxy.example/pbx/", "https://apiproxy.example/PBX/", false},
		{"https://apiproxy.example/", "https://apiproxy.example/other/", false},
		{"https://apiproxy.example/", "https://user@apiproxy.example/", false},
		{"apiproxy.example", "https://apiproxy.example/", false},
		{"https://apiproxy.example/?x=1", "https://apiproxy.example/", false},
	} {
		err := Destination("ns/creds", c.secret, c.account)
		if (err == nil) != c.ok {
			t.Errorf("Secret url %q, account url %q: got %v, want ok=%v", c.secret, c.account, err, c.ok)
		}
	}
}

func TestDestinationMessages(t *testing.T) {
	err := Destination("ns/creds", "", "https://apiproxy.example/")
	if err == nil || !strings.Contains(err.Error(), "add the key url with the account's URL (https://apiproxy.example/)") {
		t.Errorf("a Secret without url says which key to set: %v", err)
	}
	err = Destination("ns/creds", "https://secret-pbx.example/", "https://evil.example/")
	if err == nil || strings.Contains(err.Error(), "secret-pbx") || !strings.Contains(err.Error(), "https://evil.example/ is not that one") {
		t.Errorf("a mismatch names the account's URL, not the Secret's: %v", err)
	}
}
