package account

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Keys of an account's credentials Secret.
const (
	// SecretClientID is the OAuth2 app's id.
	SecretClientID = "clientID"
	// SecretClientSecret is the OAuth2 app's secret.
	SecretClientSecret = "clientSecret"
	// SecretURL is the PBX API host the credentials may be sent to. It binds the credentials to
	// one destination: whoever may edit an Account but not read its Secret cannot point the
	// Account elsewhere and receive the secret in a token request.
	SecretURL = "url"
)

// Destination checks that an account's URL is the one its credentials Secret names in SecretURL,
// the only PBX its credentials may be sent to. The two are compared after normalisation: the
// scheme and host are compared without regard to case, a default port (80 for http, 443 for
// https) equals no port, and a trailing slash of the path is ignored. secret names the Secret in
// the error, which says what to do.
func Destination(secret, secretURL, accountURL string) error {
	if secretURL == "" {
		return fmt.Errorf("The Secret %s must name the PBX its credentials may be sent to: add the key %s with the account's URL (%s)", //nolint:staticcheck // a condition message
			secret, SecretURL, accountURL)
	}
	want, err := normalURL(secretURL)
	if err != nil {
		return fmt.Errorf("The key %s of the Secret %s is not an absolute http(s) URL: set it to the account's URL (%s)", //nolint:staticcheck // a condition message
			SecretURL, secret, accountURL)
	}
	got, err := normalURL(accountURL)
	if err != nil || got != want {
		// The Secret's URL is not shown: it is the Secret owner's, not necessarily the account
		// editor's, to know.
		return fmt.Errorf("The Secret %s allows its credentials to be sent only to the PBX its key %s names, and the account's URL %s is not that one: point the account at that URL, or have the Secret's owner change the key %s", //nolint:staticcheck // a condition message
			secret, SecretURL, accountURL, SecretURL)
	}
	return nil
}

// normalURL is u in the form Destination compares: scheme://host[:port]/path, with the scheme and
// host in lower case, no default port, and no trailing slash. A user name, query or fragment
// makes u no base URL at all.
func normalURL(u string) (string, error) {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil {
		return "", err
	}
	scheme := strings.ToLower(p.Scheme)
	if (scheme != "http" && scheme != "https") || p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
		return "", fmt.Errorf("%q is not a base URL", u)
	}
	host, port := strings.ToLower(p.Hostname()), p.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" || strings.Contains(host, ":") {
		host = net.JoinHostPort(host, port)
		host = strings.TrimSuffix(host, ":")
	}
	return scheme + "://" + host + strings.TrimRight(p.EscapedPath(), "/"), nil
}
