package pbx

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

func ptr[T any](v T) *T { return &v }

func TestExtensionsCRUD(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	g, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "Sales"})
	if err != nil {
		t.Fatal(err)
	}

	created, err := c.Extensions.Create(ctx, demo, ExtensionCreate{
		Name: "101", Type: ExtensionTypePhone, Status: StatusActive,
		Label: Set("Reception"), CallerIDName: Set("Front desk"), ExtensionGroupID: Set(g.ID),
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := Extension{
		ID: created.ID, Name: "0003*101", Type: ExtensionTypePhone, Status: StatusActive,
		Label: ptr("Reception"), ClientID: 1, ExtensionGroupID: ptr(g.ID), CallerIDName: ptr("Front desk"),
		Domain: "demo.sip.pbxsim.local", CreateDate: "2026-03-02 10:00:00",
	}
	if diff := cmp.Diff(want, *created); diff != "" {
		t.Errorf("Create: -want, +got:\n%s", diff)
	}

	got, err := c.Extensions.Get(ctx, demo, created.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("Get: -want, +got:\n%s", diff)
	}

	// A partial update changes only what it sets; null clears.
	updated, err := c.Extensions.Update(ctx, demo, created.ID, ExtensionUpdate{
		Status:                Set(StatusBlocked),
		Label:                 Null[string](),
		ExtensionGroupID:      Null[int64](),
		DIDAsTransferCallerID: Set("74950000001"),
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want.Status, want.Label, want.ExtensionGroupID = StatusBlocked, nil, nil
	want.DIDAsTransferCallerID = ptr(LooseString("74950000001"))
	if diff := cmp.Diff(want, *updated); diff != "" {
		t.Errorf("Update: -want, +got:\n%s", diff)
	}
	stored := f.sim.Snapshot().Extensions[0]
	if stored["caller_id_name"] != "Front desk" || stored["label"] != nil {
		t.Errorf("stored after the partial update: caller_id_name %v (want kept), label %v (want null)", stored["caller_id_name"], stored["label"])
	}

	if err := c.Extensions.Delete(ctx, demo, created.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Extensions.Get(ctx, demo, created.ID); !IsNotFound(err) {
		t.Errorf("Get after Delete: got %v, want not found", err)
	}
	if err := c.Extensions.Delete(ctx, demo, created.ID); !IsNotFound(err) {
		t.Errorf("Delete again: got %v, want not found", err)
	}
}

func TestExtensionsUpdateSendsOnlySetFields(t *testing.T) {
	var body bodyRecorder
	f := newFixture(t, fixtureOptions{wrap: body.wrap(http.MethodPut)})
	c := f.client(t)
	e := mustCreateExtension(t, c, "102")
	if _, err := c.Extensions.Update(context.Background(), demo, e.ID, ExtensionUpdate{
		Label: Null[string](), ANIRFC3325: Set(false),
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"label":null,"ani_rfc3325":false}`, body.last()); diff != "" {
		t.Errorf("PUT body: -want, +got:\n%s", diff)
	}
}

func TestExtensionsList(t *testing.T) {
	cases := map[string]struct {
		reason    string
		create    int
		pageSize  int
		wantPages int
	}{
		"SeveralPages": {
			reason: "Paging goes on past the first page until a short page.",
			create: 7, pageSize: 3, wantPages: 3,
		},
		"ExactMultiple": {
			reason: "When the last page is full, one more (empty) page ends the list.",
			create: 6, pageSize: 3, wantPages: 3,
		},
		"OnePage": {
			reason: "A first page shorter than the page size is the whole list.",
			create: 2, pageSize: 200, wantPages: 1,
		},
		"Empty": {
			reason: "An empty collection is one request and no objects.",
			create: 0, pageSize: 3, wantPages: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			c := f.client(t, WithPageSize(tc.pageSize))
			var want []string
			for i := range tc.create {
				n := strconv.Itoa(201 + i)
				mustCreateExtension(t, c, n)
				want = append(want, "0003*"+n)
			}
			all, err := c.Extensions.ListAll(context.Background(), demo, ExtensionFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range all {
				got = append(got, e.Name)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nnames: -want, +got:\n%s", tc.reason, diff)
			}
			if n := f.count(http.MethodGet, "/client/{realm_id}/extension/"); n != tc.wantPages {
				t.Errorf("%s\nlist requests: got %d, want %d", tc.reason, n, tc.wantPages)
			}
		})
	}
}

func TestExtensionsListStopsWhenTheCallerDoes(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, WithPageSize(2))
	for _, n := range []string{"301", "302", "303", "304", "305"} {
		mustCreateExtension(t, c, n)
	}
	for e, err := range c.Extensions.List(context.Background(), demo, ExtensionFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Name == "0003*301" {
			break
		}
	}
	if n := f.count(http.MethodGet, "/client/{realm_id}/extension/"); n != 1 {
		t.Errorf("list requests after a break on the first page: got %d, want 1", n)
	}
}

func TestExtensionsListFilters(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	g, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "Support"})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []ExtensionCreate{
		{Name: "401", Type: ExtensionTypePhone, Status: StatusActive, ExtensionGroupID: Set(g.ID)},
		{Name: "402", Type: ExtensionTypePhone, Status: StatusBlocked},
		{Name: "403", Type: ExtensionTypeQueue, Status: StatusActive, ExtensionGroupID: Set(g.ID)},
	} {
		if _, err := c.Extensions.Create(ctx, demo, in); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		reason string
		filter ExtensionFilter
		want   []string
	}{
		"All":        {reason: "The zero filter selects everything.", want: []string{"0003*401", "0003*402", "0003*403"}},
		"Type":       {reason: "type matches exactly.", filter: ExtensionFilter{Type: ExtensionTypeQueue}, want: []string{"0003*403"}},
		"Status":     {reason: "status matches exactly.", filter: ExtensionFilter{Status: StatusBlocked}, want: []string{"0003*402"}},
		"Group":      {reason: "A group's members.", filter: ExtensionFilter{GroupID: Set(g.ID)}, want: []string{"0003*401", "0003*403"}},
		"NoGroup":    {reason: "Null matches extensions in no group.", filter: ExtensionFilter{GroupID: Null[int64]()}, want: []string{"0003*402"}},
		"Name":       {reason: "name matches the full name.", filter: ExtensionFilter{Name: "0003*402"}, want: []string{"0003*402"}},
		"Combined":   {reason: "Filters combine.", filter: ExtensionFilter{Type: ExtensionTypePhone, Status: StatusActive}, want: []string{"0003*401"}},
		"MatchNoOne": {reason: "No match is an empty list.", filter: ExtensionFilter{Type: ExtensionTypeFax}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			all, err := c.Extensions.ListAll(ctx, demo, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range all {
				got = append(got, e.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestExtensionsFindByName(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	e := mustCreateExtension(t, c, "501")
	mustCreateExtension(t, c, "502")
	cases := map[string]struct {
		reason  string
		name    string
		wantID  int64
		wantErr func(error) bool
	}{
		"Found":    {reason: "The full name finds the extension.", name: FullName("0003", "501"), wantID: e.ID},
		"NotFound": {reason: "An absent name is a not-found error.", name: "0003*599", wantErr: IsNotFound},
		"ShortName": {
			reason:  "A short name cannot be matched against the PBX's full names; it is refused before any request.",
			name:    "501",
			wantErr: func(err error) bool { return err != nil && statusOf(err) == 0 },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := c.Extensions.FindByName(context.Background(), demo, tc.name)
			switch {
			case tc.wantErr != nil:
				if !tc.wantErr(err) {
					t.Errorf("%s\nFindByName(%q): got error %v", tc.reason, tc.name, err)
				}
			case err != nil:
				t.Errorf("%s\nFindByName(%q): %v", tc.reason, tc.name, err)
			case got.ID != tc.wantID:
				t.Errorf("%s\nFindByName(%q): id %d, want %d", tc.reason, tc.name, got.ID, tc.wantID)
			}
		})
	}
}

func TestShortAndFullName(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   string
	}{
		"Full":     {reason: "The number follows the prefix.", in: "0003*101", want: "101"},
		"Short":    {reason: "A name without a prefix is the number.", in: "101", want: "101"},
		"Absolute": {reason: "The absolute form also carries the domain prefix.", in: "00500*0003*101", want: "101"},
		"Built":    {reason: "FullName and ShortName are inverses.", in: FullName("0003", "101"), want: "101"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := ShortName(tc.in); got != tc.want {
				t.Errorf("%s\nShortName(%q) = %q, want %q", tc.reason, tc.in, got, tc.want)
			}
		})
	}
}

func TestExtensionsGroupRealm(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()
	g, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "Ops"})
	if err != nil {
		t.Fatal(err)
	}
	member, err := c.Extensions.Create(ctx, demo, ExtensionCreate{Name: "601", Status: StatusActive, ExtensionGroupID: Set(g.ID)})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateExtension(t, c, "602")
	all, err := c.Extensions.ListAll(ctx, ExtensionGroupRealm(g.ID), ExtensionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{member.ID}, ids(all, extensionID)); diff != "" {
		t.Errorf("the group realm lists its members only: -want, +got:\n%s", diff)
	}
}

func ids[T any](items []T, id func(*T) int64) []int64 {
	var out []int64
	for i := range items {
		out = append(out, id(&items[i]))
	}
	return out
}

// bodyRecorder records the last request body of one method that reaches the simulator.
type bodyRecorder struct {
	mu   sync.Mutex
	body string
}

func (b *bodyRecorder) wrap(method string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == method {
				data, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				b.mu.Lock()
				b.body = string(data)
				b.mu.Unlock()
				r.Body = io.NopCloser(bytes.NewReader(data))
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (b *bodyRecorder) last() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.body
}

// TestListPageRetried: a page lost to a transient failure is asked again (twice), so a list of
// several pages survives one bad answer; a refusal is not asked again.
func TestListPageRetried(t *testing.T) {
	cases := map[string]struct {
		reason   string
		fault    pbxsim.Fault
		wantErr  bool
		wantGETs int
	}{
		"TwoFailuresThenTheList": {
			reason: "A page that fails twice with 5xx is asked a third time, and the list goes on.",
			fault:  pbxsim.Fault{Status: http.StatusBadGateway, Times: 2},
			// page 1 three times, then page 2 (short, the last)
			wantGETs: 4,
		},
		"CutConnection": {
			reason:   "A page whose answer never came is asked again.",
			fault:    pbxsim.Fault{DropAfterCommit: true, Times: 1},
			wantGETs: 3,
		},
		"ThreeFailures": {
			reason:   "A page that fails three times fails the list.",
			fault:    pbxsim.Fault{Status: http.StatusServiceUnavailable, Times: 3},
			wantErr:  true,
			wantGETs: 3,
		},
		"Refused": {
			reason:   "A 400 is the PBX's answer, not a lost one: not asked again.",
			fault:    pbxsim.Fault{Status: http.StatusBadRequest, Times: 1},
			wantErr:  true,
			wantGETs: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			c := f.client(t, WithPageSize(2))
			for _, n := range []string{"401", "402", "403"} {
				mustCreateExtension(t, c, n)
			}
			tc.fault.Method, tc.fault.Path = http.MethodGet, apiPrefix+"/client/{realm_id}/extension/"
			f.sim.AddFault(tc.fault)
			all, err := c.Extensions.ListAll(context.Background(), demo, ExtensionFilter{})
			if (err != nil) != tc.wantErr || (err == nil && len(all) != 3) {
				t.Errorf("%s\ngot %d extensions, error %v; want error %v", tc.reason, len(all), err, tc.wantErr)
			}
			if n := f.count(http.MethodGet, "/client/{realm_id}/extension/"); n != tc.wantGETs {
				t.Errorf("%s\nlist requests: got %d, want %d", tc.reason, n, tc.wantGETs)
			}
		})
	}
}
