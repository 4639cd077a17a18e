package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

// A Shard is the part of the accounts, and of the resources that use them, that one manager
// reconciles: those its label selector selects on the label pbx.cloudpbx.dev/shard
// (v1alpha1.LabelShard). The zero Shard is an unsharded manager, which reconciles everything.
type Shard struct {
	// Name is the shard's name, the value of the label on its objects; empty for the default
	// shard, whose objects carry no label.
	Name string
	// Selector selects the shard's objects (--watch-label-selector); nil when the manager is not
	// sharded.
	Selector labels.Selector
}

// ParseShard makes the Shard of the flags --shard and --watch-label-selector. A name alone selects
// the objects labelled with it; a selector alone is the default shard's (!pbx.cloudpbx.dev/shard)
// or a shard reconciling by another label. A selector that would not select the shard's own
// objects is refused.
func ParseShard(name, selector string) (Shard, error) {
	if name != "" {
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			return Shard{}, fmt.Errorf("--shard %q: %s", name, strings.Join(errs, "; "))
		}
		if selector == "" {
			selector = v1alpha1.LabelShard + "=" + name
		}
	}
	if selector == "" {
		return Shard{}, nil
	}
	sel, err := labels.Parse(selector)
	if err != nil {
		return Shard{}, fmt.Errorf("--watch-label-selector %q: %w", selector, err)
	}
	if sel.Empty() {
		return Shard{}, fmt.Errorf("--watch-label-selector %q selects everything: leave it unset for an unsharded manager", selector)
	}
	own := labels.Set{}
	if name != "" {
		own[v1alpha1.LabelShard] = name
	}
	if !sel.Matches(own) {
		return Shard{}, fmt.Errorf("--watch-label-selector %q does not select the objects of shard %s (%s): an account on this shard would never be reconciled",
			selector, ShardName(name), labelAdvice(name))
	}
	return Shard{Name: name, Selector: sel}, nil
}

// Sharded tells whether the manager reconciles only a part of the objects.
func (s Shard) Sharded() bool { return s.Selector != nil }

// LeaseName is the name of the shard's leader election Lease: every shard elects its own leader.
// The default shard keeps the Lease of an unsharded manager, so that turning sharding on does not
// make two leaders of the default shard during the rollout.
func (s Shard) LeaseName() string {
	if s.Name == "" {
		return "pbx-operator.cloudpbx.dev"
	}
	return "pbx-operator-" + s.Name + ".cloudpbx.dev"
}

// UserAgent is the User-Agent of the shard's PBX requests: pbx-operator/VERSION, and the shard's
// name when it has one (pbx-operator/v0.3.0 shard/a), so that the PBX's logs tell the shards apart.
func (s Shard) UserAgent(version string) string {
	ua := "pbx-operator/" + version
	if s.Name != "" {
		ua += " shard/" + s.Name
	}
	return ua
}

// String names the shard in logs: its name, or "default".
func (s Shard) String() string {
	if s.Name == "" {
		return "default"
	}
	return s.Name
}

// ShardName names the shard of a label value in messages: shard a, or the default shard.
func ShardName(label string) string {
	if label == "" {
		return "the default shard"
	}
	return "shard " + label
}

// ShardOf is the shard an object is on: the value of its shard label, "" for the default shard.
func ShardOf(o client.Object) string { return o.GetLabels()[v1alpha1.LabelShard] }

// labelAdvice says how an object gets onto the shard of a label value.
func labelAdvice(label string) string {
	if label == "" {
		return "no label " + v1alpha1.LabelShard
	}
	return "the label " + v1alpha1.LabelShard + ": " + label
}

// labelFix says what to do to a resource to put it on the shard of a label value.
func labelFix(label string) string {
	if label == "" {
		return "remove the label " + v1alpha1.LabelShard + " from this resource"
	}
	return "set the label " + v1alpha1.LabelShard + ": " + label + " on this resource"
}

// placementTTL is how long the answer of one uncached read of an account outside the shard's
// cache is reused: the resources of an account on another shard (a thousand, after a restart)
// cost one read a while, not one each.
const placementTTL = 30 * time.Second

// placement tells a resource whose account is not in the shard's cache whether the account is
// missing or on another shard. Only the API server can tell: one uncached read, whose answer is
// kept for placementTTL.
type placement struct {
	shard  Shard
	reader client.Reader
	now    func() time.Time

	mu   sync.Mutex
	seen map[account.Key]placed
}

// placed is what a read found of an account: the shard label it carries, or that it does not
// exist (or belongs to this shard, and the cache has not caught up).
type placed struct {
	at      time.Time
	foreign bool
	label   string
}

func newPlacement(shard Shard, reader client.Reader) *placement {
	return &placement{shard: shard, reader: reader, now: time.Now, seen: map[account.Key]placed{}}
}

// check returns nil when the account of a resource is in the shard's cache (read through c), or
// is missing, or is this shard's and the cache has not caught up yet; and an InvalidSpec that
// names the account's shard and the label to set when it is on another shard: the resource and
// its account must be on one shard, and only a person can move one of them. The error is terminal:
// the resource comes back when its labels change (and it leaves this shard), or when the account
// moves to this shard (the cache gains it, and its users are woken).
func (p *placement) check(ctx context.Context, c client.Reader, k account.Key) error {
	if p == nil {
		return nil
	}
	key := client.ObjectKey{Namespace: k.Namespace, Name: k.Name}
	obj := accountFor(k)
	err := c.Get(ctx, key, obj)
	if err == nil || !apierrors.IsNotFound(err) {
		return client.IgnoreNotFound(err)
	}
	pl, err := p.lookup(ctx, k)
	if err != nil || !pl.foreign {
		return err
	}
	return managed.InvalidSpec("%s is on %s (%s), not on %s, which this resource is on: an account and the resources that use it must be on one shard; %s (docs/scaling.md)",
		k, ShardName(pl.label), labelAdvice(pl.label), ShardName(p.shard.Name), labelFix(pl.label))
}

// lookup reads an account from the API server, or reuses a recent read.
func (p *placement) lookup(ctx context.Context, k account.Key) (placed, error) {
	now := p.now()
	p.mu.Lock()
	pl, ok := p.seen[k]
	p.mu.Unlock()
	if ok && now.Sub(pl.at) < placementTTL {
		return pl, nil
	}
	obj := accountFor(k)
	if err := p.reader.Get(ctx, client.ObjectKey{Namespace: k.Namespace, Name: k.Name}, obj); err != nil {
		if !apierrors.IsNotFound(err) {
			return placed{}, err
		}
		pl = placed{at: now}
	} else {
		pl = placed{at: now, foreign: !p.shard.Selector.Matches(labels.Set(obj.GetLabels())), label: ShardOf(obj)}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Old answers go, so the memory stays bounded by the accounts looked up within the TTL.
	for key, old := range p.seen {
		if now.Sub(old.at) >= placementTTL {
			delete(p.seen, key)
		}
	}
	p.seen[k] = pl
	return pl, nil
}

// accountFor returns an empty Account or ClusterAccount, as k names.
func accountFor(k account.Key) client.Object {
	if k.Kind == v1alpha1.AccountKindClusterAccount {
		return &v1alpha1.ClusterAccount{}
	}
	return &v1alpha1.Account{}
}
