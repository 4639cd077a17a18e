package pbx

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGroupsCRUD(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	ctx := context.Background()

	created, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: "Sales", ExtraParams: Set(`{"team":"emea"}`)})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := ExtensionGroup{ID: created.ID, Name: "Sales", ClientID: 1, ExtraParams: ptr(LooseString(`{"team":"emea"}`))}
	if diff := cmp.Diff(want, *created); diff != "" {
		t.Errorf("Create: -want, +got:\n%s", diff)
	}
	got, err := c.Groups.Get(ctx, demo, created.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("Get: -want, +got:\n%s", diff)
	}

	updated, err := c.Groups.Update(ctx, demo, created.ID, ExtensionGroupUpdate{ExtraParams: Null[string]()})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want.ExtraParams = nil
	if diff := cmp.Diff(want, *updated); diff != "" {
		t.Errorf("Update (null clears extra_params, the name stays): -want, +got:\n%s", diff)
	}
	updated, err = c.Groups.Update(ctx, demo, created.ID, ExtensionGroupUpdate{Name: Set("Sales EMEA")})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want.Name = "Sales EMEA"
	if diff := cmp.Diff(want, *updated); diff != "" {
		t.Errorf("Update (rename): -want, +got:\n%s", diff)
	}

	all, err := c.Groups.ListAll(ctx, demo, GroupFilter{})
	if err != nil {
		t.Fatalf("ListAll: %v", err)
	}
	if diff := cmp.Diff([]ExtensionGroup{want}, all); diff != "" {
		t.Errorf("ListAll: -want, +got:\n%s", diff)
	}

	if err := c.Groups.Delete(ctx, demo, created.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Groups.Get(ctx, demo, created.ID); !IsNotFound(err) {
		t.Errorf("Get after Delete: got %v, want not found", err)
	}
}

func TestGroupsFindByName(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, WithPageSize(2))
	ctx := context.Background()
	byName := map[string][]int64{}
	for _, name := range []string{"Support", "Sales", "Support", "Ops", "Sales Team"} {
		g, err := c.Groups.Create(ctx, demo, ExtensionGroupCreate{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		byName[name] = append(byName[name], g.ID)
	}
	cases := map[string]struct {
		reason  string
		name    string
		want    []int64
		wantErr func(error) bool
	}{
		"One":      {reason: "A unique name finds its group.", name: "Ops", want: byName["Ops"]},
		"Several":  {reason: "Names are not unique: every match is returned.", name: "Support", want: byName["Support"]},
		"Exact":    {reason: "Only exact names match.", name: "Sales", want: byName["Sales"]},
		"NotFound": {reason: "No match is a not-found error.", name: "Marketing", wantErr: IsNotFound},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := c.Groups.FindByName(ctx, demo, tc.name)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Errorf("%s\nFindByName(%q): got error %v", tc.reason, tc.name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nFindByName(%q): %v", tc.reason, tc.name, err)
			}
			if diff := cmp.Diff(tc.want, ids(got, groupID)); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
