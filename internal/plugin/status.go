package plugin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

// StatusReport is what kubectl pbx status shows: one entry per account.
type StatusReport struct {
	Accounts []AccountReport `json:"accounts"`
}

// AccountReport is one account's screen.
type AccountReport struct {
	// Kind is Account or ClusterAccount; Namespace is empty for a ClusterAccount.
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Found is false when managed objects refer to an account that does not exist.
	Found bool   `json:"found"`
	URL   string `json:"url,omitempty"`
	// Shard is the shard whose manager holds the account and its resources: the value of its label
	// pbx.cloudpbx.dev/shard, or "default" without it (docs/scaling.md); empty when the account
	// was not found.
	Shard string `json:"shard,omitempty"`
	// Ready is the account's Ready condition: status, reason and message; Unknown and Unknown
	// before it has one. They are what the metrics pbx_account_ready and pbx_account_ready_reason
	// report (controller.Readiness of the same condition).
	Ready        string `json:"ready,omitempty"`
	ReadyReason  string `json:"readyReason,omitempty"`
	ReadyMessage string `json:"readyMessage,omitempty"`
	Realm        string `json:"realm,omitempty"`
	Prefix       string `json:"prefix,omitempty"`
	// Budget is the PBX's hourly request budget as the manager last recorded it in the account's
	// status (status.requestBudget); nil until the PBX has announced one. The manager records it
	// when a window begins, the limit changes, or the share left falls below a half, a tenth or to
	// none, so Remaining is as of Observed; the metrics pbx_account_request_budget_* are live, from
	// the client's last answer, and agree with it on Limit and Reset (docs/metrics.md).
	Budget *Budget `json:"budget,omitempty"`
	// Kinds counts the managed objects of each kind by Ready and Synced reason.
	Kinds []KindCount `json:"kinds"`
	// Drifted are the objects whose PBX object differs from the spec (ObserveOnly's Drifted, or
	// an update on its way).
	Drifted []Issue `json:"drifted"`
	// Errors are the objects whose last reconcile failed, newest first.
	Errors []Issue `json:"errors"`
	// ErrorsTotal counts them all, when Errors is cut.
	ErrorsTotal int `json:"errorsTotal"`
}

// Budget is an account's request budget: Remaining of Limit requests were left at Observed, and
// the window ends at Reset.
type Budget struct {
	Limit     int32     `json:"limit"`
	Remaining int32     `json:"remaining"`
	Reset     time.Time `json:"reset"`
	Observed  time.Time `json:"observed"`
}

// KindCount counts one kind's objects of an account.
type KindCount struct {
	Kind  string         `json:"kind"`
	Total int            `json:"total"`
	Ready map[string]int `json:"ready"`
	// Synced is keyed by reason; "Unknown" counts objects not reconciled yet.
	Synced map[string]int `json:"synced"`
}

// Issue is one object with a condition to look at.
type Issue struct {
	Kind      string    `json:"kind"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Reason    string    `json:"reason"`
	Message   string    `json:"message"`
	Since     time.Time `json:"since"`
}

// errorReasons are the Synced reasons of a failed reconcile.
var errorReasons = map[string]bool{
	v1alpha1.ReasonInvalidSpec: true, v1alpha1.ReasonAlreadyExists: true, v1alpha1.ReasonConflict: true,
	v1alpha1.ReasonUnauthorized: true, v1alpha1.ReasonForbidden: true, v1alpha1.ReasonRateLimited: true,
	v1alpha1.ReasonAPIUnavailable: true, v1alpha1.ReasonReconcileError: true, v1alpha1.ReasonUnavailable: true,
	v1alpha1.ReasonDependencyNotReady: true, v1alpha1.ReasonNotFound: true,
}

// StatusInput is what Summarize reads: accounts and managed objects, as listed from the cluster.
type StatusInput struct {
	Accounts        []v1alpha1.Account
	ClusterAccounts []v1alpha1.ClusterAccount
	// Objects are the managed resources, of every managed kind (controller.ManagedKinds).
	Objects []managed.Object
	// MaxErrors bounds each account's Errors; 0 means 10.
	MaxErrors int
}

type accountKey struct{ kind, namespace, name string }

// accountOfObject is the account a managed resource uses.
func accountOfObject(o managed.Object) accountKey {
	ref := o.GetManagedSpec().AccountRef
	if ref.Kind == v1alpha1.AccountKindClusterAccount {
		return accountKey{string(ref.Kind), "", ref.Name}
	}
	return accountKey{string(v1alpha1.AccountKindAccount), o.GetNamespace(), ref.Name}
}

// kindOf is a managed resource's kind.
func kindOf(o managed.Object) string {
	gvk, err := apiutil.GVKForObject(o, scheme)
	if err != nil {
		return "Unknown"
	}
	return gvk.Kind
}

// scheme knows the plugin's kinds.
var scheme = Scheme()

// Summarize builds the report: every account given, plus any account the objects refer to.
func Summarize(in StatusInput) StatusReport {
	byKey := map[accountKey]*AccountReport{}
	report := func(k accountKey) *AccountReport {
		if r, ok := byKey[k]; ok {
			return r
		}
		r := &AccountReport{Kind: k.kind, Namespace: k.namespace, Name: k.name}
		for _, kind := range controller.ManagedKinds() {
			r.Kinds = append(r.Kinds, KindCount{Kind: kind, Ready: map[string]int{}, Synced: map[string]int{}})
		}
		byKey[k] = r
		return r
	}
	for _, a := range in.Accounts {
		r := report(accountKey{string(v1alpha1.AccountKindAccount), a.Namespace, a.Name})
		fillAccount(r, &a, a.Spec.URL, &a.Status)
	}
	for _, a := range in.ClusterAccounts {
		r := report(accountKey{string(v1alpha1.AccountKindClusterAccount), "", a.Name})
		fillAccount(r, &a, a.Spec.URL, &a.Status)
	}
	for _, o := range in.Objects {
		r := report(accountOfObject(o))
		kind := kindOf(o)
		i := slices.IndexFunc(r.Kinds, func(k KindCount) bool { return k.Kind == kind })
		if i < 0 {
			continue
		}
		kc := &r.Kinds[i]
		kc.Total++
		conds := o.GetManagedStatus().Conditions
		_, readyReason := controller.Readiness(conds)
		synced := meta.FindStatusCondition(conds, v1alpha1.ConditionSynced)
		kc.Ready[readyReason]++
		kc.Synced[reasonOf(synced)]++
		if synced == nil || synced.Status == metav1.ConditionTrue {
			continue
		}
		issue := Issue{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName(), Reason: synced.Reason, Message: synced.Message, Since: synced.LastTransitionTime.Time}
		switch {
		case synced.Reason == v1alpha1.ReasonDrifted || synced.Reason == v1alpha1.ReasonUpdating:
			r.Drifted = append(r.Drifted, issue)
		case errorReasons[synced.Reason]:
			r.Errors = append(r.Errors, issue)
		}
	}
	limit := cmp.Or(in.MaxErrors, 10)
	var out StatusReport
	for _, r := range byKey {
		slices.SortFunc(r.Drifted, compareIssues)
		slices.SortFunc(r.Errors, func(a, b Issue) int {
			return cmp.Or(b.Since.Compare(a.Since), compareIssues(a, b))
		})
		r.ErrorsTotal = len(r.Errors)
		if len(r.Errors) > limit {
			r.Errors = r.Errors[:limit]
		}
		if r.Drifted == nil {
			r.Drifted = []Issue{}
		}
		if r.Errors == nil {
			r.Errors = []Issue{}
		}
		out.Accounts = append(out.Accounts, *r)
	}
	slices.SortFunc(out.Accounts, func(a, b AccountReport) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func compareIssues(a, b Issue) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
}

func reasonOf(c *metav1.Condition) string {
	if c == nil || c.Reason == "" {
		return "Unknown"
	}
	return c.Reason
}

func fillAccount(r *AccountReport, a client.Object, url string, st *v1alpha1.AccountStatus) {
	r.Found, r.URL = true, url
	r.Shard = cmp.Or(controller.ShardOf(a), "default")
	status, reason := controller.Readiness(st.Conditions)
	r.Ready, r.ReadyReason = string(status), reason
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c != nil {
		r.ReadyMessage = c.Message
	}
	if st.Realm != "" {
		r.Realm = fmt.Sprintf("%s %d", st.Realm, st.RealmID)
	}
	r.Prefix = st.ClientPrefix
	if b := st.RequestBudget; b.Remaining != nil && b.ResetTime != nil && b.ObservedTime != nil {
		r.Budget = &Budget{Limit: b.Limit, Remaining: *b.Remaining, Reset: b.ResetTime.UTC(), Observed: b.ObservedTime.UTC()}
	}
}

// counts renders reason counts sorted by reason: Available=20 Creating=1.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// WriteText renders the report for a terminal.
func (s StatusReport) WriteText(w io.Writer) error {
	if len(s.Accounts) == 0 {
		_, err := fmt.Fprintln(w, "No accounts and no managed objects found.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, a := range s.Accounts {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		name := a.Name
		if a.Namespace != "" {
			name = a.Namespace + "/" + a.Name
		}
		if !a.Found {
			fmt.Fprintf(tw, "%s %s: not found (the objects below refer to it)\n", a.Kind, name)
		} else {
			fmt.Fprintf(tw, "%s %s  %s  Ready=%s (%s)  shard %s", a.Kind, name, a.URL, a.Ready, a.ReadyReason, a.Shard)
			if a.Realm != "" {
				fmt.Fprintf(tw, "  realm %s", a.Realm)
			}
			if a.Prefix != "" {
				fmt.Fprintf(tw, "  prefix %s", a.Prefix)
			}
			fmt.Fprintln(tw)
			if a.Ready != string(metav1.ConditionTrue) && a.ReadyMessage != "" {
				fmt.Fprintf(tw, "  %s\n", a.ReadyMessage)
			}
			if b := a.Budget; b != nil {
				// As recorded in the status, on bands; pbx_account_request_budget_remaining is live.
				fmt.Fprintf(tw, "  Request budget: %d of %d left until %s (as of %s)\n", b.Remaining, b.Limit,
					b.Reset.Format(time.RFC3339), b.Observed.Format(time.RFC3339))
			}
		}
		fmt.Fprintln(tw, "  KIND\tTOTAL\tREADY\tSYNCED")
		for _, k := range a.Kinds {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", k.Kind, k.Total, counts(k.Ready), counts(k.Synced))
		}
		if len(a.Drifted) > 0 {
			fmt.Fprintf(tw, "  Drifted (%d):\n", len(a.Drifted))
			for _, d := range a.Drifted {
				fmt.Fprintf(tw, "    %s %s/%s\t%s\t%s\n", d.Kind, d.Namespace, d.Name, d.Reason, d.Message)
			}
		}
		if a.ErrorsTotal > 0 {
			fmt.Fprintf(tw, "  Last errors (%d of %d):\n", len(a.Errors), a.ErrorsTotal)
			for _, e := range a.Errors {
				fmt.Fprintf(tw, "    %s\t%s %s/%s\t%s\t%s\n", e.Since.UTC().Format(time.RFC3339), e.Kind, e.Namespace, e.Name, e.Reason, e.Message)
			}
		}
	}
	return tw.Flush()
}

// WriteJSON renders the report for scripts.
func (s StatusReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// ReadStatus lists the accounts and managed objects of a namespace (all namespaces when empty)
// and summarizes them. ClusterAccounts are listed when the cluster allows it; a user who may
// not list them still sees the ones the objects refer to, as not found.
func ReadStatus(ctx context.Context, c client.Reader, namespace string, maxErrors int) (StatusReport, error) {
	in := StatusInput{MaxErrors: maxErrors}
	var al v1alpha1.AccountList
	if err := c.List(ctx, &al, client.InNamespace(namespace)); err != nil {
		return StatusReport{}, fmt.Errorf("listing the Accounts: %w", err)
	}
	in.Accounts = al.Items
	objs, err := listManaged(ctx, c, namespace)
	if err != nil {
		return StatusReport{}, err
	}
	in.Objects = objs
	var cl v1alpha1.ClusterAccountList
	if err := c.List(ctx, &cl); err == nil {
		in.ClusterAccounts = cl.Items
	}
	if namespace != "" {
		// Show only the ClusterAccounts this namespace uses.
		used := map[string]bool{}
		for _, o := range in.Objects {
			if ref := o.GetManagedSpec().AccountRef; ref.Kind == v1alpha1.AccountKindClusterAccount {
				used[ref.Name] = true
			}
		}
		in.ClusterAccounts = slices.DeleteFunc(in.ClusterAccounts, func(a v1alpha1.ClusterAccount) bool { return !used[a.Name] })
	}
	return Summarize(in), nil
}

// listManaged lists the managed resources of every managed kind in a namespace (all when empty).
func listManaged(ctx context.Context, c client.Reader, namespace string) ([]managed.Object, error) {
	var out []managed.Object
	for _, kind := range controller.ManagedKinds() {
		obj, err := scheme.New(v1alpha1.GroupVersion.WithKind(kind + "List"))
		if err != nil {
			return nil, err
		}
		list := obj.(client.ObjectList)
		if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return nil, fmt.Errorf("listing the %ss: %w", kind, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if m, ok := it.(managed.Object); ok {
				out = append(out, m)
			}
		}
	}
	return out, nil
}
