package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// Source is a PBX account to read: its API base URL and a trusted app's credentials. The secret
// never leaves this struct: it is not printed, logged or put in any error.
type Source struct {
	URL          string
	ClientID     string
	ClientSecret string
	// CABundle is the PEM bundle the PBX's certificate is verified with, on top of the system's
	// roots: the account's caBundleRef.
	CABundle []byte
}

// pageSize is the page of export's and plan's list calls: the PBX's maximum, for the fewest calls.
const pageSize = 500

// conn is a connected PBX account: the client, the realm of its user and the client's prefix.
type conn struct {
	c      *pbx.Client
	url    string
	realm  pbx.Realm
	prefix string
}

// connect opens the account and checks the credentials with /user/, turning the usual failures
// into messages that say what to do.
func connect(ctx context.Context, s Source, userAgent string) (*conn, error) {
	if s.URL == "" {
		return nil, errors.New("no PBX URL: give --account NAME or --url URL")
	}
	if s.ClientID == "" || s.ClientSecret == "" {
		return nil, errors.New("no PBX credentials: give --client-id (or PBX_CLIENT_ID) and the secret in PBX_CLIENT_SECRET")
	}
	opts := []pbx.Option{pbx.WithCredentials(s.ClientID, s.ClientSecret), pbx.WithUserAgent(userAgent), pbx.WithPageSize(pageSize)}
	if len(s.CABundle) > 0 {
		opts = append(opts, pbx.WithCABundle(s.CABundle))
	}
	c, err := pbx.New(s.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("PBX URL %q: %w", s.URL, err)
	}
	cn := &conn{c: c, url: s.URL}
	me, err := c.Users.Me(ctx)
	if err != nil {
		return nil, explain(s, err)
	}
	realm, ok := me.Realm()
	if !ok || realm.Kind != pbx.RealmClient {
		return nil, fmt.Errorf("the app %q acts for the PBX user %s, who is not a client-level user: export and plan need a client-level account", s.ClientID, me.Login)
	}
	cn.realm = realm
	info, err := c.ClientInfo.Get(ctx, realm)
	if err != nil {
		return nil, explain(s, err)
	}
	cn.prefix = info.Prefix
	return cn, nil
}

// explain turns a PBX error into one that says what to do.
func explain(s Source, err error) error {
	var dns *net.DNSError
	var op *net.OpError
	var uerr *url.Error
	switch {
	case pbx.IsUnauthorized(err):
		return fmt.Errorf("the PBX at %s refused the credentials of the app %q (401): check the client ID and secret: %w", s.URL, s.ClientID, err)
	case pbx.IsForbidden(err):
		return fmt.Errorf("the PBX at %s refused the app %q (403): the app or its user may not read the client: %w", s.URL, s.ClientID, err)
	case pbx.IsRateLimited(err):
		return fmt.Errorf("the PBX at %s has no request budget left for this client (429); try again after the reset: %w", s.URL, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the PBX at %s did not answer in time: %w", s.URL, err)
	case errors.As(err, &dns), errors.As(err, &op), errors.As(err, &uerr):
		return fmt.Errorf("cannot reach the PBX at %s (check the URL and the network): %w", s.URL, err)
	}
	return fmt.Errorf("PBX at %s: %w", s.URL, err)
}

// AccountSource reads an Account and its credentials Secret from the cluster.
func AccountSource(ctx context.Context, c client.Reader, namespace, name string) (Source, error) {
	var a v1alpha1.Account
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &a); err != nil {
		if apierrors.IsNotFound(err) {
			return Source{}, fmt.Errorf("the Account %s/%s does not exist (kubectl get pbxaccount -n %s lists the accounts)", namespace, name, namespace)
		}
		return Source{}, fmt.Errorf("reading the Account %s/%s: %w", namespace, name, err)
	}
	return secretSource(ctx, c, &a, namespace, a.Spec.CredentialsSecretRef.Name, "Account "+namespace+"/"+name)
}

// ClusterAccountSource reads a ClusterAccount and its credentials Secret from the cluster.
func ClusterAccountSource(ctx context.Context, c client.Reader, name string) (Source, error) {
	var a v1alpha1.ClusterAccount
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &a); err != nil {
		if apierrors.IsNotFound(err) {
			return Source{}, fmt.Errorf("the ClusterAccount %s does not exist (kubectl get pbxclusteraccount lists them)", name)
		}
		return Source{}, fmt.Errorf("reading the ClusterAccount %s: %w", name, err)
	}
	ns, secret := a.CredentialsSecret()
	return secretSource(ctx, c, &a, ns, secret, "ClusterAccount "+name)
}

// accountObject is an Account or a ClusterAccount, as the plugin reads them.
type accountObject interface {
	GetConnectionSpec() *v1alpha1.ConnectionSpec
	CABundle() *v1alpha1.CABundleReference
}

// secretSource reads an account's credentials as the manager would use them: only from a Secret
// given as account credentials (the label), only towards the PBX its url key names, with the
// account's CA bundle.
func secretSource(ctx context.Context, c client.Reader, a accountObject, namespace, name, owner string) (Source, error) {
	s, err := givenSecret(ctx, c, namespace, name, "credentials Secret", owner)
	if err != nil {
		return Source{}, err
	}
	u := a.GetConnectionSpec().URL
	src := Source{URL: u, ClientID: string(s.Data[account.SecretClientID]), ClientSecret: string(s.Data[account.SecretClientSecret])}
	if src.ClientID == "" || src.ClientSecret == "" {
		return Source{}, fmt.Errorf("the credentials Secret %s/%s of the %s lacks the key clientID or clientSecret", namespace, name, owner)
	}
	if err := account.Destination(namespace+"/"+name, string(s.Data[account.SecretURL]), u); err != nil {
		return Source{}, fmt.Errorf("the %s cannot be used: %w", owner, err)
	}
	if ref := a.CABundle(); ref != nil {
		if src.CABundle, err = caBundle(ctx, c, ref, owner); err != nil {
			return Source{}, err
		}
	}
	return src, nil
}

// givenSecret reads a Secret given to the operator as account credentials: the plugin uses no
// Secret that the manager would not.
func givenSecret(ctx context.Context, c client.Reader, namespace, name, what, owner string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("the %s %s/%s of the %s does not exist", what, namespace, name, owner)
		}
		return nil, fmt.Errorf("reading the %s %s/%s of the %s: %w", what, namespace, name, owner, err)
	}
	if s.Labels[v1alpha1.LabelCredentials] != v1alpha1.LabelCredentialsAccount {
		return nil, fmt.Errorf("the %s %s/%s of the %s is not given as account credentials: label it with kubectl -n %s label secret %s %s=%s",
			what, namespace, name, owner, namespace, name, v1alpha1.LabelCredentials, v1alpha1.LabelCredentialsAccount)
	}
	return &s, nil
}

// caBundle reads the PEM bundle of an account's caBundleRef.
func caBundle(ctx context.Context, c client.Reader, ref *v1alpha1.CABundleReference, owner string) ([]byte, error) {
	var data []byte
	if ref.Kind == v1alpha1.CABundleKindSecret {
		s, err := givenSecret(ctx, c, ref.Namespace, ref.Name, "CA bundle Secret", owner)
		if err != nil {
			return nil, err
		}
		data = s.Data[ref.Key]
	} else {
		var cm corev1.ConfigMap
		if err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &cm); err != nil {
			return nil, fmt.Errorf("reading the CA bundle ConfigMap %s/%s of the %s: %w", ref.Namespace, ref.Name, owner, err)
		}
		data = []byte(cm.Data[ref.Key])
		if len(data) == 0 {
			data = cm.BinaryData[ref.Key]
		}
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("the %s %s/%s of the %s has no key %s with the CA bundle", ref.Kind, ref.Namespace, ref.Name, owner, ref.Key)
	}
	return data, nil
}

// Progress reports progress on long runs; nil reports nothing.
type Progress func(format string, args ...any)

func (p Progress) printf(format string, args ...any) {
	if p != nil {
		p(format, args...)
	}
}

// readTenant lists the account's groups, extensions and DIDs, reporting progress every page.
// Event subscriptions live under each extension and cost a call each: readHooks reads those that
// are wanted.
func readTenant(ctx context.Context, cn *conn, progress Progress) (Tenant, error) {
	var t Tenant
	src := Source{URL: cn.url}
	start := time.Now()
	for g, err := range cn.c.Groups.List(ctx, cn.realm, pbx.GroupFilter{}) {
		if err != nil {
			return Tenant{}, explain(src, err)
		}
		t.Groups = append(t.Groups, g)
	}
	progress.printf("Read %d extension groups", len(t.Groups))
	for x, err := range cn.c.Extensions.List(ctx, cn.realm, pbx.ExtensionFilter{}) {
		if err != nil {
			return Tenant{}, explain(src, err)
		}
		t.Extensions = append(t.Extensions, x)
		if len(t.Extensions)%pageSize == 0 {
			progress.printf("Read %d extensions...", len(t.Extensions))
		}
	}
	for d, err := range cn.c.DIDs.List(ctx, cn.realm, pbx.DIDFilter{}) {
		if err != nil {
			return Tenant{}, explain(src, err)
		}
		t.DIDs = append(t.DIDs, d)
	}
	progress.printf("Read %d extensions, %d groups and %d numbers in %s", len(t.Extensions), len(t.Groups), len(t.DIDs), time.Since(start).Round(time.Millisecond))
	return t, nil
}

// readHooks reads the event subscriptions of the tenant's extensions that want selects, one call
// each, unless the client's limits say it has none.
func readHooks(ctx context.Context, cn *conn, t *Tenant, want func(pbx.Extension) bool, progress Progress) error {
	if l, err := cn.c.ClientInfo.Limits(ctx, cn.realm); err == nil {
		if _, reported := l.Raw["event_count"]; reported && l.EventCount == 0 {
			return nil
		}
	}
	src := Source{URL: cn.url}
	start, n := time.Now(), 0
	t.Events = map[int64][]pbx.Event{}
	for _, x := range t.Extensions {
		if !want(x) {
			continue
		}
		events, err := cn.c.Events.ListAll(ctx, pbx.ExtensionRealm(x.ID), pbx.EventFilter{})
		if err != nil {
			return explain(src, err)
		}
		if len(events) > 0 {
			t.Events[x.ID] = events
		}
		if n++; n%100 == 0 {
			progress.printf("Read the subscriptions of %d extensions...", n)
		}
	}
	progress.printf("Read the subscriptions of %d extensions in %s", n, time.Since(start).Round(time.Millisecond))
	return nil
}
