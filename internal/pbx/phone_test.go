package pbx

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPhones(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	e, err := c.Extensions.Create(ctx, demo, ExtensionCreate{Name: "101", Status: StatusActive, Label: Set("Reception")})
	if err != nil {
		t.Fatal(err)
	}
	defaults := Phone{
		ExtensionID: e.ID, Label: ptr("Reception"), AuthType: "digest",
		ConferenceAnnounceCallerName: true, ConferenceEndOnExit: true, RecordFormat: "mp3",
	}

	realms := map[string]Realm{
		"ByID":        ExtensionRealm(e.ID),
		"ByFullName":  ExtensionNameRealm("0003*101"),
		"ByShortName": ExtensionNameRealm("101"),
	}
	for name, realm := range realms {
		t.Run("Get"+name, func(t *testing.T) {
			got, err := c.Phones.Get(ctx, realm)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(defaults, *got); diff != "" {
				t.Errorf("Get(%s): -want, +got:\n%s", realm, diff)
			}
		})
	}

	got, err := c.Phones.Update(ctx, ExtensionRealm(e.ID), PhoneUpdate{
		Password: Set("s3cret-SIP"), RecordEnabled: Set(true), Label: Null[string](), IncomingLimit: Set(int64(2)),
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := defaults
	want.Label, want.RecordEnabled, want.IncomingLimit = nil, true, ptr(int64(2))
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("Update: -want, +got:\n%s", diff)
	}
	if stored := f.sim.Snapshot().Phones[0]; stored["auth_type"] != "digest" {
		t.Errorf("fields the update did not set must stay: auth_type %v", stored["auth_type"])
	}

	q, err := c.Extensions.Create(ctx, demo, ExtensionCreate{Name: "102", Type: ExtensionTypeQueue, Status: StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Phones.Get(ctx, ExtensionRealm(q.ID)); !IsNotFound(err) {
		t.Errorf("phone settings of a queue extension: got %v, want not found", err)
	}
	before := f.sim.RequestTotal("", "")
	if _, err := c.Phones.Get(ctx, demo); err == nil || statusOf(err) != 0 {
		t.Errorf("phone settings in the client realm: got %v, want a realm error", err)
	}
	if after := f.sim.RequestTotal("", ""); after != before {
		t.Errorf("a request in the wrong realm reached the PBX")
	}
}
