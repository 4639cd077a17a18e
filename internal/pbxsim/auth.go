package pbxsim

import (
	"mime"
	"net/http"
	"strings"
	"time"
)

// token is an issued bearer token: the user it acts for, the app it was issued to, and its expiry.
type token struct {
	userID  int64
	client  int64
	app     AppConfig
	expires time.Time
}

// tokenChars are the characters of the opaque, 30-character tokens the docs show.
const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// tokenResponse is the documented answer of POST /oauth/token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// oauthError is the answer of the token endpoint to a bad request: OAuth2's error code, plus the
// PBX's usual message.
type oauthError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// maxTokenBody bounds the body of a token request; the parameters are a few short strings.
const maxTokenBody = 64 << 10

// handleToken serves POST /oauth/token: client_credentials for trusted apps (the token acts for
// the user who registered the app) and password for password_credentials apps (any user's login
// and password). Parameters come in the body, application/x-www-form-urlencoded as documented or
// multipart/form-data with the same fields, which is what PHP's curl sends for an array of
// POSTFIELDS and what the live API answers with a token. The query string is also read, as one SDK
// sends them there (UPSTREAM-API 1.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, r, http.StatusMethodNotAllowed, apiError{Message: "Method not allowed"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	err := r.ParseForm()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		// The multipart fields join the query string's in r.Form.
		err = r.ParseMultipartForm(maxTokenBody)
	}
	if err != nil {
		writeJSON(w, r, http.StatusBadRequest, oauthError{Error: "invalid_request", Message: "Bad Request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	app, clientID, found := s.findApp(id)
	if !found || app.ClientSecret != secret {
		writeJSON(w, r, http.StatusUnauthorized, oauthError{Error: "invalid_client", Message: "Invalid client credentials"})
		return
	}
	var user object
	switch grant := r.Form.Get("grant_type"); {
	case grant == "client_credentials" && app.Type == "trusted":
		user, _ = s.userByLogin(app.User)
	case grant == "password" && app.Type == "password_credentials":
		u, ok := s.userByLogin(r.Form.Get("username"))
		if !ok || u.str("password") != r.Form.Get("password") {
			writeJSON(w, r, http.StatusBadRequest, oauthError{Error: "invalid_grant", Message: "Invalid username or password"})
			return
		}
		user = u
	case grant == "client_credentials" || grant == "password":
		writeJSON(w, r, http.StatusBadRequest, oauthError{
			Error:   "unauthorized_client",
			Message: "The application of type " + app.Type + " may not use the " + grant + " grant",
		})
		return
	default:
		writeJSON(w, r, http.StatusBadRequest, oauthError{Error: "unsupported_grant_type", Message: "grant_type: unsupported grant type"})
		return
	}
	if user == nil {
		writeJSON(w, r, http.StatusBadRequest, oauthError{Error: "invalid_grant", Message: "The application's user does not exist"})
		return
	}
	b := make([]byte, 30)
	for i := range b {
		b[i] = tokenChars[s.rnd.IntN(len(tokenChars))]
	}
	t := string(b)
	s.tokens[t] = token{userID: user.int("id"), client: clientID, app: app, expires: s.now().Add(s.tokenTTL)}
	writeJSON(w, r, http.StatusOK, tokenResponse{
		AccessToken: t, TokenType: "Bearer", ExpiresIn: int(s.tokenTTL / time.Second), Scope: "all",
	})
}

func (s *Server) findApp(id string) (AppConfig, int64, bool) {
	for cid, t := range s.w.tenants {
		for _, a := range t.Apps {
			if a.ClientID == id {
				return a, cid, true
			}
		}
	}
	return AppConfig{}, 0, false
}

func (s *Server) userByLogin(login string) (object, bool) {
	var found object
	s.w.cols[colUser].each(func(o object) bool {
		if o.str("login") == login {
			found = o
			return false
		}
		return true
	})
	return found, found != nil
}

// principal is who a request acts for: the user, the client the user belongs to, and the app.
type principal struct {
	user   object
	client int64
	app    AppConfig
}

func (p principal) level() string {
	switch {
	case p.user["extension_id"] != nil:
		return colExtension
	case p.user["extension_group_id"] != nil:
		return colGroup
	default:
		return colClient
	}
}

// authenticate finds the principal of a bearer token. The caller holds s.mu.
func (s *Server) authenticate(r *http.Request) (principal, *httpError) {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return principal{}, &httpError{status: http.StatusUnauthorized, body: apiError{Message: "Unauthorized"}}
	}
	t, ok := s.tokens[raw]
	if !ok || !s.now().Before(t.expires) {
		delete(s.tokens, raw)
		return principal{}, &httpError{status: http.StatusUnauthorized, body: apiError{Message: "Unauthorized"}}
	}
	u, ok := s.w.cols[colUser].get(t.userID)
	if !ok {
		return principal{}, &httpError{status: http.StatusUnauthorized, body: apiError{Message: "Unauthorized"}}
	}
	p := principal{user: u, client: t.client, app: t.app}
	if u.str("status") == "blocked" || s.w.tenants[t.client].Blocked {
		return p, forbidden("user_blocked", "The user or its client is blocked")
	}
	return p, nil
}

// InvalidateTokens revokes every issued token at once, as the PBX may do before expires_in runs out.
func (s *Server) InvalidateTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}
