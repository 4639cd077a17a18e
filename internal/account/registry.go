package account

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// Key names an Account (with its namespace) or a ClusterAccount.
type Key struct {
	Kind      v1alpha1.AccountKind
	Namespace string
	Name      string
}

// KeyFor is the account a managed resource in namespace refers to: an Account in the same
// namespace, or a ClusterAccount.
func KeyFor(ref v1alpha1.AccountReference, namespace string) Key {
	if ref.Kind == v1alpha1.AccountKindClusterAccount {
		return Key{Kind: ref.Kind, Name: ref.Name}
	}
	return Key{Kind: v1alpha1.AccountKindAccount, Namespace: namespace, Name: ref.Name}
}

// String is the account as users write it: Account ns/name or ClusterAccount name.
func (k Key) String() string {
	if k.Namespace == "" {
		return string(k.Kind) + " " + k.Name
	}
	return string(k.Kind) + " " + k.Namespace + "/" + k.Name
}

// Labels are the account's labels on its metrics (telemetry.AccountLabels): its kind, namespace
// ("" for a ClusterAccount) and name.
func (k Key) Labels() prometheus.Labels {
	return prometheus.Labels{"kind": string(k.Kind), "namespace": k.Namespace, "name": k.Name}
}

// Connection is a working connection to one PBX account.
type Connection struct {
	// Client is the account's PBX client.
	Client *pbx.Client
	// Realm is the realm of the account's user, with its numeric id.
	Realm pbx.Realm
	// RealmID is the id of the user's client, group or extension.
	RealmID int64
	// Prefix and ExtensionLen describe the client's extension names; empty and 0 when the user
	// cannot read its client.
	Prefix       string
	ExtensionLen int
	// Login is the PBX user the account acts for.
	Login string
	// Limits are the client's limits on its numbers of objects, as the PBX reported them when the
	// account was last checked.
	Limits Limits

	fingerprint  string
	pollInterval time.Duration
	// parts holds the per-connection state of the managed kinds (their snapshots), by Part.
	parts []any
}

// Settings are the manager-wide defaults of the accounts' request budgets and poll interval.
type Settings struct {
	// RequestsPerSecond is a fixed pace; 0 paces by the budget the PBX announces.
	RequestsPerSecond float64
	Burst             int
	// MaxInFlight bounds the requests of an account under way at once; 0 means the client's default.
	MaxInFlight         int
	WriteReservePercent int
	PollInterval        time.Duration
	// MaxAnswerBytes bounds what is read of one PBX answer, after decompression (a tenant's
	// account may point at a hostile server); 0 means pbx.DefaultMaxAnswerBytes.
	MaxAnswerBytes int64
	// UserAgent is the User-Agent of the PBX requests (the manager's version and shard); empty
	// means pbx.DefaultUserAgent.
	UserAgent string
}

// Registry holds the connections of all accounts.
type Registry struct {
	settings Settings

	mu    sync.RWMutex
	conns map[Key]*Connection
	// metrics holds, per account, the collectors its clients registered, to unregister them when
	// the account goes.
	metrics map[Key]*accountMetrics
	// parts make the per-connection state the managed kinds registered, in Part order.
	parts []func(*Connection) any
}

// NewRegistry returns an empty Registry.
func NewRegistry(s Settings) *Registry {
	return &Registry{settings: s, conns: map[Key]*Connection{}, metrics: map[Key]*accountMetrics{}}
}

// Connection returns the working connection of an account, if it has one.
func (r *Registry) Connection(k Key) (*Connection, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.conns[k]
	return c, ok
}

// A Part is per-connection state of one managed kind, typically the snapshot of its PBX objects:
// made for each new connection, and kept while the account is checked again with unchanged
// settings. The kinds register their parts; the registry knows none of them.
type Part[T any] struct{ index int }

// AddPart registers a part made by build for every connection. Parts are registered while the
// controllers are set up, before any account connects.
func AddPart[T any](r *Registry, build func(*Connection) T) Part[T] {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.parts = append(r.parts, func(c *Connection) any { return build(c) })
	return Part[T]{index: len(r.parts) - 1}
}

// Of returns the part of a connection.
func (p Part[T]) Of(c *Connection) T { return c.parts[p.index].(T) }

// Fingerprint identifies what a connection was built from: the URL, the credentials, the CA
// bundle and the budget settings. A connection is rebuilt only when it changes.
func Fingerprint(spec v1alpha1.ConnectionSpec, cred Credentials) string {
	h := sha256.New()
	reserve := "-"
	if spec.WriteReservePercent != nil {
		reserve = strconv.Itoa(int(*spec.WriteReservePercent))
	}
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d\x00%s\x00%d\x00", spec.URL, cred.ClientID, cred.ClientSecret,
		spec.RequestsPerSecond, spec.Burst, reserve, spec.PollIntervalSeconds)
	h.Write(cred.CABundle)
	return hex.EncodeToString(h.Sum(nil))
}

// current returns the connection of k if it was built from fingerprint.
func (r *Registry) current(k Key, fingerprint string) *Connection {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if c, ok := r.conns[k]; ok && c.fingerprint == fingerprint {
		return c
	}
	return nil
}

// Set installs a working connection.
func (r *Registry) Set(k Key, c *Connection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns[k] = c
}

// Remove drops the connection of an account that stopped working.
func (r *Registry) Remove(k Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, k)
}

// Forget drops everything of an account that was deleted: its connection and its metrics.
func (r *Registry) Forget(k Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, k)
	if m, ok := r.metrics[k]; ok {
		m.unregister()
		delete(r.metrics, k)
	}
}

// metricsFor returns the registerer of an account's client metrics: reg, with the account's kind,
// namespace and name as labels (Labels), remembering what is registered so that Forget can take it
// away.
func (r *Registry) metricsFor(k Key, reg prometheus.Registerer) prometheus.Registerer {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.metrics[k]
	if !ok {
		m = &accountMetrics{Registerer: prometheus.WrapRegistererWith(k.Labels(), reg)}
		r.metrics[k] = m
	}
	return m
}

// accountMetrics is a Registerer that remembers the collectors registered through it.
type accountMetrics struct {
	prometheus.Registerer

	mu         sync.Mutex
	collectors []prometheus.Collector
}

// Register registers c and remembers it.
func (m *accountMetrics) Register(c prometheus.Collector) error {
	if err := m.Registerer.Register(c); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.collectors = append(m.collectors, c)
	return nil
}

// MustRegister registers the collectors and remembers them; it panics on an error.
func (m *accountMetrics) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := m.Register(c); err != nil {
			panic(err)
		}
	}
}

// unregister takes away every collector registered through m.
func (m *accountMetrics) unregister() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.collectors {
		m.Unregister(c)
	}
	m.collectors = nil
}
