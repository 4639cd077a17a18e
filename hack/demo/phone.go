package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// hooks is the demo's webhook receiver: the EventSubscription samples deliver alice's call events
// to it.
type hooks struct {
	srv *http.Server

	mu   sync.Mutex
	seen []string
}

// listenHooks starts the receiver on addr.
func listenHooks(addr string) (*hooks, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := &hooks{}
	h.srv = &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go h.srv.Serve(l) //nolint:errcheck // ends with Close
	return h, nil
}

// ServeHTTP records one delivery: the event's keys from the form body (POST) or the headers (GET).
func (h *hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	line := r.Method + " " + r.URL.Path + " "
	if r.Method == http.MethodPost {
		line += string(body)
	} else {
		var keys []string
		for k := range r.Header {
			if k == "Eventtype" || k == "Callid" || k == "Calledextension" || k == "Calleridnum" {
				keys = append(keys, k+"="+r.Header.Get(k))
			}
		}
		sort.Strings(keys)
		line += strings.Join(keys, " ")
	}
	h.mu.Lock()
	h.seen = append(h.seen, line)
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// received returns the deliveries so far.
func (h *hooks) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

// Close stops the receiver.
func (h *hooks) Close() error { return h.srv.Close() }

// phoneLine shows the phone line the samples make: alice's SIP credentials Secret (the password
// masked) and that a phone registers with it, the number routed to her, and a simulated call whose
// events reach the webhook receiver.
func phoneLine(ctx context.Context, env *localenv.Env, simURL string, h *hooks) error {
	step("alice's SIP credentials, for a softphone to mount: kubectl get secret alice-sip (password masked)")
	out, err := env.Kubectl(ctx, "get", "secret", "-n", "default", "alice-sip", "-o", "json")
	if err != nil {
		return err
	}
	var s struct {
		Data map[string][]byte `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return err
	}
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := string(s.Data[k])
		if k == "password" {
			v = strings.Repeat("*", len(v)) + fmt.Sprintf(" (%d characters)", len(v))
		}
		fmt.Printf("    %-10s %s\n", k, v)
	}
	reg := map[string]any{"client_id": pbxsim.DemoClientID, "username": string(s.Data["username"]), "password": string(s.Data["password"])}
	if err := localenv.SimAdmin(ctx, simURL, http.MethodPost, "/sip/register", reg, nil); err != nil {
		return fmt.Errorf("a phone with alice's credentials does not register: %w", err)
	}
	step("A phone registers with them: POST /_pbxsim/sip/register → 204")

	step("Numbers and webhooks: kubectl get phonenumbers,eventsubscriptions -o wide")
	if out, err = env.Kubectl(ctx, "get", "phonenumbers,eventsubscriptions", "-n", "default", "-o", "wide"); err != nil {
		return err
	}
	fmt.Print(indent(out))

	step("A call to alice (POST /_pbxsim/calls {\"extension\": \"101\"}); the webhook receiver on %s got:", h.srv.Addr)
	var res struct {
		Deliveries []struct {
			EventType string `json:"event_type"`
			URL       string `json:"url"`
			Status    int    `json:"status"`
			Error     string `json:"error"`
		} `json:"deliveries"`
	}
	if err := localenv.SimAdmin(ctx, simURL, http.MethodPost, "/calls", map[string]any{"extension": "101"}, &res); err != nil {
		return err
	}
	for _, line := range h.received() {
		fmt.Println("    " + line)
	}
	for _, d := range res.Deliveries {
		if d.Error != "" || d.Status != http.StatusOK {
			fmt.Printf("    (pbxsim: %s to %s: status %d %s)\n", d.EventType, d.URL, d.Status, d.Error)
		}
	}
	return nil
}
