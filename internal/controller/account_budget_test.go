package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// TestRequestBudget: the budget recorded in an account's status follows the PBX when a window
// begins and when the share left crosses a band, and otherwise stays as recorded, so that a poll
// does not write the status for every request the account made.
func TestRequestBudget(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 20, 0, 0, time.UTC)
	reset := time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)
	rec := func(limit, remaining int32, reset, at time.Time) v1alpha1.RequestBudget {
		return v1alpha1.RequestBudget{Limit: limit, Remaining: &remaining, ResetTime: new(metav1.NewTime(reset)), ObservedTime: new(metav1.NewTime(at))}
	}
	earlier := now.Add(-10 * time.Minute)
	cases := map[string]struct {
		reason string
		prev   v1alpha1.RequestBudget
		budget pbx.Budget
		want   v1alpha1.RequestBudget
	}{
		"FirstAnnounced": {
			reason: "the first budget the PBX announces is recorded",
			budget: pbx.Budget{Limit: 1000, Remaining: 900, Reset: reset},
			want:   rec(1000, 900, reset, now),
		},
		"Unknown": {
			reason: "a PBX that announces no budget leaves the status alone",
			prev:   rec(1000, 900, reset, earlier),
			budget: pbx.Budget{},
			want:   rec(1000, 900, reset, earlier),
		},
		"SameBand": {
			reason: "requests within the band change nothing: no status write per poll",
			prev:   rec(1000, 900, reset, earlier),
			budget: pbx.Budget{Limit: 1000, Remaining: 700, Reset: reset.Add(time.Second)},
			want:   rec(1000, 900, reset, earlier),
		},
		"BelowHalf": {
			reason: "crossing half is recorded",
			prev:   rec(1000, 900, reset, earlier),
			budget: pbx.Budget{Limit: 1000, Remaining: 499, Reset: reset},
			want:   rec(1000, 499, reset, now),
		},
		"BelowATenth": {
			reason: "crossing a tenth is recorded",
			prev:   rec(1000, 499, reset, earlier),
			budget: pbx.Budget{Limit: 1000, Remaining: 99, Reset: reset},
			want:   rec(1000, 99, reset, now),
		},
		"Spent": {
			reason: "a spent budget is recorded",
			prev:   rec(1000, 99, reset, earlier),
			budget: pbx.Budget{Limit: 1000, Remaining: 0, Reset: reset},
			want:   rec(1000, 0, reset, now),
		},
		"BackAcrossAnEdge": {
			reason: "within a window the share left only falls: an answer that comes back late, above the band's edge, is not recorded",
			prev:   rec(1000, 499, reset, earlier),
			budget: pbx.Budget{Limit: 1000, Remaining: 501, Reset: reset},
			want:   rec(1000, 499, reset, earlier),
		},
		"NewWindow": {
			reason: "a new window is recorded, in whatever band",
			prev:   rec(1000, 900, reset, earlier),
			budget: pbx.Budget{Limit: 1000, Remaining: 990, Reset: reset.Add(time.Hour)},
			want:   rec(1000, 990, reset.Add(time.Hour), now),
		},
		"NewLimit": {
			reason: "a changed limit is recorded",
			prev:   rec(1000, 900, reset, earlier),
			budget: pbx.Budget{Limit: 5000, Remaining: 4000, Reset: reset},
			want:   rec(5000, 4000, reset, now),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, requestBudget(tc.prev, tc.budget, now)); diff != "" {
				t.Errorf("%s\nrequestBudget(): -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}
