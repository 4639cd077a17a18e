package pbx

import (
	"context"
	"iter"
	"net/http"
	"net/url"
)

// Event types an extension can subscribe to (UPSTREAM-API 3.5). Queue and IVR extensions take
// only EventHangup.
const (
	EventDialIn     = "dial-in"
	EventDialOut    = "dial-out"
	EventAnswer     = "answer"
	EventHangup     = "hangup"
	EventMessageIn  = "message-in"
	EventMessageOut = "message-out"
	EventVoicemail  = "voicemail"
)

// Event is a subscription of an extension's call events to a URL (a webhook). Subscriptions
// have no documented uniqueness: dedupe on (URL, EventType, Method).
type Event struct {
	ID        int64  `json:"id"`
	URL       string `json:"url"`
	EventType string `json:"event_type"`
	Method    string `json:"method"` // GET or POST
}

// EventCreate is the body of a subscription's POST; every field is required.
type EventCreate struct {
	URL       string `json:"url"`
	EventType string `json:"event_type"`
	Method    string `json:"method"`
}

// EventUpdate is the body of a subscription's PUT: only the set fields change.
type EventUpdate struct {
	URL       Opt[string] `json:"url,omitzero"`
	EventType Opt[string] `json:"event_type,omitzero"`
	Method    Opt[string] `json:"method,omitzero"`
}

// EventFilter selects the subscriptions a list returns; the zero value selects all.
type EventFilter struct {
	URL       string
	EventType string
	Method    string
}

func (f EventFilter) query() url.Values {
	q := url.Values{}
	setString(q, "url", f.URL)
	setString(q, "event_type", f.EventType)
	setString(q, "method", f.Method)
	return q
}

// EventsService manages the event subscriptions of an extension: /extension/{id}/event/. The
// realm is the extension's. It deliberately has no way to delete the whole collection, which
// removes the subscriptions of every other integration too (UPSTREAM-API 4.8).
type EventsService service

func eventID(e *Event) int64 { return e.ID }

// List returns the extension's subscriptions that match f.
func (s *EventsService) List(ctx context.Context, ext Realm, f EventFilter) iter.Seq2[Event, error] {
	return list(ctx, s.c, resEvent.collection(ext), f.query(), eventID)
}

// ListAll returns every subscription of the extension that matches f.
func (s *EventsService) ListAll(ctx context.Context, ext Realm, f EventFilter) ([]Event, error) {
	return collect(s.List(ctx, ext, f))
}

// Get returns one subscription.
func (s *EventsService) Get(ctx context.Context, ext Realm, id int64) (*Event, error) {
	return get[Event](ctx, s.c, resEvent.object(ext, id))
}

// Create subscribes the extension and returns the subscription with its id. The number of
// subscriptions is limited per client (ClientInfoService.Limits).
func (s *EventsService) Create(ctx context.Context, ext Realm, in EventCreate) (*Event, error) {
	return send[Event](ctx, s.c, http.MethodPost, resEvent.collection(ext), in)
}

// Update changes the set fields of a subscription.
func (s *EventsService) Update(ctx context.Context, ext Realm, id int64, in EventUpdate) (*Event, error) {
	return send[Event](ctx, s.c, http.MethodPut, resEvent.object(ext, id), in)
}

// Delete deletes one subscription.
func (s *EventsService) Delete(ctx context.Context, ext Realm, id int64) error {
	return remove(ctx, s.c, resEvent.object(ext, id))
}
