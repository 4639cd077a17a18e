package account

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// listPageSize is the page size of the snapshot lists: the PBX's largest, so a refresh of N
// objects costs N/500 calls.
const listPageSize = 500

// Credentials are the OAuth2 app's id and secret, from the account's Secret, and the CA bundle
// the PBX's certificate is verified with (on top of the system's roots), if any.
type Credentials struct {
	ClientID     string
	ClientSecret string
	CABundle     []byte
}

// InvalidError says that an account's settings cannot work as written (its URL, its CA bundle,
// or the PBX user its credentials act for); retrying does not help until they change.
type InvalidError struct{ msg string }

func (e *InvalidError) Error() string { return e.msg }

func invalid(format string, args ...any) error {
	return &InvalidError{msg: fmt.Sprintf(format, args...)}
}

// checkTimeout bounds one account check, its waits for its turns included.
const checkTimeout = 30 * time.Second

// Connect checks an account against the PBX (who the app acts for, the client's extension naming,
// and its limit on event subscriptions) and installs its connection. The connection, with its token cache and request budget,
// is reused while the URL, credentials and budget settings stay the same; a change builds a new
// one, so a rotated Secret takes effect at once. reg, when set, receives the client's request
// metrics, labelled with the account.
func (r *Registry) Connect(ctx context.Context, k Key, spec v1alpha1.ConnectionSpec, cred Credentials, reg prometheus.Registerer) (*Connection, error) {
	// The check is several requests that must all go (a check cut apart would start over and never
	// end under a slow pace), and it holds no worker: the account controllers run it beside theirs.
	// Its deadline bounds it (a request that cannot finish in time is not sent).
	ctx, cancel := context.WithTimeout(pbx.Patient(ctx), checkTimeout)
	defer cancel()
	fp := Fingerprint(spec, cred)
	old := r.current(k, fp)
	client := (*pbx.Client)(nil)
	if old != nil {
		client = old.Client
	} else {
		var err error
		if client, err = r.newClient(k, spec, cred, reg); err != nil {
			r.Remove(k)
			return nil, invalid("%v", err)
		}
	}
	// A failure keeps the last good connection unless it says the connection cannot work any more:
	// the PBX refused the credentials, or they (or the URL) changed. One 5xx on /user/ must not stop
	// every resource of the account.
	drop := func(err error) error {
		if old == nil || pbx.IsUnauthorized(err) || pbx.IsForbidden(err) {
			r.Remove(k)
		}
		return err
	}
	me, err := client.Users.Me(ctx)
	if err != nil {
		return nil, drop(err)
	}
	realm, ok := me.Realm()
	if !ok {
		r.Remove(k)
		return nil, invalid("The PBX user %s is not a client, extension group or extension user", me.Login)
	}
	realmID, err := strconv.ParseInt(realm.ID, 10, 64)
	if err != nil {
		r.Remove(k)
		return nil, invalid("The PBX user %s has the realm id %q, which is not a number", me.Login, realm.ID)
	}
	conn := &Connection{Client: client, Realm: realm, RealmID: realmID, Login: me.Login, fingerprint: fp,
		pollInterval: pollInterval(spec, r.settings)}
	if realm.Kind == pbx.RealmClient {
		info, err := client.ClientInfo.Get(ctx, realm)
		if err != nil {
			return nil, drop(err)
		}
		conn.Prefix, conn.ExtensionLen = info.Prefix, int(info.ExtensionLen)
		conn.Limits = limits(ctx, client, realm)
	}
	if old != nil && old.Realm == realm {
		conn.parts = old.parts
	} else {
		r.makeParts(conn)
	}
	r.Set(k, conn)
	return conn, nil
}

func (r *Registry) newClient(k Key, spec v1alpha1.ConnectionSpec, cred Credentials, reg prometheus.Registerer) (*pbx.Client, error) {
	s := r.settings
	rps, burst, reserve := s.RequestsPerSecond, s.Burst, s.WriteReservePercent
	if spec.RequestsPerSecond > 0 {
		rps = float64(spec.RequestsPerSecond)
	}
	if spec.Burst > 0 {
		burst = int(spec.Burst)
	}
	if spec.WriteReservePercent != nil {
		reserve = int(*spec.WriteReservePercent)
	}
	opts := []pbx.Option{
		pbx.WithCredentials(cred.ClientID, cred.ClientSecret),
		pbx.WithWriteReserve(reserve),
		pbx.WithPageSize(listPageSize),
		pbx.WithUserAgent(cmp.Or(s.UserAgent, pbx.DefaultUserAgent)),
	}
	if len(cred.CABundle) > 0 {
		opts = append(opts, pbx.WithCABundle(cred.CABundle))
	}
	if rps > 0 {
		// A fixed pace, from the flags or the account; otherwise the client paces by the budget the
		// PBX announces.
		opts = append(opts, pbx.WithRateLimit(rps, burst))
	}
	if s.MaxInFlight > 0 {
		opts = append(opts, pbx.WithMaxInFlight(s.MaxInFlight))
	}
	if s.MaxAnswerBytes > 0 {
		opts = append(opts, pbx.WithMaxAnswerBytes(s.MaxAnswerBytes))
	}
	if reg != nil {
		opts = append(opts, pbx.WithMetrics(r.metricsFor(k, reg)))
	}
	return pbx.New(spec.URL, opts...)
}

// pollInterval is the account's poll interval: its own, or the manager's default.
func pollInterval(spec v1alpha1.ConnectionSpec, s Settings) time.Duration {
	if spec.PollIntervalSeconds > 0 {
		return time.Duration(spec.PollIntervalSeconds) * time.Second
	}
	return s.PollInterval
}

// Limits are a PBX client's limits on its numbers of objects. They are informational (the PBX
// enforces them), so an account works without them: a nil Limit is one the PBX did not report.
type Limits struct {
	Extensions, ExtensionGroups, EventSubscriptions *Limit
}

// Limit is one of a PBX client's limits on its numbers of objects.
type Limit struct {
	// Max is the most objects the client may have.
	Max int
	// Used is how many it has; nil when the PBX does not say.
	Used *int
}

// limits reads the client's limits; none when the call fails. Reading them also bounds the
// client's lists by them (pbx.ClientInfoService.Limits).
// ASSUMPTION: the field names of /limit/ are the simulator's (UPSTREAM-API 5.5).
func limits(ctx context.Context, c *pbx.Client, realm pbx.Realm) Limits {
	l, err := c.ClientInfo.Limits(ctx, realm)
	if err != nil {
		return Limits{}
	}
	return Limits{
		Extensions:         limit(l, l.ExtensionLimit, "extension_count", l.ExtensionCount),
		ExtensionGroups:    limit(l, l.ExtensionGroupLimit, "extension_group_count", l.ExtensionGroupCount),
		EventSubscriptions: limit(l, l.EventLimit, "event_count", l.EventCount),
	}
}

// limit is one limit of an answer: nil when the PBX reports none, its use only when the answer
// carries the count field.
func limit(l *pbx.Limits, most int, countField string, count int) *Limit {
	if most <= 0 {
		return nil
	}
	out := &Limit{Max: most}
	if _, reported := l.Raw[countField]; reported {
		out.Used = &count
	}
	return out
}

// PollInterval is how often the account's snapshots are refreshed and its managed resources
// checked: the account's own poll interval, or the manager's default.
func (c *Connection) PollInterval() time.Duration { return c.pollInterval }

// makeParts makes the parts the managed kinds registered for a new connection.
func (r *Registry) makeParts(conn *Connection) {
	r.mu.RLock()
	builds := r.parts
	r.mu.RUnlock()
	conn.parts = make([]any, len(builds))
	for i, build := range builds {
		conn.parts[i] = build(conn)
	}
}
