package pbx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// renewEarly is how long before its expiry a token is renewed, so that a request never leaves
// with a token that expires on the way. The SDKs renew 60 s to 400 s early (UPSTREAM-API 1.2).
const renewEarly = time.Minute

// tokenCache holds the current bearer token and fetches a new one when it is missing, about to
// expire, or was refused. One fetch runs at a time, so a burst of requests, or of 401s, costs a
// single token request.
type tokenCache struct {
	fetch func(ctx context.Context) (*oauth2.Token, error)
	now   func() time.Time
	sem   chan struct{} // one slot: the right to fetch

	mu      sync.Mutex
	tok     *oauth2.Token
	renewAt time.Time // zero: the token has no known expiry
}

func newTokenCache(fetch func(ctx context.Context) (*oauth2.Token, error), now func() time.Time) *tokenCache {
	return &tokenCache{fetch: fetch, now: now, sem: make(chan struct{}, 1)}
}

// clientCredentials returns the fetch function of the client_credentials grant: a form POST to
// the token endpoint with client_id and client_secret in the body (UPSTREAM-API 1.2), sent
// through hc so that it is measured and logged like every other request. The answer is read up
// to maxBytes (oauth2 itself reads at most 1 MiB of it).
func clientCredentials(tokenURL, id, secret string, hc *http.Client, maxBytes int64) func(ctx context.Context) (*oauth2.Token, error) {
	cfg := &clientcredentials.Config{
		ClientID:     id,
		ClientSecret: secret,
		TokenURL:     tokenURL,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	return func(ctx context.Context) (*oauth2.Token, error) {
		var over *TooLargeError
		bounded := *hc
		bounded.Transport = &boundedTransport{next: hc.Transport, path: tokenPath, maxBytes: maxBytes, over: &over}
		ctx = withTemplate(context.WithValue(ctx, oauth2.HTTPClient, &bounded), tokenPath)
		t, err := cfg.Token(ctx) // Config.Token always asks the endpoint; tokenCache does the caching
		if over != nil {
			return nil, over // oauth2 kept only its text
		}
		if err != nil {
			return nil, err
		}
		// clientcredentials keeps expires_in only in the raw answer. The lifetime is measured on
		// the client's clock, rather than through Expiry, which oauth2 sets from the wall clock.
		if t.ExpiresIn == 0 {
			t.ExpiresIn = expiresIn(t.Extra("expires_in"))
		}
		return t, nil
	}
}

// expiresIn reads a raw expires_in: a JSON number, or a numeric string as some servers send.
func expiresIn(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case string:
		s, _ := strconv.ParseInt(n, 10, 64)
		return s
	}
	return 0
}

// fromTokenSource returns the fetch function of a caller's token source.
func fromTokenSource(ts oauth2.TokenSource) func(ctx context.Context) (*oauth2.Token, error) {
	return func(context.Context) (*oauth2.Token, error) {
		t, err := ts.Token()
		if err != nil {
			return nil, err
		}
		// A token source may hand out a cached token whose expires_in counts from an earlier
		// fetch; only its Expiry tells when it ends.
		c := *t
		c.ExpiresIn = 0
		return &c, nil
	}
}

// valid returns the cached token if it is not due for renewal.
func (tc *tokenCache) valid() *oauth2.Token {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.tok == nil || (!tc.renewAt.IsZero() && !tc.now().Before(tc.renewAt)) {
		return nil
	}
	return tc.tok
}

// token returns a usable token, fetching one if needed.
func (tc *tokenCache) token(ctx context.Context) (*oauth2.Token, error) {
	if t := tc.valid(); t != nil {
		return t, nil
	}
	select {
	case tc.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-tc.sem }()
	if t := tc.valid(); t != nil {
		return t, nil // fetched by another request while this one waited
	}
	fetchedAt := tc.now()
	t, err := tc.fetch(ctx)
	if err != nil {
		return nil, tokenError(ctx, err, fetchedAt)
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.tok, tc.renewAt = t, renewalTime(t, fetchedAt)
	return t, nil
}

// renewalTime is when a token fetched at fetchedAt is renewed: renewEarly before it expires, or
// halfway through its life if that is shorter. The lifetime comes from expires_in of a fresh
// token, or else from its Expiry; a token with neither is used until the PBX refuses it.
func renewalTime(t *oauth2.Token, fetchedAt time.Time) time.Time {
	var life time.Duration
	switch {
	case t.ExpiresIn > 0:
		life = time.Duration(t.ExpiresIn) * time.Second
	case !t.Expiry.IsZero():
		life = t.Expiry.Sub(fetchedAt)
	default:
		return time.Time{}
	}
	return fetchedAt.Add(life - min(renewEarly, life/2))
}

// invalidate drops the token the PBX refused, unless another request has already replaced it.
func (tc *tokenCache) invalidate(refused *oauth2.Token) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.tok == refused {
		tc.tok = nil
	}
}

// tokenError turns a token endpoint refusal into an APIError, so that the predicates
// (IsUnauthorized for bad credentials) work on it, and keeps a context error recognisable.
func tokenError(ctx context.Context, err error, now time.Time) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		e := newAPIError(http.MethodPost, tokenPath, re.Response.StatusCode, re.Response.Header, re.Body, now)
		if e.Message == "" {
			e.Message = truncate([]byte(re.ErrorDescription), maxMessage)
		}
		return fmt.Errorf("getting a token: %w", e)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		// oauth2 formats some transport errors with %v, which loses the context error.
		return fmt.Errorf("getting a token: %w: %w", cerr, err)
	}
	return fmt.Errorf("getting a token: %w", err)
}

// authTransport sets the bearer token on every request. A 401 means the token was refused
// before anything was applied (tokens may be revoked before expires_in, UPSTREAM-API 1.2), so
// it renews the token once and sends the same request once more, whatever the method; a second
// 401 is the answer.
type authTransport struct {
	next   http.RoundTripper
	tokens *tokenCache
}

// RoundTrip sends req with a token and retries once with a new token after a 401.
func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, refused, err := t.send(req, req.Body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	var body io.ReadCloser
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil // the body cannot be sent twice; the 401 is the answer
		}
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // draining lets the connection be reused
	resp.Body.Close()                                      //nolint:errcheck,gosec // the body was read
	t.tokens.invalidate(refused)
	resp, _, err = t.send(req, body)
	return resp, err
}

// send sends a copy of req with the current token and body, and returns the token it used.
func (t *authTransport) send(req *http.Request, body io.ReadCloser) (*http.Response, *oauth2.Token, error) {
	tok, err := t.tokens.token(req.Context())
	if err != nil {
		if body != nil {
			body.Close() //nolint:errcheck,gosec // a RoundTripper must close the body, even on errors
		}
		return nil, nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	tok.SetAuthHeader(r)
	resp, err := t.next.RoundTrip(r)
	return resp, tok, err
}
