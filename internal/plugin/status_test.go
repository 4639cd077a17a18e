package plugin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

func cond(typ, status, reason, msg string, at time.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionStatus(status), Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(at)}
}

func ext(ns, name, account string, conds ...metav1.Condition) managed.Object {
	x := &v1alpha1.Extension{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	x.Spec.AccountRef = v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: account}
	x.Status.Conditions = conds
	return x
}

// zero are the counts of a kind without resources.
func zero(kind string) KindCount {
	return KindCount{Kind: kind, Ready: map[string]int{}, Synced: map[string]int{}}
}

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := []metav1.Condition{cond("Ready", "True", "Available", "", t0), cond("Synced", "True", "UpToDate", "", t0)}
	acct := v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "pbx"}, Spec: v1alpha1.AccountSpec{ConnectionSpec: v1alpha1.ConnectionSpec{URL: "https://pbx.example/"}}}
	acct.Status.Conditions = []metav1.Condition{cond("Ready", "True", "Available", "", t0)}
	acct.Status.ClientPrefix = "0003"
	acct.Status.RequestBudget = v1alpha1.RequestBudget{Limit: 7200, Remaining: new(int32(6900)), ResetTime: new(metav1.NewTime(t0.Add(time.Hour))), ObservedTime: new(metav1.NewTime(t0))}
	group := &v1alpha1.ExtensionGroup{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "sales"}}
	group.Spec.AccountRef = v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "pbx"}
	group.Status.Conditions = ok

	cases := map[string]struct {
		reason string
		in     StatusInput
		want   StatusReport
	}{
		"CountsDriftAndErrors": {
			reason: "objects are counted by reason; Drifted and Updating are drift; failures are errors, newest first, cut to MaxErrors",
			in: StatusInput{
				Accounts: []v1alpha1.Account{acct},
				Objects: []managed.Object{
					group,
					&v1alpha1.PhoneNumber{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "number-1"}, Spec: v1alpha1.PhoneNumberSpec{ManagedSpec: group.Spec.ManagedSpec},
						Status: v1alpha1.PhoneNumberStatus{ManagedStatus: v1alpha1.ManagedStatus{Conditions: []metav1.Condition{
							cond("Ready", "False", "NotFound", "", t0), cond("Synced", "False", "NotFound", "The number 74950000001 is not in the PBX account", t0)}}}},
					ext("a", "ext-101", "pbx", ok...),
					ext("a", "ext-102", "pbx", cond("Ready", "True", "Available", "", t0), cond("Synced", "False", "Drifted", "The PBX object differs from the spec: label", t0)),
					ext("a", "ext-103", "pbx", cond("Ready", "False", "AlreadyExists", "", t0), cond("Synced", "False", "AlreadyExists", "old", t0)),
					ext("a", "ext-104", "pbx", cond("Ready", "True", "Available", "", t0), cond("Synced", "False", "APIUnavailable", "new", t0.Add(time.Minute))),
					ext("a", "ext-105", "pbx", cond("Ready", "True", "Available", "", t0), cond("Synced", "False", "Conflict", "oldest", t0.Add(-time.Minute))),
					ext("a", "ext-106", "pbx"),
				},
				MaxErrors: 2,
			},
			want: StatusReport{Accounts: []AccountReport{{
				Kind: "Account", Namespace: "a", Name: "pbx", Found: true, URL: "https://pbx.example/", Shard: "default", Ready: "True", ReadyReason: "Available", Prefix: "0003",
				Budget: &Budget{Limit: 7200, Remaining: 6900, Reset: t0.Add(time.Hour), Observed: t0},
				Kinds: []KindCount{
					{Kind: "ExtensionGroup", Total: 1, Ready: map[string]int{"Available": 1}, Synced: map[string]int{"UpToDate": 1}},
					{Kind: "Extension", Total: 6, Ready: map[string]int{"Available": 4, "AlreadyExists": 1, "Unknown": 1}, Synced: map[string]int{"UpToDate": 1, "Drifted": 1, "AlreadyExists": 1, "APIUnavailable": 1, "Conflict": 1, "Unknown": 1}},
					{Kind: "PhoneNumber", Total: 1, Ready: map[string]int{"NotFound": 1}, Synced: map[string]int{"NotFound": 1}},
					zero("EventSubscription"),
				},
				Drifted: []Issue{{Kind: "Extension", Namespace: "a", Name: "ext-102", Reason: "Drifted", Message: "The PBX object differs from the spec: label", Since: t0}},
				Errors: []Issue{
					{Kind: "Extension", Namespace: "a", Name: "ext-104", Reason: "APIUnavailable", Message: "new", Since: t0.Add(time.Minute)},
					{Kind: "Extension", Namespace: "a", Name: "ext-103", Reason: "AlreadyExists", Message: "old", Since: t0},
				},
				ErrorsTotal: 4,
			}}},
		},
		"AccountNotCheckedYet": {
			reason: "an account without a Ready condition shows Unknown and the reason Unknown, as pbx_account_ready_reason does, and no budget",
			in: StatusInput{ClusterAccounts: []v1alpha1.ClusterAccount{{ObjectMeta: metav1.ObjectMeta{Name: "shared", Labels: map[string]string{v1alpha1.LabelShard: "b"}},
				Spec: v1alpha1.ClusterAccountSpec{ConnectionSpec: v1alpha1.ConnectionSpec{URL: "https://pbx.example/"}}}}},
			want: StatusReport{Accounts: []AccountReport{{
				Kind: "ClusterAccount", Name: "shared", Found: true, URL: "https://pbx.example/", Shard: "b", Ready: "Unknown", ReadyReason: "Unknown",
				Kinds:   []KindCount{zero("ExtensionGroup"), zero("Extension"), zero("PhoneNumber"), zero("EventSubscription")},
				Drifted: []Issue{}, Errors: []Issue{},
			}}},
		},
		"MissingAccount": {
			reason: "objects that refer to an account that does not exist show it as not found",
			in:     StatusInput{Objects: []managed.Object{ext("b", "ext-101", "gone", ok...)}},
			want: StatusReport{Accounts: []AccountReport{{
				Kind: "Account", Namespace: "b", Name: "gone",
				Kinds: []KindCount{
					zero("ExtensionGroup"),
					{Kind: "Extension", Total: 1, Ready: map[string]int{"Available": 1}, Synced: map[string]int{"UpToDate": 1}},
					zero("PhoneNumber"),
					zero("EventSubscription"),
				},
				Drifted: []Issue{}, Errors: []Issue{},
			}}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Summarize(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nSummarize(): -want, +got:\n%s", tc.reason, diff)
			}
			var text, js bytes.Buffer
			if err := got.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := got.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if b := tc.want.Accounts[0].Budget; b != nil && !strings.Contains(text.String(), "Request budget: 6900 of 7200 left until 2026-01-01T01:00:00Z (as of 2026-01-01T00:00:00Z)") {
				t.Errorf("%s\nthe text shows the budget:\n%s", tc.reason, text.String())
			}
			if shard := tc.want.Accounts[0].Shard; shard != "" && (!strings.Contains(text.String(), "shard "+shard) || !strings.Contains(js.String(), `"shard": "`+shard+`"`)) {
				t.Errorf("%s\nthe text and JSON show the shard %s:\n%s\n%s", tc.reason, shard, text.String(), js.String())
			}
			if !strings.Contains(text.String(), tc.want.Accounts[0].Name) || !strings.Contains(js.String(), `"accounts"`) {
				t.Errorf("%s\ntext:\n%s\njson:\n%s", tc.reason, text.String(), js.String())
			}
		})
	}
}
