package pbx

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEvents(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	e := mustCreateExtension(t, c, "101")
	ext := ExtensionRealm(e.ID)

	hangup, err := c.Events.Create(ctx, ext, EventCreate{URL: "https://hooks.example/calls", EventType: EventHangup, Method: "POST"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := Event{ID: hangup.ID, URL: "https://hooks.example/calls", EventType: EventHangup, Method: "POST"}
	if diff := cmp.Diff(want, *hangup); diff != "" {
		t.Errorf("Create: -want, +got:\n%s", diff)
	}
	answer, err := c.Events.Create(ctx, ExtensionNameRealm("101"), EventCreate{URL: "https://hooks.example/calls", EventType: EventAnswer, Method: "GET"})
	if err != nil {
		t.Fatalf("Create by name: %v", err)
	}

	got, err := c.Events.Get(ctx, ext, hangup.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("Get: -want, +got:\n%s", diff)
	}

	updated, err := c.Events.Update(ctx, ext, hangup.ID, EventUpdate{Method: Set("GET")})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want.Method = "GET"
	if diff := cmp.Diff(want, *updated); diff != "" {
		t.Errorf("Update: -want, +got:\n%s", diff)
	}

	filtered, err := c.Events.ListAll(ctx, ext, EventFilter{EventType: EventAnswer})
	if err != nil {
		t.Fatalf("ListAll: %v", err)
	}
	if diff := cmp.Diff([]int64{answer.ID}, ids(filtered, eventID)); diff != "" {
		t.Errorf("ListAll by event type: -want, +got:\n%s", diff)
	}

	if err := c.Events.Delete(ctx, ext, hangup.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	all, err := c.Events.ListAll(ctx, ext, EventFilter{})
	if err != nil {
		t.Fatalf("ListAll: %v", err)
	}
	if diff := cmp.Diff([]int64{answer.ID}, ids(all, eventID)); diff != "" {
		t.Errorf("ListAll after Delete: -want, +got:\n%s", diff)
	}

	if _, err := c.Events.Create(ctx, ext, EventCreate{URL: "not a url", EventType: EventHangup, Method: "POST"}); !IsBadRequest(err) {
		t.Errorf("Create with a bad URL: got %v, want a bad request", err)
	}
}
