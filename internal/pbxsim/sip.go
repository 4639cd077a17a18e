package pbxsim

import (
	"crypto/subtle"
	"errors"
)

// ErrSIPRefused is the answer to a SIP registration with wrong credentials.
var ErrSIPRefused = errors.New("SIP registration refused: wrong user name or password")

// RegisterSIP checks a SIP registration as a phone would make it: the full name (prefix*number)
// of a phone extension of client and its password, for the auth types digest and both. It is how
// tests and the demo prove that the credentials a phone was given work, since the API never
// shows a phone's password back. ASSUMPTION: a phone without a password set registers with none.
func (s *Server) RegisterSIP(client int64, username, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.w.extNames[client][username]
	if !ok {
		return ErrSIPRefused
	}
	x, ok := s.w.cols[colExtension].get(id)
	if !ok || x.str("type") != "phone" {
		return ErrSIPRefused
	}
	p, ok := s.w.cols[colPhone].get(id)
	if !ok {
		return ErrSIPRefused
	}
	if p.str("auth_type") == "network" {
		return errors.New("SIP registration refused: the phone accepts registrations only from its allowed networks")
	}
	if subtle.ConstantTimeCompare([]byte(p.str("password")), []byte(password)) != 1 {
		return ErrSIPRefused
	}
	return nil
}
