package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

func TestParseShard(t *testing.T) {
	type want struct {
		sharded   bool
		selector  string
		lease     string
		userAgent string
		err       bool
	}
	cases := map[string]struct {
		reason         string
		name, selector string
		want           want
	}{
		"Unsharded": {
			reason: "Without flags the manager reconciles everything, with the Lease it always had.",
			want:   want{lease: "pbx-operator.cloudpbx.dev", userAgent: "pbx-operator/v1"},
		},
		"NamedShard": {
			reason: "A name alone selects its label, and names the Lease and the User-Agent.",
			name:   "a",
			want: want{sharded: true, selector: "pbx.cloudpbx.dev/shard=a", lease: "pbx-operator-a.cloudpbx.dev",
				userAgent: "pbx-operator/v1 shard/a"},
		},
		"DefaultShard": {
			reason:   "The default shard selects the objects without the label and keeps the unsharded Lease.",
			selector: "!pbx.cloudpbx.dev/shard",
			want:     want{sharded: true, selector: "!pbx.cloudpbx.dev/shard", lease: "pbx-operator.cloudpbx.dev", userAgent: "pbx-operator/v1"},
		},
		"SelectorMissesOwnShard": {
			reason:   "A selector that does not select the shard's own label would leave its accounts to nobody.",
			name:     "a",
			selector: "pbx.cloudpbx.dev/shard=b",
			want:     want{err: true},
		},
		"DefaultSelectorMissesUnlabelled": {
			reason:   "The default shard must select the objects without the label.",
			selector: "pbx.cloudpbx.dev/shard",
			want:     want{err: true},
		},
		"BadName": {
			reason: "The name goes into a Lease name and a label value: a DNS label.",
			name:   "A_b",
			want:   want{err: true},
		},
		"BadSelector": {
			reason:   "A selector that does not parse is refused.",
			selector: "pbx.cloudpbx.dev/shard=(",
			want:     want{err: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := ParseShard(tc.name, tc.selector)
			if (err != nil) != tc.want.err {
				t.Fatalf("%s\nParseShard(%q, %q): want error %t, got %v", tc.reason, tc.name, tc.selector, tc.want.err, err)
			}
			if err != nil {
				return
			}
			got := want{sharded: s.Sharded(), lease: s.LeaseName(), userAgent: s.UserAgent("v1")}
			if s.Selector != nil {
				got.selector = s.Selector.String()
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s\nParseShard(%q, %q) (-want +got):\n%s", tc.reason, tc.name, tc.selector, diff)
			}
		})
	}
}

func TestPlacementCheck(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	acct := func(name string, lbl map[string]string) *v1alpha1.Account {
		return &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Labels: lbl}}
	}
	onB := acct("on-b", map[string]string{v1alpha1.LabelShard: "b"})
	onDefault := acct("on-default", nil)
	onA := acct("on-a", map[string]string{v1alpha1.LabelShard: "a"})
	key := func(name string) account.Key {
		return account.Key{Kind: v1alpha1.AccountKindAccount, Namespace: "team", Name: name}
	}
	boom := errors.New("the API server is away")

	type want struct {
		invalid  bool
		contains []string
		err      error
	}
	cases := map[string]struct {
		reason string
		shard  string
		cached []client.Object
		live   []client.Object
		getErr error
		key    account.Key
		want   want
	}{
		"InCache": {
			reason: "An account in the shard's cache is the shard's: no uncached read.",
			shard:  "a", cached: []client.Object{onA}, getErr: boom, key: key("on-a"),
		},
		"Missing": {
			reason: "An account that does not exist is the usual missing account, not a shard problem.",
			shard:  "a", key: key("nothing"),
		},
		"CacheBehind": {
			reason: "An account of this shard that the cache does not hold yet is waited for.",
			shard:  "a", live: []client.Object{onA}, key: key("on-a"),
		},
		"OnAnotherShard": {
			reason: "An account on another shard names that shard and the label to set.",
			shard:  "a", live: []client.Object{onB}, key: key("on-b"),
			want: want{invalid: true, contains: []string{"Account team/on-b is on shard b", "not on shard a",
				"set the label pbx.cloudpbx.dev/shard: b on this resource"}},
		},
		"OnTheDefaultShard": {
			reason: "An account without the label is on the default shard: the label must go.",
			shard:  "a", live: []client.Object{onDefault}, key: key("on-default"),
			want: want{invalid: true, contains: []string{"is on the default shard", "remove the label pbx.cloudpbx.dev/shard from this resource"}},
		},
		"FromTheDefaultShard": {
			reason: "The default shard names the account's shard too.",
			live:   []client.Object{onB}, key: key("on-b"),
			want: want{invalid: true, contains: []string{"is on shard b", "not on the default shard"}},
		},
		"ReadFails": {
			reason: "A failed read is retried, not reported as a shard problem.",
			shard:  "a", getErr: boom, key: key("on-b"),
			want: want{err: boom},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			selector := "!" + v1alpha1.LabelShard
			if tc.shard != "" {
				selector = ""
			}
			shard, err := ParseShard(tc.shard, selector)
			if err != nil {
				t.Fatal(err)
			}
			cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.cached...).Build()
			live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.live...).WithInterceptorFuncs(interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
					if tc.getErr != nil {
						return tc.getErr
					}
					return c.Get(ctx, k, o, opts...)
				},
			}).Build()
			err = newPlacement(shard, live).check(context.Background(), cache, tc.key)
			switch {
			case tc.want.err != nil:
				if !errors.Is(err, tc.want.err) {
					t.Errorf("%s\nwant %v, got %v", tc.reason, tc.want.err, err)
				}
			case tc.want.invalid:
				c := managed.Classify(err)
				if err == nil || c.Reason != v1alpha1.ReasonInvalidSpec || !c.Terminal {
					t.Fatalf("%s\nwant a terminal InvalidSpec, got %v (%+v)", tc.reason, err, c)
				}
				for _, s := range tc.want.contains {
					if !strings.Contains(c.Message, s) {
						t.Errorf("%s\nthe message %q does not say %q", tc.reason, c.Message, s)
					}
				}
			case err != nil:
				t.Errorf("%s\nwant no error, got %v", tc.reason, err)
			}
		})
	}
}

func TestPlacementReadsOncePerTTL(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	onB := &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "pbx", Labels: map[string]string{v1alpha1.LabelShard: "b"}}}
	reads := 0
	live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(onB).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
			reads++
			return c.Get(ctx, k, o, opts...)
		},
	}).Build()
	cache := fake.NewClientBuilder().WithScheme(scheme).Build()
	shard, err := ParseShard("a", "")
	if err != nil {
		t.Fatal(err)
	}
	p := newPlacement(shard, live)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	k := account.Key{Kind: v1alpha1.AccountKindAccount, Namespace: "team", Name: "pbx"}
	for range 100 {
		if err := p.check(context.Background(), cache, k); err == nil {
			t.Fatal("want the account on shard b reported")
		}
	}
	if reads != 1 {
		t.Errorf("100 resources of one account on another shard: want 1 uncached read, got %d", reads)
	}
	now = now.Add(placementTTL)
	if err := p.check(context.Background(), cache, k); err == nil {
		t.Fatal("want the account on shard b reported")
	}
	if reads != 2 {
		t.Errorf("after the TTL: want a second read, got %d reads", reads)
	}
}
