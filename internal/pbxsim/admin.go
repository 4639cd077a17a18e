package pbxsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// serveAdmin serves the test and chaos controls under AdminPrefix (with WithAdmin):
//
//	GET    /_pbxsim/snapshot                  the world (Snapshot)
//	GET    /_pbxsim/requests                  the request counters ([]RequestCount)
//	DELETE /_pbxsim/requests                  resets them (and those by agent)
//	GET    /_pbxsim/requests/agents           authenticated API requests by User-Agent and client ([]AgentCount)
//	GET    /_pbxsim/faults                    the installed faults
//	POST   /_pbxsim/faults                    installs a Fault; answers it with its id
//	DELETE /_pbxsim/faults                    removes every fault (the fired counts stay)
//	GET    /_pbxsim/faults/fired              faults that fired, by kind ({"status:503": 4, "drop_after_commit": 2, "after_commit:500": 1, "latency": 7})
//	DELETE /_pbxsim/faults/fired              resets those counts
//	DELETE /_pbxsim/faults/{id}               removes one fault
//	PUT    /_pbxsim/latency                   sets the latency of every request ({"fixed":"20ms","jitter":"5ms"})
//	POST   /_pbxsim/tokens/invalidate         revokes every token
//	PUT    /_pbxsim/clients/{id}/rate-limit   sets a client's hourly budget ({"per_hour": 100})
//	POST   /_pbxsim/rate-limits/reset         starts a new hourly window for every client
//	POST   /_pbxsim/reset                     the PBX loses its data: the world starts over from the
//	                                          configuration and every token is revoked (Reset)
//	POST   /_pbxsim/calls                     simulates a call to an extension ({"extension": "101",
//	                                          "caller_id_num": "79001234567"}, a Call) and delivers its
//	                                          events to the extension's subscriptions; answers 200 with
//	                                          what went where and how each subscriber answered
//	                                          (CallResult), 404 for an unknown extension (SimulateCall)
//	POST   /_pbxsim/sip/register              checks a phone's SIP credentials as a registration would
//	                                          ({"client_id": 1, "username": "0003*101", "password": "…"}):
//	                                          204 when they work, 401 otherwise (RegisterSIP)
//
// In the request counters, an answer a DropAfterCommit fault cut off has status 0 (StatusDropped)
// and a request the client gave up on during injected latency 499 (StatusClientGone).
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, AdminPrefix)
	fail := func(status int, msg string) { writeJSON(w, r, status, apiError{Message: msg}) }
	decode := func(v any) bool {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			fail(http.StatusBadRequest, "Bad Request: "+err.Error())
			return false
		}
		return true
	}
	switch {
	case path == "/snapshot" && r.Method == http.MethodGet:
		writeJSON(w, r, http.StatusOK, s.Snapshot())
	case path == "/requests" && r.Method == http.MethodGet:
		writeJSON(w, r, http.StatusOK, s.Requests())
	case path == "/requests/agents" && r.Method == http.MethodGet:
		writeJSON(w, r, http.StatusOK, s.RequestsByAgent())
	case path == "/requests" && r.Method == http.MethodDelete:
		s.ResetRequests()
		writeJSON(w, r, http.StatusNoContent, nil)
	case path == "/faults" && r.Method == http.MethodGet:
		writeJSON(w, r, http.StatusOK, s.Faults())
	case path == "/faults" && r.Method == http.MethodPost:
		var f Fault
		if decode(&f) {
			f.ID = s.AddFault(f)
			writeJSON(w, r, http.StatusCreated, f)
		}
	case path == "/faults" && r.Method == http.MethodDelete:
		s.ClearFaults()
		writeJSON(w, r, http.StatusNoContent, nil)
	case path == "/faults/fired" && r.Method == http.MethodGet:
		writeJSON(w, r, http.StatusOK, s.FaultsFired())
	case path == "/faults/fired" && r.Method == http.MethodDelete:
		s.ResetFaultsFired()
		writeJSON(w, r, http.StatusNoContent, nil)
	case strings.HasPrefix(path, "/faults/") && r.Method == http.MethodDelete:
		if !s.RemoveFault(strings.TrimPrefix(path, "/faults/")) {
			fail(http.StatusNotFound, "Record not found")
			return
		}
		writeJSON(w, r, http.StatusNoContent, nil)
	case path == "/latency" && r.Method == http.MethodPut:
		var l Latency
		if decode(&l) {
			s.SetLatency(l)
			writeJSON(w, r, http.StatusOK, l)
		}
	case path == "/tokens/invalidate" && r.Method == http.MethodPost:
		s.InvalidateTokens()
		writeJSON(w, r, http.StatusNoContent, nil)
	case strings.HasPrefix(path, "/clients/") && strings.HasSuffix(path, "/rate-limit") && r.Method == http.MethodPut:
		id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(path, "/clients/"), "/rate-limit"), 10, 64)
		var body struct {
			PerHour int `json:"per_hour"`
		}
		if err != nil {
			fail(http.StatusNotFound, "Record not found")
			return
		}
		if decode(&body) {
			s.SetRateLimit(id, body.PerHour)
			writeJSON(w, r, http.StatusOK, body)
		}
	case path == "/rate-limits/reset" && r.Method == http.MethodPost:
		s.ResetRateLimits()
		writeJSON(w, r, http.StatusNoContent, nil)
	case path == "/reset" && r.Method == http.MethodPost:
		if err := s.Reset(); err != nil {
			fail(http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, r, http.StatusNoContent, nil)
	case path == "/calls" && r.Method == http.MethodPost:
		var c Call
		if !decode(&c) {
			return
		}
		res, err := s.SimulateCall(r.Context(), c)
		switch {
		case errors.Is(err, errNoExtension):
			fail(http.StatusNotFound, "Record not found: "+err.Error())
		case err != nil:
			fail(http.StatusBadRequest, err.Error())
		default:
			writeJSON(w, r, http.StatusOK, res)
		}
	case path == "/sip/register" && r.Method == http.MethodPost:
		var reg struct {
			ClientID int64  `json:"client_id"`
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if !decode(&reg) {
			return
		}
		if err := s.RegisterSIP(reg.ClientID, reg.Username, reg.Password); err != nil {
			fail(http.StatusUnauthorized, err.Error())
			return
		}
		writeJSON(w, r, http.StatusNoContent, nil)
	default:
		fail(http.StatusNotFound, "Not found")
	}
}
