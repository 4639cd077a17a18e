package controller

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// accountObject is an Account or a ClusterAccount.
type accountObject interface {
	client.Object
	GetConnectionSpec() *v1alpha1.ConnectionSpec
	GetAccountStatus() *v1alpha1.AccountStatus
	CredentialsSecret() (namespace, name string)
	CABundle() *v1alpha1.CABundleReference
}

// requeueInUse is how often a deleted account that is still in use checks its users again (their
// deletion also triggers a check).
const requeueInUse = 30 * time.Second

// accountReconciler connects an Account or ClusterAccount to the PBX and keeps its connection in
// the registry.
type accountReconciler[O accountObject] struct {
	client client.Client
	// apiReader reads what the cache does not hold: a ConfigMap with a CA bundle, and the metadata
	// of a Secret that is not opted in.
	apiReader client.Reader
	registry  *account.Registry
	metrics   prometheus.Registerer
	// engine, when set, holds the engines' action counters, whose series of a deleted account go
	// with it.
	engine   *managed.Metrics
	recorder events.EventRecorder
	// trusted are the namespaces whose Secrets and ConfigMaps ClusterAccounts may use.
	trusted []string
	// kinds are the managed kinds whose resources may use an account.
	kinds []kind
	// checks runs the checks against the PBX, which hold no worker.
	checks *accountChecks
	// shard is the part of the accounts and resources this manager reconciles.
	shard Shard
}

// accountRequests reconciles the requests of one account kind: the account's pass, or, when the
// account is not in the cache, the release of what this manager holds of it.
type accountRequests[O accountObject] struct{ r *accountReconciler[O] }

// Reconcile fetches the account from the cache and reconciles it. An account the cache does not
// hold any more was deleted (its connection went before its finalizer did) or left this manager's
// shard (its shard label changed): a label-selected watch sees that as a deletion, but nothing
// happened to the account or its PBX objects, and the shard it moved to takes it over. This
// manager lets go of what it holds of it (the connection, with its token, request budget and
// snapshots, a check under way, and the client's and the engines' metrics of it) and touches
// nothing else.
func (a accountRequests[O]) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	obj := reflect.New(reflect.TypeFor[O]().Elem()).Interface().(O)
	err := a.r.client.Get(ctx, req.NamespacedName, obj)
	if err == nil {
		return a.r.Reconcile(ctx, obj)
	}
	if !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	obj.SetNamespace(req.Namespace)
	obj.SetName(req.Name)
	key := accountKeyOf(obj)
	a.r.checks.forget(req)
	if _, held := a.r.registry.Connection(key); held {
		// A sharded manager's log lines carry its shard already.
		log.FromContext(ctx).Info("Dropped the connection of an account this manager no longer holds (moved to another shard, or deleted)",
			"account", key.String())
	}
	a.r.registry.Forget(key)
	if a.r.engine != nil {
		a.r.engine.ForgetAccount(key.Kind, key.Namespace, key.Name)
	}
	return ctrl.Result{}, nil
}

// Reconcile has the account's credentials checked against the PBX (beside the workers: the check's
// end brings the account back) and records what the PBX says of its user and client; a deleted
// account waits until no resource uses it.
func (r *accountReconciler[O]) Reconcile(ctx context.Context, obj O) (res ctrl.Result, err error) {
	orig := obj.DeepCopyObject().(O)
	key := accountKeyOf(obj)
	released := false
	defer func() {
		if released {
			return
		}
		st := obj.GetAccountStatus()
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c != nil && c.ObservedGeneration == obj.GetGeneration() {
			// The pass wrote Ready: the conditions describe this generation, failing or not.
			gen := obj.GetGeneration()
			st.ObservedGeneration = &gen
			managed.Progress(&st.Conditions, v1alpha1.ConditionReady, obj.GetGeneration())
		}
		if perr := managed.PatchStatus(ctx, r.client, orig, obj); perr != nil {
			err = errors.Join(err, perr)
		}
	}()

	prevReady := meta.FindStatusCondition(orig.GetAccountStatus().Conditions, v1alpha1.ConditionReady)
	defer func() { r.announce(obj, prevReady) }()
	if !obj.GetDeletionTimestamp().IsZero() {
		return r.delete(ctx, obj, key, &released)
	}
	if !controllerutil.ContainsFinalizer(obj, v1alpha1.Finalizer) {
		cp := obj.DeepCopyObject().(O)
		controllerutil.AddFinalizer(cp, v1alpha1.Finalizer)
		if err := r.client.Patch(ctx, cp, client.MergeFrom(obj)); err != nil {
			return ctrl.Result{}, err
		}
		obj.SetFinalizers(cp.GetFinalizers())
	}

	conn, _, res, err := r.connect(ctx, obj, key)
	if conn == nil {
		return res, err
	}
	setAccountReady(obj, metav1.ConditionTrue, v1alpha1.ReasonAvailable, fmt.Sprintf("Connected to the PBX as user %s", conn.Login))
	return ctrl.Result{RequeueAfter: conn.PollInterval()}, nil
}

// connect reads the account's credentials and has them checked against the PBX, recording what
// the PBX says of its user and client. Without a connection it returns why, with the conditions
// set; pending says the check is under way or waits out its backoff, with no condition set: the
// account comes back when the check ends, or when the backoff is over.
func (r *accountReconciler[O]) connect(ctx context.Context, obj O, key account.Key) (_ *account.Connection, pending bool, _ ctrl.Result, _ error) {
	cred, err := r.credentials(ctx, obj)
	if readFailed(err) {
		// Nothing is known to be wrong with the account, which keeps its connection and tries
		// again with backoff.
		return nil, false, ctrl.Result{}, err
	}
	if err != nil {
		// Stop a check of the settings that were, so that it installs no connection after this.
		r.checks.forget(requestOf(obj))
		r.registry.Remove(key)
		setAccountReady(obj, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec, err.Error())
		// The Secret watch brings the account back when the Secret appears or changes.
		return nil, false, ctrl.Result{}, nil
	}
	spec := *obj.GetConnectionSpec()
	// A check answers for the generation and the connection settings it was made from.
	inputs := strconv.FormatInt(obj.GetGeneration(), 10) + "/" + account.Fingerprint(spec, cred)
	done, wait := r.checks.take(ctx, requestOf(obj), inputs, func(ctx context.Context) (*account.Connection, error) {
		return r.registry.Connect(ctx, key, spec, cred, r.metrics)
	})
	if done == nil {
		return nil, true, ctrl.Result{RequeueAfter: wait}, nil
	}
	conn, err := done.conn, done.err
	if err != nil {
		if invalid := (*account.InvalidError)(nil); errors.As(err, &invalid) {
			err = managed.InvalidSpec("%s", invalid.Error())
		}
		res, err := r.fail(ctx, obj, err)
		return nil, false, res, err
	}
	st := obj.GetAccountStatus()
	st.Realm, st.RealmID = realmOf(conn.Realm.Kind), conn.RealmID
	st.ClientPrefix, st.ExtensionNameLength = conn.Prefix, int32(conn.ExtensionLen)
	st.Limits = accountLimits(conn.Limits.EventSubscriptions)
	st.RequestBudget = requestBudget(st.RequestBudget, conn.Client.Budget(), time.Now())
	return conn, false, ctrl.Result{}, nil
}

// requestBudget is the budget to record in an account's status: the one announced when a new
// window began or when the share left fell into a lower band (budgetBand), else the one recorded
// before, so that the status is written a few times an hour at most, not on every poll.
func requestBudget(prev v1alpha1.RequestBudget, b pbx.Budget, now time.Time) v1alpha1.RequestBudget {
	if b.Limit <= 0 || b.Reset.IsZero() {
		return prev
	}
	remaining := int32(min(max(b.Remaining, 0), math.MaxInt32))
	next := v1alpha1.RequestBudget{Limit: int32(min(b.Limit, math.MaxInt32)), Remaining: &remaining,
		ResetTime: new(metav1.NewTime(b.Reset.Truncate(time.Second))), ObservedTime: new(metav1.NewTime(now.Truncate(time.Second)))}
	newWindow := prev.Remaining == nil || prev.ResetTime == nil || prev.Limit != next.Limit ||
		absDuration(prev.ResetTime.Sub(next.ResetTime.Time)) > budgetWindowSlack
	// Within a window the share left only falls: answers of concurrent requests that come back out
	// of order near a band's edge must not write the status back and forth.
	if newWindow || budgetBand(next) > budgetBand(prev) {
		return next
	}
	return prev
}

// budgetWindowSlack is how far two reset times may be apart and still end one window: the PBX
// counts the reset in whole seconds from each answer.
const budgetWindowSlack = time.Minute

// budgetBand sorts the share of a budget left into the bands whose crossing is recorded: at least
// half, at least a tenth, some, none.
func budgetBand(b v1alpha1.RequestBudget) int {
	left := int64(*b.Remaining)
	switch {
	case left*2 >= int64(b.Limit):
		return 0
	case left*10 >= int64(b.Limit):
		return 1
	case left > 0:
		return 2
	}
	return 3
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// readFailed tells whether reading an account's Secret or CA bundle failed for a reason that says
// nothing about the account: the API server did not answer, or answered a timeout, a 429 or a
// 5xx. A refusal (the manager may not read there) or a missing object is the account's to fix.
func readFailed(err error) bool {
	var netErr net.Error
	return apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) ||
		errors.As(err, &netErr)
}

// requestOf is the request that reconciles an account.
func requestOf(obj client.Object) reconcile.Request {
	return reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)}
}

// accountLimits is the status form of the client's limit on event subscriptions; empty when the
// PBX did not report it.
func accountLimits(events *account.Limit) v1alpha1.AccountLimits {
	if events == nil {
		return v1alpha1.AccountLimits{}
	}
	u := v1alpha1.LimitUsage{Limit: int32(min(events.Max, math.MaxInt32))}
	if events.Used != nil {
		used := int32(min(*events.Used, math.MaxInt32))
		u.Used = &used
	}
	return v1alpha1.AccountLimits{EventSubscriptions: u}
}

// announce records an event when the account's Ready condition changed: a Warning when it stopped
// working, a Normal one when it works again.
func (r *accountReconciler[O]) announce(obj O, prev *metav1.Condition) {
	cur := meta.FindStatusCondition(obj.GetAccountStatus().Conditions, v1alpha1.ConditionReady)
	if r.recorder == nil || cur == nil || (prev != nil && prev.Status == cur.Status && prev.Reason == cur.Reason && prev.Message == cur.Message) {
		return
	}
	switch {
	case cur.Status == metav1.ConditionTrue && (prev == nil || prev.Status != metav1.ConditionTrue):
		r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, "Connected", "Connect", "%s", cur.Message)
	case cur.Status != metav1.ConditionTrue && cur.Reason != v1alpha1.ReasonInUse:
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, cur.Reason, "Connect", "%s", cur.Message)
	}
}

// credentials reads the app's id and secret from the account's Secret, and its CA bundle. A
// Secret is usable only when its owner opted it in with the credentials label, and a
// ClusterAccount may use Secrets (and CA bundles) only in the namespaces the operator trusts: a
// user who may create accounts must not be able to send somebody else's Secret to a URL of their
// choosing.
func (r *accountReconciler[O]) credentials(ctx context.Context, obj O) (account.Credentials, error) {
	ns, name := obj.CredentialsSecret()
	if err := r.mayUse(obj, ns); err != nil {
		return account.Credentials{}, err
	}
	s, err := r.secret(ctx, ns, name)
	if err != nil {
		return account.Credentials{}, err
	}
	id, secret := string(s.Data[account.SecretClientID]), string(s.Data[account.SecretClientSecret])
	if id == "" || secret == "" {
		return account.Credentials{}, fmt.Errorf("The Secret %s/%s must hold the keys %s and %s", ns, name, account.SecretClientID, account.SecretClientSecret) //nolint:staticcheck // a condition message
	}
	// The Secret names the one PBX its credentials may go to: an account pointed elsewhere (by
	// whoever may edit it but not read the Secret) sends nothing.
	if err := account.Destination(ns+"/"+name, string(s.Data[account.SecretURL]), obj.GetConnectionSpec().URL); err != nil {
		return account.Credentials{}, err
	}
	cred := account.Credentials{ClientID: id, ClientSecret: secret}
	if ref := obj.CABundle(); ref != nil {
		if err := r.mayUse(obj, ref.Namespace); err != nil {
			return account.Credentials{}, err
		}
		if cred.CABundle, err = r.caBundle(ctx, ref); err != nil {
			return account.Credentials{}, err
		}
	}
	return cred, nil
}

// mayUse refuses a ClusterAccount a Secret or ConfigMap outside the trusted namespaces.
func (r *accountReconciler[O]) mayUse(obj O, ns string) error {
	if _, cluster := any(obj).(*v1alpha1.ClusterAccount); !cluster || slices.Contains(r.trusted, ns) {
		return nil
	}
	trusted := "no namespace"
	if len(r.trusted) > 0 {
		trusted = strings.Join(r.trusted, ", ")
	}
	return fmt.Errorf("The ClusterAccount may not use Secrets or ConfigMaps in namespace %s: the operator trusts only %s (--trusted-secret-namespaces)", ns, trusted) //nolint:staticcheck // a condition message
}

// secret reads a Secret the account's owner opted in (optedInSecret).
func (r *accountReconciler[O]) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return optedInSecret(ctx, r.client, r.apiReader, ns, name, v1alpha1.LabelCredentialsAccount)
}

// caBundle reads the PEM bundle an account trusts: a ConfigMap key (one uncached read, so the
// manager does not cache every ConfigMap), or an opted-in Secret's key.
func (r *accountReconciler[O]) caBundle(ctx context.Context, ref *v1alpha1.CABundleReference) ([]byte, error) {
	key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
	var data []byte
	switch ref.Kind {
	case v1alpha1.CABundleKindSecret:
		s, err := r.secret(ctx, ref.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		data = s.Data[ref.Key]
	default:
		var cm corev1.ConfigMap
		reader := r.apiReader
		if reader == nil {
			reader = r.client
		}
		if err := reader.Get(ctx, key, &cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("The ConfigMap %s with the CA bundle does not exist", key) //nolint:staticcheck // a condition message
			}
			return nil, fmt.Errorf("Reading the ConfigMap %s: %w", key, err) //nolint:staticcheck // a condition message
		}
		data = []byte(cm.Data[ref.Key])
		if len(data) == 0 {
			data = cm.BinaryData[ref.Key]
		}
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("The %s %s has no key %s with the CA bundle", ref.Kind, key, ref.Key) //nolint:staticcheck // a condition message
	}
	return data, nil
}

// fail reports why the account does not work.
func (r *accountReconciler[O]) fail(ctx context.Context, obj O, err error) (ctrl.Result, error) {
	c := managed.Classify(err)
	if c.Quiet {
		// A check not sent yet (the account's pace), or an optimistic-lock conflict: nothing is
		// known to be wrong with the account.
		log.FromContext(ctx).V(1).Info("Trying again soon", "message", c.Message, "after", c.RequeueAfter)
		return c.Result(err)
	}
	var apiErr *pbx.APIError
	if errors.As(err, &apiErr) && apiErr.Code == "unauthorized_client" {
		// The token endpoint refuses client credentials to apps that are not of type trusted.
		c = managed.Class{Reason: v1alpha1.ReasonForbidden, RequeueAfter: 5 * time.Minute,
			Message: "The PBX app may not use client credentials; register it as a trusted app: " + apiErr.Message}
	}
	setAccountReady(obj, metav1.ConditionFalse, c.Reason, c.Message)
	log.FromContext(ctx).Info("The PBX account does not work", "reason", c.Reason, "message", c.Message)
	return c.Result(err)
}

// delete holds a deleted account while resources use it, then drops its connection.
func (r *accountReconciler[O]) delete(ctx context.Context, obj O, key account.Key, released *bool) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, v1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	users, err := r.users(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(users) > 0 {
		// The users still need the connection to delete their PBX objects (after a manager
		// restart too): keep it working until they are gone.
		conn, pending, res, err := r.connect(ctx, obj, key)
		shown := users[:min(len(users), 3)]
		more := ""
		if len(users) > 3 {
			more = fmt.Sprintf(" and %d more", len(users)-3)
		}
		if pending {
			return res, err
		}
		if conn == nil {
			cond := meta.FindStatusCondition(obj.GetAccountStatus().Conditions, v1alpha1.ConditionReady)
			if cond == nil {
				// The check was not made yet (a quiet failure sets no condition): try again soon.
				return res, err
			}
			setAccountReady(obj, metav1.ConditionFalse, cond.Reason, fmt.Sprintf(
				"%s. The account is being deleted but is still used by %s%s, which cannot delete their PBX objects without it: fix the account, or set deletionPolicy: Orphan on them to leave their PBX objects in place",
				strings.TrimSuffix(cond.Message, "."), strings.Join(shown, ", "), more))
			if res.RequeueAfter == 0 && err == nil {
				res.RequeueAfter = requeueInUse
			}
			return res, err
		}
		setAccountReady(obj, metav1.ConditionFalse, v1alpha1.ReasonInUse, fmt.Sprintf(
			"The account is still used by %s%s; it is deleted once they are gone", strings.Join(shown, ", "), more))
		return ctrl.Result{RequeueAfter: requeueInUse}, nil
	}
	// A check under way could install a connection after Forget: stop it first.
	r.checks.forget(requestOf(obj))
	r.registry.Forget(key)
	if r.engine != nil {
		r.engine.ForgetAccount(key.Kind, key.Namespace, key.Name)
	}
	cp := obj.DeepCopyObject().(O)
	controllerutil.RemoveFinalizer(cp, v1alpha1.Finalizer)
	if err := r.client.Patch(ctx, cp, client.MergeFrom(obj)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	*released = true
	return ctrl.Result{}, nil
}

// users lists the managed resources that use an account, as "Kind namespace/name", sorted. On a
// sharded manager, when the shard holds none, it asks the API server for users on other shards
// (usersElsewhere): they are mislabelled, and would lose the account they need to delete their PBX
// objects.
func (r *accountReconciler[O]) users(ctx context.Context, key account.Key) ([]string, error) {
	var out []string
	for _, k := range r.kinds {
		list := k.newList()
		if err := r.client.List(ctx, list, client.MatchingFields{indexAccount: key.String()}); err != nil {
			return nil, err
		}
		for _, o := range items(list) {
			out = append(out, k.name+" "+o.GetNamespace()+"/"+o.GetName())
		}
	}
	if len(out) == 0 && r.shard.Sharded() && r.apiReader != nil {
		return r.usersElsewhere(ctx, key)
	}
	slices.Sort(out)
	return out, nil
}

// maxUsersElsewhere bounds the users on other shards that usersElsewhere looks for: a few name
// the problem, and one is enough to hold the account.
const maxUsersElsewhere = 10

// usersElsewhere lists, with uncached reads, the managed resources on other shards that use an
// account being deleted: an Account's in its namespace, a ClusterAccount's in every namespace, a
// page at a time. It runs only while a deleted account holds no users in this shard's cache, and
// stops after a few.
func (r *accountReconciler[O]) usersElsewhere(ctx context.Context, key account.Key) ([]string, error) {
	var out []string
	for _, k := range r.kinds {
		opts := []client.ListOption{client.Limit(500)}
		if key.Kind == v1alpha1.AccountKindAccount {
			opts = append(opts, client.InNamespace(key.Namespace))
		}
		for cont := ""; ; {
			list := k.newList()
			if err := r.apiReader.List(ctx, list, append(opts, client.Continue(cont))...); err != nil {
				return nil, err
			}
			for _, o := range items(list) {
				if accountIndexValue(o)[0] != key.String() || r.shard.Selector.Matches(labels.Set(o.GetLabels())) {
					continue
				}
				out = append(out, fmt.Sprintf("%s %s/%s (on %s)", k.name, o.GetNamespace(), o.GetName(), ShardName(ShardOf(o))))
				if len(out) >= maxUsersElsewhere {
					slices.Sort(out)
					return out, nil
				}
			}
			if cont = list.(metav1.ListInterface).GetContinue(); cont == "" {
				break
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func setAccountReady(obj accountObject, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&obj.GetAccountStatus().Conditions, metav1.Condition{
		Type: v1alpha1.ConditionReady, Status: status, Reason: reason, Message: managed.Truncate(message, managed.MaxMessage), ObservedGeneration: obj.GetGeneration(),
	})
}

func realmOf(k pbx.RealmKind) v1alpha1.Realm {
	switch k {
	case pbx.RealmExtensionGroup:
		return v1alpha1.RealmExtensionGroup
	case pbx.RealmExtension:
		return v1alpha1.RealmExtension
	default:
		return v1alpha1.RealmClient
	}
}

// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=accounts;clusteraccounts,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=accounts/status;clusteraccounts/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// AccountOptions configure the Account and ClusterAccount controllers.
type AccountOptions struct {
	// Registry holds the accounts' connections.
	Registry *account.Registry
	// Metrics, when set, receives the PBX clients' request metrics.
	Metrics prometheus.Registerer
	// EngineMetrics, when set, are the engines' metrics (Options.Metrics), whose series of an
	// account are dropped when it is deleted.
	EngineMetrics *managed.Metrics
	// TrustedNamespaces are the namespaces whose Secrets and ConfigMaps a ClusterAccount may use
	// (an Account uses its own namespace's).
	TrustedNamespaces []string
	// Concurrency is the number of Accounts, and of ClusterAccounts, reconciled at once. Their
	// checks against the PBX run beside the workers and hold none.
	Concurrency int
	// Shard is the part of the accounts this manager reconciles; the zero Shard is all of them.
	Shard Shard
}

// SetupAccounts registers the Account and ClusterAccount controllers.
func SetupAccounts(mgr ctrl.Manager, o AccountOptions) error {
	options := func() controller.Options {
		return controller.Options{MaxConcurrentReconciles: max(o.Concurrency, 1), RateLimiter: retryLimiter()}
	}
	registry, metrics := o.Registry, o.Metrics
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	secretOf := func(o client.Object) []string {
		ns, name := o.(accountObject).CredentialsSecret()
		return []string{ns + "/" + name}
	}
	for _, o := range []client.Object{&v1alpha1.Account{}, &v1alpha1.ClusterAccount{}} {
		if err := idx.IndexField(ctx, o, indexSecret, secretOf); err != nil {
			return err
		}
	}
	c := mgr.GetClient()
	bySecret := func(newList func() client.ObjectList) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return requestsFor(ctx, c, newList(), indexSecret, o.GetNamespace()+"/"+o.GetName())
		})
	}
	// A managed resource that goes away may release an account that waits for deletion.
	onlyDeletes := builder.WithPredicates(predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(event.UpdateEvent) bool { return false },
	})
	users := func(b *builder.Builder, kind v1alpha1.AccountKind) *builder.Builder {
		for _, k := range kinds {
			b = b.Watches(k.object(), deletingAccountOf(c, kind), onlyDeletes)
		}
		return b
	}
	checks := newAccountChecks()
	if err := users(ctrl.NewControllerManagedBy(mgr).For(&v1alpha1.Account{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("account").
		WithOptions(options()).
		WatchesMetadata(&corev1.Secret{}, bySecret(func() client.ObjectList { return &v1alpha1.AccountList{} })).
		WatchesRawSource(checks.source()), v1alpha1.AccountKindAccount).
		Complete(accountRequests[*v1alpha1.Account]{&accountReconciler[*v1alpha1.Account]{client: c, apiReader: mgr.GetAPIReader(), registry: registry, metrics: metrics, engine: o.EngineMetrics, recorder: mgr.GetEventRecorder("account-controller"),
			checks: checks, kinds: kinds, shard: o.Shard}}); err != nil {
		return err
	}
	checks = newAccountChecks()
	return users(ctrl.NewControllerManagedBy(mgr).For(&v1alpha1.ClusterAccount{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("clusteraccount").
		WithOptions(options()).
		WatchesMetadata(&corev1.Secret{}, bySecret(func() client.ObjectList { return &v1alpha1.ClusterAccountList{} })).
		WatchesRawSource(checks.source()), v1alpha1.AccountKindClusterAccount).
		Complete(accountRequests[*v1alpha1.ClusterAccount]{&accountReconciler[*v1alpha1.ClusterAccount]{client: c, apiReader: mgr.GetAPIReader(), registry: registry, metrics: metrics, engine: o.EngineMetrics, recorder: mgr.GetEventRecorder("clusteraccount-controller"),
			trusted: o.TrustedNamespaces, checks: checks, kinds: kinds, shard: o.Shard}})
}

// deletingAccountOf maps a managed resource that went away to its account, if the account is of
// the given kind and waits to be deleted: only such an account has anything to do about it.
func deletingAccountOf(c client.Reader, kind v1alpha1.AccountKind) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		m, ok := o.(managed.Object)
		if !ok || m.GetManagedSpec().AccountRef.Kind != kind {
			return nil
		}
		k := account.KeyFor(m.GetManagedSpec().AccountRef, o.GetNamespace())
		var a client.Object = &v1alpha1.Account{}
		if kind == v1alpha1.AccountKindClusterAccount {
			a = &v1alpha1.ClusterAccount{}
		}
		key := client.ObjectKey{Namespace: k.Namespace, Name: k.Name}
		if err := c.Get(ctx, key, a); err != nil || a.GetDeletionTimestamp().IsZero() {
			return nil
		}
		return []reconcile.Request{{NamespacedName: key}}
	})
}
