package pbx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// The contract suite states the PBX behaviour the operator relies on. It runs against pbxsim by
// default. With PBX_URL, PBX_CLIENT_ID and PBX_CLIENT_SECRET set (a trusted application of a
// client-level user with "All" access) it runs against that PBX instead, so that every
// difference between the simulator and the vendor shows up here first:
//
//	PBX_URL=https://apiproxy.example PBX_CLIENT_ID=... PBX_CLIENT_SECRET=... \
//		go test -run TestContract -v ./internal/pbx/
//
// On a real PBX it creates only extensions and groups labelled or named with a unique per-run
// prefix, on extension numbers that are free, and deletes them afterwards. It changes a DID's
// routing (and restores it) only against the simulator or with PBX_CONTRACT_DIDS=1. It paces
// itself at 2 requests per second and keeps a fifth of the hourly budget for other clients.

// contract is the environment of one contract run.
type contract struct {
	c      *Client
	realm  Realm    // the account's own realm: client/@me
	prefix string   // the client prefix
	extLen int      // the digit count of extension names
	run    string   // the unique prefix of this run's objects
	real   bool     // a real PBX, not the simulator
	free   []string // free extension numbers, for this run's extensions
	// url and opts make more clients for the same account.
	url  string
	opts []Option
}

func newContract(t *testing.T) *contract {
	t.Helper()
	url, id, secret := os.Getenv("PBX_URL"), os.Getenv("PBX_CLIENT_ID"), os.Getenv("PBX_CLIENT_SECRET")
	k := &contract{realm: MeRealm(RealmClient), run: "pbxct-" + randomHex(t, 4)}
	opts := []Option{WithUserAgent("pbx-operator-contract-test")}
	if url == "" {
		sim, err := pbxsim.New(pbxsim.DemoConfig(), pbxsim.WithStrictSlashes())
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		url, id, secret = srv.URL, pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret
		opts = append(opts, WithRateLimit(0, 0))
	} else {
		if id == "" || secret == "" {
			t.Fatal("PBX_URL is set: PBX_CLIENT_ID and PBX_CLIENT_SECRET are needed too")
		}
		k.real = true
		opts = append(opts, WithRateLimit(2, 2), WithWriteReserve(20))
	}
	k.url, k.opts = url, append(opts, WithCredentials(id, secret))
	c, err := New(k.url, k.opts...)
	if err != nil {
		t.Fatal(err)
	}
	k.c = c
	return k
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// ctx bounds each step, generously for a real PBX.
func (k *contract) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// number returns a free extension number of the client's length, from the top of the range down.
func (k *contract) number(t *testing.T) string {
	t.Helper()
	if len(k.free) == 0 {
		t.Fatal("no free extension numbers left")
	}
	n := k.free[0]
	k.free = k.free[1:]
	return n
}

// createExtension creates a labelled extension and deletes it when the test ends.
func (k *contract) createExtension(t *testing.T, in ExtensionCreate) *Extension {
	t.Helper()
	in.Label = Set(k.run + " " + in.Name)
	e, err := k.c.Extensions.Create(k.ctx(t), k.realm, in)
	if err != nil {
		t.Fatalf("creating extension %s: %v", in.Name, err)
	}
	t.Cleanup(func() { k.cleanup(t, "extension", e.ID, k.c.Extensions.Delete) })
	return e
}

// createGroup creates a group named with the run prefix and deletes it when the test ends.
func (k *contract) createGroup(t *testing.T, suffix string) *ExtensionGroup {
	t.Helper()
	g, err := k.c.Groups.Create(k.ctx(t), k.realm, ExtensionGroupCreate{Name: k.run + " " + suffix})
	if err != nil {
		t.Fatalf("creating group: %v", err)
	}
	t.Cleanup(func() { k.cleanup(t, "group", g.ID, k.c.Groups.Delete) })
	return g
}

func (k *contract) cleanup(t *testing.T, what string, id int64, del func(context.Context, Realm, int64) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := del(ctx, k.realm, id); err != nil && !IsNotFound(err) {
		t.Errorf("cleanup: deleting %s %d: %v (delete it by hand)", what, id, err)
	}
}

func TestContract(t *testing.T) {
	k := newContract(t)

	// Steps build on each other: the account first, then objects.
	t.Run("TrustedAppActsForClientUser", func(t *testing.T) {
		me, err := k.c.Users.Me(k.ctx(t))
		if err != nil {
			t.Fatalf("GET /user/: %v", err)
		}
		realm, ok := me.Realm()
		if !ok || realm.Kind != RealmClient {
			t.Fatalf("the application acts for %+v, want a client-level user (exactly one of client_id, extension_group_id, extension_id set)", me)
		}
		if me.Access != AccessFull {
			t.Fatalf("the user's access is %q, want full", me.Access)
		}
		mine, err := k.c.ClientInfo.Get(k.ctx(t), realm)
		if err != nil {
			t.Fatalf("GET /client/{id}/client/: %v", err)
		}
		info, err := k.c.ClientInfo.Get(k.ctx(t), k.realm)
		if err != nil {
			t.Fatalf("GET /client/@me/client/: %v", err)
		}
		if info.ID != mine.ID || info.Prefix == "" || info.ExtensionLen <= 0 {
			t.Fatalf("client info by id %+v and by @me %+v: want the same client, with a prefix and an extension_len", mine, info)
		}
		k.prefix, k.extLen = info.Prefix, int(info.ExtensionLen)
	})
	if k.prefix == "" {
		t.Fatal("the account cannot be used; the other steps need it")
	}

	t.Run("AnswersCarryTheBudget", func(t *testing.T) {
		if b := k.c.Budget(); b.Limit <= 0 || b.Reset.IsZero() {
			t.Errorf("budget %+v: want X-RateLimit-Limit and X-RateLimit-Reset on answers", b)
		}
	})

	t.Run("FreeNumbers", func(t *testing.T) {
		existing, err := k.c.Extensions.ListAll(k.ctx(t), k.realm, ExtensionFilter{})
		if err != nil {
			t.Fatalf("listing extensions: %v", err)
		}
		taken := map[string]bool{}
		for _, e := range existing {
			if !strings.HasPrefix(e.Name, k.prefix+"*") {
				t.Errorf("extension %d is named %q, want %s*<number>", e.ID, e.Name, k.prefix)
			}
			taken[ShortName(e.Name)] = true
		}
		top, _ := strconv.Atoi(strings.Repeat("9", k.extLen))
		for n := top; n >= (top+1)/10 && len(k.free) < 12; n-- {
			if s := strconv.Itoa(n); !taken[s] {
				k.free = append(k.free, s)
			}
		}
	})

	t.Run("ExtensionLifecycle", func(t *testing.T) {
		ctx := k.ctx(t)
		num := k.number(t)
		e := k.createExtension(t, ExtensionCreate{Name: num, Type: ExtensionTypePhone, Status: StatusActive})
		if e.ID <= 0 || e.Name != FullName(k.prefix, num) || e.Type != ExtensionTypePhone || e.Status != StatusActive {
			t.Errorf("POST answered %+v: want an id and the name %s", e, FullName(k.prefix, num))
		}
		got, err := k.c.Extensions.Get(ctx, k.realm, e.ID)
		if err != nil || got.Name != e.Name {
			t.Errorf("GET by id: %+v, %v", got, err)
		}
		found, err := k.c.Extensions.FindByName(ctx, k.realm, e.Name)
		if err != nil || found.ID != e.ID {
			t.Errorf("find by full name: %+v, %v", found, err)
		}

		// PUT is partial: fields not sent stay, null clears.
		upd, err := k.c.Extensions.Update(ctx, k.realm, e.ID, ExtensionUpdate{CallerIDName: Set("Contract Test")})
		if err != nil {
			t.Fatalf("PUT caller_id_name: %v", err)
		}
		if upd.Label == nil || *upd.Label != k.run+" "+num || upd.Status != StatusActive {
			t.Errorf("PUT of caller_id_name changed other fields: %+v", upd)
		}
		upd, err = k.c.Extensions.Update(ctx, k.realm, e.ID, ExtensionUpdate{Label: Null[string]()})
		if err != nil || upd.Label != nil || upd.CallerIDName == nil {
			t.Errorf("PUT label null: %+v, %v; want the label cleared and caller_id_name kept", upd, err)
		}

		if err := k.c.Extensions.Delete(ctx, k.realm, e.ID); err != nil {
			t.Fatalf("DELETE: %v", err)
		}
		if _, err := k.c.Extensions.Get(ctx, k.realm, e.ID); !IsNotFound(err) {
			t.Errorf("GET after DELETE: %v, want 404", err)
		}
		if err := k.c.Extensions.Delete(ctx, k.realm, e.ID); !IsNotFound(err) {
			t.Errorf("DELETE again: %v, want 404", err)
		}
	})

	t.Run("ExtensionDefaultsToBlocked", func(t *testing.T) {
		e := k.createExtension(t, ExtensionCreate{Name: k.number(t), Type: ExtensionTypePhone})
		if e.Status != StatusBlocked {
			t.Errorf("an extension created without status is %q, want blocked", e.Status)
		}
	})

	t.Run("ExtensionNamesAreUniqueAndSized", func(t *testing.T) {
		num := k.number(t)
		k.createExtension(t, ExtensionCreate{Name: num, Type: ExtensionTypePhone, Status: StatusActive})
		dup, err := k.c.Extensions.Create(k.ctx(t), k.realm, ExtensionCreate{Name: num, Type: ExtensionTypePhone, Label: Set(k.run + " duplicate")})
		if dup != nil {
			t.Cleanup(func() { k.cleanup(t, "extension", dup.ID, k.c.Extensions.Delete) })
		}
		if !IsBadRequest(err) {
			t.Errorf("a second extension named %s: %v, want 400", num, err)
		}
		short, err := k.c.Extensions.Create(k.ctx(t), k.realm, ExtensionCreate{Name: num[1:], Type: ExtensionTypePhone, Label: Set(k.run + " short")})
		if short != nil {
			t.Cleanup(func() { k.cleanup(t, "extension", short.ID, k.c.Extensions.Delete) })
		}
		if !IsBadRequest(err) {
			t.Errorf("a name of %d digits in a client of %d: %v, want 400", k.extLen-1, k.extLen, err)
		}
	})

	t.Run("GroupMembershipAndPaging", func(t *testing.T) {
		ctx := k.ctx(t)
		g := k.createGroup(t, "members")
		found, err := k.c.Groups.FindByName(ctx, k.realm, g.Name)
		if err != nil || len(found) != 1 || found[0].ID != g.ID {
			t.Errorf("find group by name: %+v, %v", found, err)
		}
		var want []int64
		for range 3 {
			e := k.createExtension(t, ExtensionCreate{Name: k.number(t), Type: ExtensionTypePhone, Status: StatusActive})
			if _, err := k.c.Extensions.Update(ctx, k.realm, e.ID, ExtensionUpdate{ExtensionGroupID: Set(g.ID)}); err != nil {
				t.Fatalf("PUT extension_group_id: %v", err)
			}
			want = append(want, e.ID)
		}
		// Two per page: the members take two pages.
		paged, err := New(k.url, append(k.opts, WithPageSize(2))...)
		if err != nil {
			t.Fatal(err)
		}
		members, err := paged.Extensions.ListAll(ctx, k.realm, ExtensionFilter{GroupID: Set(g.ID)})
		if err != nil {
			t.Fatalf("listing members: %v", err)
		}
		got := ids(members, extensionID)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("members over pages of 2: %v, want %v", got, want)
		}
		upd, err := k.c.Extensions.Update(ctx, k.realm, want[0], ExtensionUpdate{ExtensionGroupID: Null[int64]()})
		if err != nil || upd.ExtensionGroupID != nil {
			t.Errorf("PUT extension_group_id null: %+v, %v; want no group", upd, err)
		}
	})

	t.Run("PhoneSettings", func(t *testing.T) {
		ctx := k.ctx(t)
		num := k.number(t)
		e := k.createExtension(t, ExtensionCreate{Name: num, Type: ExtensionTypePhone, Status: StatusActive})
		ph, err := k.c.Phones.Get(ctx, ExtensionRealm(e.ID))
		if err != nil {
			t.Fatalf("GET /extension/{id}/phone/: %v", err)
		}
		byName, err := k.c.Phones.Get(ctx, ExtensionNameRealm(num))
		if err != nil || byName.RecordEnabled != ph.RecordEnabled {
			t.Errorf("GET /extension/@%s/phone/: %+v, %v", num, byName, err)
		}
		upd, err := k.c.Phones.Update(ctx, ExtensionRealm(e.ID), PhoneUpdate{RecordEnabled: Set(!ph.RecordEnabled)})
		if err != nil || upd.RecordEnabled == ph.RecordEnabled || upd.AuthType != ph.AuthType {
			t.Errorf("PUT record_enabled: %+v, %v; want it toggled and the rest kept", upd, err)
		}
	})

	t.Run("EventSubscriptions", func(t *testing.T) {
		ctx := k.ctx(t)
		e := k.createExtension(t, ExtensionCreate{Name: k.number(t), Type: ExtensionTypePhone, Status: StatusActive})
		ext := ExtensionRealm(e.ID)
		ev, err := k.c.Events.Create(ctx, ext, EventCreate{URL: "https://example.invalid/" + k.run, EventType: EventHangup, Method: "POST"})
		if err != nil {
			t.Fatalf("POST event: %v", err)
		}
		all, err := k.c.Events.ListAll(ctx, ext, EventFilter{})
		if err != nil || !slices.Contains(ids(all, eventID), ev.ID) {
			t.Errorf("listing events: %+v, %v", all, err)
		}
		if err := k.c.Events.Delete(ctx, ext, ev.ID); err != nil {
			t.Errorf("DELETE event: %v", err)
		}
	})

	t.Run("DIDRouting", func(t *testing.T) {
		ctx := k.ctx(t)
		dids, err := k.c.DIDs.ListAll(ctx, k.realm, DIDFilter{})
		if err != nil {
			t.Fatalf("listing DIDs: %v", err)
		}
		if k.real && os.Getenv("PBX_CONTRACT_DIDS") != "1" {
			t.Skip("routing a DID on a real PBX needs PBX_CONTRACT_DIDS=1")
		}
		i := slices.IndexFunc(dids, func(d DID) bool { return d.ExtensionID == nil })
		if i < 0 {
			t.Skip("no unassigned DID to route")
		}
		d := dids[i]
		e := k.createExtension(t, ExtensionCreate{Name: k.number(t), Type: ExtensionTypePhone, Status: StatusActive})
		t.Cleanup(func() {
			if _, err := k.c.DIDs.Update(context.Background(), k.realm, d.ID, DIDUpdate{ExtensionID: Null[int64]()}); err != nil {
				t.Errorf("cleanup: unassigning DID %s: %v (unassign it by hand)", d.Name, err)
			}
		})
		routed, err := k.c.DIDs.Update(ctx, k.realm, d.ID, DIDUpdate{ExtensionID: Set(e.ID)})
		if err != nil || routed.ExtensionID == nil || *routed.ExtensionID != e.ID {
			t.Errorf("PUT extension_id: %+v, %v", routed, err)
		}
	})

	t.Run("Timezones", func(t *testing.T) {
		tzs, err := k.c.Timezones.List(k.ctx(t))
		if err != nil || len(tzs) == 0 {
			t.Errorf("GET /timezone/: %d entries, %v", len(tzs), err)
		}
	})
}
