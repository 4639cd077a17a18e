package pbxsim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Call is a simulated call to one extension, for SimulateCall and POST /_pbxsim/calls. The PBX
// tells the extension's event subscriptions (UPSTREAM-API 3.5) about it; the simulator does not
// route calls, so the extension's status and the DID's routing do not matter.
type Call struct {
	// ExtensionID names the called extension by id.
	ExtensionID int64 `json:"extension_id,omitempty"`
	// Extension names the called extension instead, by short (101) or full (0003*101) name, in the
	// client ClientID.
	Extension string `json:"extension,omitempty"`
	// ClientID is the client of Extension and CallerExtension; 0 means the only client.
	ClientID int64 `json:"client_id,omitempty"`
	// EventTypes are the events of the call, in order; empty means dial-in, answer, hangup.
	EventTypes []string `json:"event_types,omitempty"`
	// CallerIDNum is the caller's number; empty means DefaultCallerIDNum, or the full name of
	// CallerExtension.
	CallerIDNum string `json:"caller_id_num,omitempty"`
	// CallerIDName is the caller's name; it may be empty.
	CallerIDName string `json:"caller_id_name,omitempty"`
	// CallerExtension makes the call an internal one from this extension (short or full name).
	CallerExtension string `json:"caller_extension,omitempty"`
	// DID is the external number the call came in on, one of the client's DIDs; empty means, for
	// a call from outside, the first DID routed to the extension, if any, and none for an
	// internal call.
	DID string `json:"did,omitempty"`
}

// DefaultCallerIDNum is the caller's number of a Call that names none.
const DefaultCallerIDNum = "79001234567"

// CallResult is what a simulated call delivered, in order.
type CallResult struct {
	CallID      string `json:"call_id"`
	ExtensionID int64  `json:"extension_id"`
	// Extension is the called extension's full name.
	Extension  string     `json:"extension"`
	Deliveries []Delivery `json:"deliveries"`
}

// Delivery is one event sent to one subscription: what was sent where, and how the subscriber
// answered.
type Delivery struct {
	// EventID is the id of the subscription.
	EventID   int64  `json:"event_id"`
	EventType string `json:"event_type"`
	Method    string `json:"method"`
	URL       string `json:"url"`
	// Data is what the event carried: the headers of a GET, the form body of a POST.
	Data map[string]string `json:"data"`
	// Status is the HTTP status the subscriber answered; 0 when no answer came.
	Status int `json:"status,omitempty"`
	// Error says why no answer came: the connection failed or the delivery timed out.
	Error string `json:"error,omitempty"`
}

// defaultEventTimeout bounds each delivery of an event, unless WithEventTimeout changes it.
const defaultEventTimeout = 2 * time.Second

// defaultCallEvents is the event sequence of a call that names none: an answered incoming call.
var defaultCallEvents = []string{"dial-in", "answer", "hangup"}

// errNoExtension is the answer to a call to an extension that does not exist.
var errNoExtension = errors.New("the extension does not exist")

// subscriber is an event subscription, copied out of the world so deliveries run without s.mu.
type subscriber struct {
	id                      int64
	eventType, method, hook string
}

// SimulateCall simulates a call to an extension: for each event of the call in order, every
// subscription of the extension to that event type gets the event, by a real HTTP request with a
// timeout (WithEventTimeout), one after another. A subscriber that fails or answers an error
// status does not stop the others. The error is about the Call itself: no such extension (with
// the admin API, a 404), or a bad field (a 400).
func (s *Server) SimulateCall(ctx context.Context, c Call) (CallResult, error) {
	p, err := s.planCall(c)
	if err != nil {
		return CallResult{}, err
	}
	// Deliveries run without s.mu: a subscriber may well call the PBX back.
	for _, data := range p.events {
		for _, sub := range p.subs {
			if sub.eventType == data.Get("EventType") {
				p.result.Deliveries = append(p.result.Deliveries, s.deliver(ctx, sub, data))
			}
		}
	}
	return p.result, nil
}

// callPlan is a checked Call: the result to fill in, the data of each event in order, and the
// called extension's subscriptions in id order.
type callPlan struct {
	result CallResult
	events []url.Values
	subs   []subscriber
}

// planCall checks a Call and, under s.mu, builds its events and copies the subscriptions of the
// called extension.
func (s *Server) planCall(c Call) (callPlan, error) {
	types := c.EventTypes
	if len(types) == 0 {
		types = defaultCallEvents
	}
	for _, t := range types {
		if !slices.Contains(eventTypes, t) {
			return callPlan{}, badRequestf("event_types: %q is not one of %s", t, strings.Join(eventTypes, ", "))
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ext, err := s.callee(c)
	if err != nil {
		return callPlan{}, err
	}
	client := ext.int("client_id")
	caller, callerNum := "", c.CallerIDNum
	if c.CallerExtension != "" {
		from, found := s.extensionByName(client, s.fullName(client, c.CallerExtension))
		if !found {
			return callPlan{}, badRequestf("caller_extension: extension %s does not exist", c.CallerExtension)
		}
		caller = from.str("name") + "@" + from.str("domain")
		callerNum = cmp.Or(callerNum, from.str("name"))
	}
	callerNum = cmp.Or(callerNum, DefaultCallerIDNum)
	did, err := s.calledDID(client, ext.int("id"), c.DID, caller == "")
	if err != nil {
		return callPlan{}, err
	}
	// The number the caller dialled: the DID of an outside call, the short name of an internal one.
	called := did
	if called == "" {
		_, called, _ = strings.Cut(ext.str("name"), "*")
	}

	p := callPlan{result: CallResult{CallID: s.hexID(), ExtensionID: ext.int("id"), Extension: ext.str("name"), Deliveries: []Delivery{}}}
	// ASSUMPTION (UPSTREAM-API 3.5, 5.11): the documented keys only, since the list was cut off;
	// CalledExtension has the documented form of CallerExtension (clientprefix*name@domain);
	// SubCallID is an opaque id of the call's one leg; Bridged is "yes" from the answer on.
	leg := s.hexID()
	bridged := "no"
	for _, t := range types {
		if t == "answer" {
			bridged = "yes"
		}
		p.events = append(p.events, url.Values{
			"EventType":       {t},
			"CallID":          {p.result.CallID},
			"SubCallID":       {leg},
			"CallerIDNum":     {callerNum},
			"CallerIDName":    {c.CallerIDName},
			"CallerExtension": {caller},
			"CalledDID":       {did},
			"CalledExtension": {ext.str("name") + "@" + ext.str("domain")},
			"CalledNumber":    {called},
			"Bridged":         {bridged},
		})
	}
	s.w.cols[colEvent].each(func(o object) bool {
		if o.int("extension_id") == ext.int("id") {
			p.subs = append(p.subs, subscriber{id: o.int("id"), eventType: o.str("event_type"), method: o.str("method"), hook: o.str("url")})
		}
		return true
	})
	return p, nil
}

// callee finds the extension a Call is to. The caller holds s.mu.
func (s *Server) callee(c Call) (object, error) {
	client := c.ClientID
	if _, found := s.w.tenants[client]; client != 0 && !found {
		return nil, badRequestf("client_id: client %d does not exist", client)
	}
	var ext object
	var found bool
	switch {
	case c.ExtensionID != 0 && c.Extension != "":
		return nil, badRequestf("extension: give extension_id or extension, not both")
	case c.ExtensionID != 0:
		ext, found = s.w.cols[colExtension].get(c.ExtensionID)
	case c.Extension != "":
		if client == 0 {
			if len(s.w.tenants) != 1 {
				return nil, badRequestf("client_id: is required with extension when there are several clients")
			}
			for id := range s.w.tenants {
				client = id
			}
		}
		ext, found = s.extensionByName(client, s.fullName(client, c.Extension))
	default:
		return nil, badRequestf("extension_id: is required (or extension)")
	}
	if !found || (c.ClientID != 0 && ext.int("client_id") != c.ClientID) {
		return nil, errNoExtension
	}
	return ext, nil
}

// fullName turns a short or full extension name into the client's full form. The caller holds s.mu.
func (s *Server) fullName(client int64, name string) string {
	if strings.Contains(name, "*") {
		return name
	}
	c, _ := s.w.cols[colClient].get(client)
	return c.str("prefix") + "*" + name
}

// calledDID returns the DID a call came in on: the one named, which must be the client's, or for
// an outside call the first DID routed to the extension, or "" for none. The caller holds s.mu.
func (s *Server) calledDID(client, ext int64, name string, outside bool) (string, error) {
	if name == "" && !outside {
		return "", nil
	}
	var did string
	s.w.cols[colDID].each(func(o object) bool {
		switch {
		case o.int("client_id") != client:
		case name != "" && o.str("name") == name:
			did = name
			return false
		case name == "" && o.int("extension_id") == ext:
			did = o.str("name")
			return false
		}
		return true
	})
	if name != "" && did == "" {
		return "", badRequestf("did: %s is not a DID of client %d", name, client)
	}
	return did, nil
}

// hexID returns a new opaque id of 32 hex digits, like the PBX's call ids. The caller holds s.mu.
func (s *Server) hexID() string {
	return fmt.Sprintf("%016x%016x", s.rnd.Uint64(), s.rnd.Uint64())
}

// deliver sends one event to one subscriber and reports the answer. ASSUMPTION (UPSTREAM-API
// 3.5): a GET carries each key as a request header of that name, as written; a POST carries them
// as an application/x-www-form-urlencoded body. Redirects are not followed, so the status is the
// subscriber's own.
func (s *Server) deliver(ctx context.Context, sub subscriber, data url.Values) Delivery {
	d := Delivery{EventID: sub.id, EventType: sub.eventType, Method: sub.method, URL: sub.hook, Data: map[string]string{}}
	for k := range data {
		d.Data[k] = data.Get(k)
	}
	ctx, cancel := context.WithTimeout(ctx, s.eventTimeout)
	defer cancel()
	var body io.Reader
	if sub.method == http.MethodPost {
		body = strings.NewReader(data.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, sub.method, sub.hook, body)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	if sub.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		for k := range data {
			req.Header[k] = []string{data.Get(k)} // the key as the PBX writes it, not canonicalised
		}
	}
	res, err := s.hooks.Do(req)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) //nolint:errcheck // only the status matters
	res.Body.Close()                                      //nolint:errcheck,gosec // the body was read
	d.Status = res.StatusCode
	return d
}
