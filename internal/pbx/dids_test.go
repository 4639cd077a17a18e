package pbx

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDIDs(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, WithPageSize(2))
	ctx := context.Background()
	e := mustCreateExtension(t, c, "101")

	all, err := c.DIDs.ListAll(ctx, demo, DIDFilter{})
	if err != nil {
		t.Fatalf("ListAll: %v", err)
	}
	if len(all) != 5 {
		t.Fatalf("ListAll: got %d DIDs, want the demo's 5", len(all))
	}
	first := all[0]
	want := DID{
		ID: first.ID, Name: "74950000001", ClientID: 1, Comment: ptr("Main line"), CreateDate: "2026-03-02 10:00:00",
	}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first DID: -want, +got:\n%s", diff)
	}

	routed, err := c.DIDs.Update(ctx, demo, first.ID, DIDUpdate{ExtensionID: Set(e.ID)})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want.ExtensionID = ptr(e.ID)
	if diff := cmp.Diff(want, *routed); diff != "" {
		t.Errorf("Update (route): -want, +got:\n%s", diff)
	}
	assigned, err := c.DIDs.ListAll(ctx, demo, DIDFilter{ExtensionID: Set(e.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{first.ID}, ids(assigned, didID)); diff != "" {
		t.Errorf("ListAll routed to the extension: -want, +got:\n%s", diff)
	}
	free, err := c.DIDs.ListAll(ctx, demo, DIDFilter{ExtensionID: Null[int64]()})
	if err != nil {
		t.Fatal(err)
	}
	if len(free) != 4 {
		t.Errorf("ListAll unassigned: got %d, want 4", len(free))
	}

	if _, err := c.DIDs.Update(ctx, demo, first.ID, DIDUpdate{ExtensionID: Null[int64]()}); err != nil {
		t.Fatalf("Update (unassign): %v", err)
	}
	got, err := c.DIDs.Get(ctx, demo, first.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.ExtensionID != nil {
		t.Errorf("Get after unassigning: extension_id %d, want null", *got.ExtensionID)
	}
	byName, err := c.DIDs.ListAll(ctx, demo, DIDFilter{Name: "74950000003"})
	if err != nil || len(byName) != 1 {
		t.Errorf("ListAll by name: got %v, %v, want one DID", byName, err)
	}
	if _, err := c.DIDs.Get(ctx, demo, 1); !IsNotFound(err) {
		t.Errorf("Get of a missing DID: got %v, want not found", err)
	}
}
