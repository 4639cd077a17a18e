package controller

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/telemetry"
)

// Collectors returns the manager's own collectors, to register with controller-runtime's
// registry: the accounts' and the managed resources' (read at scrape time from reader, the
// manager's cache, and from the accounts' connections in registry) and the engine's. The PBX
// clients register their request metrics themselves, labelled by account (account.Registry).
func Collectors(reader client.Reader, registry *account.Registry, engine *managed.Metrics) []prometheus.Collector {
	return append([]prometheus.Collector{
		accountCollector{reader: reader, registry: registry},
		resourceCollector{reader: reader, kinds: kinds},
	}, engine.Collectors()...)
}

// Readiness is the status and reason of a Ready condition, Unknown and Unknown when there is none
// yet: what the metrics (pbx_account_ready, pbx_account_ready_reason, pbx_resources) and kubectl pbx
// status show.
func Readiness(conds []metav1.Condition) (metav1.ConditionStatus, string) {
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	if c == nil {
		return metav1.ConditionUnknown, string(metav1.ConditionUnknown)
	}
	reason := c.Reason
	if reason == "" {
		reason = string(metav1.ConditionUnknown)
	}
	return c.Status, reason
}

// collectTimeout bounds the cache reads of one scrape.
const collectTimeout = 5 * time.Second

var (
	accountReadyDesc       = telemetry.AccountReady.Desc()
	accountReadyReasonDesc = telemetry.AccountReadyReason.Desc()
	budgetLimitDesc        = telemetry.AccountBudgetLimit.Desc()
	budgetRemainingDesc    = telemetry.AccountBudgetRemaining.Desc()
	budgetResetDesc        = telemetry.AccountBudgetReset.Desc()
	paceDesc               = telemetry.AccountPace.Desc()
	resourcesDesc          = telemetry.Resources.Desc()
	stalledDesc            = telemetry.ResourcesStalled.Desc()
)

// accountCollector reports each Account and ClusterAccount in the cache: its Ready condition, and,
// while it has a working connection, the request budget its PBX client saw last and the pace in
// force. The budget is live, from the client; the account's status.requestBudget, which kubectl pbx
// status shows, is written only when the share left crosses a band (a half, a tenth, none) or a
// window begins, so the two agree on the limit and the reset but the status's remaining may be
// older.
type accountCollector struct {
	reader   client.Reader
	registry *account.Registry
}

// Describe sends the account descriptors.
func (c accountCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{accountReadyDesc, accountReadyReasonDesc, budgetLimitDesc, budgetRemainingDesc, budgetResetDesc, paceDesc} {
		ch <- d
	}
}

// Collect reports the accounts.
func (c accountCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	var accounts v1alpha1.AccountList
	if err := c.reader.List(ctx, &accounts, client.UnsafeDisableDeepCopy); err == nil {
		for i := range accounts.Items {
			a := &accounts.Items[i]
			c.collect(ch, account.Key{Kind: v1alpha1.AccountKindAccount, Namespace: a.Namespace, Name: a.Name}, a.Status.Conditions)
		}
	}
	var clusterAccounts v1alpha1.ClusterAccountList
	if err := c.reader.List(ctx, &clusterAccounts, client.UnsafeDisableDeepCopy); err == nil {
		for i := range clusterAccounts.Items {
			a := &clusterAccounts.Items[i]
			c.collect(ch, account.Key{Kind: v1alpha1.AccountKindClusterAccount, Name: a.Name}, a.Status.Conditions)
		}
	}
}

// collect reports one account: its readiness from its conditions, and the budget and pace of its
// working connection, if it has one.
func (c accountCollector) collect(ch chan<- prometheus.Metric, k account.Key, conds []metav1.Condition) {
	gauge := func(d *prometheus.Desc, v float64, more ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{string(k.Kind), k.Namespace, k.Name}, more...)...)
	}
	status, reason := Readiness(conds)
	ready := 0.0
	if status == metav1.ConditionTrue {
		ready = 1
	}
	gauge(accountReadyDesc, ready)
	gauge(accountReadyReasonDesc, 1, reason)
	conn, ok := c.registry.Connection(k)
	if !ok {
		return
	}
	gauge(paceDesc, conn.Client.Pace())
	b := conn.Client.Budget()
	if b.Limit <= 0 {
		return // the PBX has not announced a budget
	}
	gauge(budgetLimitDesc, float64(b.Limit))
	gauge(budgetRemainingDesc, float64(b.Remaining))
	if !b.Reset.IsZero() {
		gauge(budgetResetDesc, float64(b.Reset.Unix()))
	}
}

// resourceCollector counts the managed resources of the kinds it was handed, at scrape time, from
// the cache: by their Ready condition (pbx_resources) and, when Stalled, by its reason
// (pbx_resources_stalled).
type resourceCollector struct {
	reader client.Reader
	kinds  []kind
}

// Describe sends the resource descriptors.
func (c resourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- resourcesDesc
	ch <- stalledDesc
}

// Collect counts the resources of each kind.
func (c resourceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	type readiness struct {
		resource      [4]string
		ready, reason string
	}
	type stall struct {
		resource [4]string
		reason   string
	}
	for _, k := range c.kinds {
		list := k.newList()
		if err := c.reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			continue
		}
		byReady, byStall := map[readiness]int{}, map[stall]int{}
		for _, o := range items(list) {
			obj, ok := o.(managed.Object)
			if !ok {
				continue
			}
			labels := managed.ResourceLabels(k.name, obj)
			conds := obj.GetManagedStatus().Conditions
			status, reason := Readiness(conds)
			byReady[readiness{labels, string(status), reason}]++
			if s := meta.FindStatusCondition(conds, v1alpha1.ConditionStalled); s != nil && s.Status == metav1.ConditionTrue {
				byStall[stall{labels, s.Reason}]++
			}
		}
		for r, n := range byReady {
			l := r.resource
			ch <- prometheus.MustNewConstMetric(resourcesDesc, prometheus.GaugeValue, float64(n), l[0], l[1], l[2], l[3], r.ready, r.reason)
		}
		for s, n := range byStall {
			l := s.resource
			ch <- prometheus.MustNewConstMetric(stalledDesc, prometheus.GaugeValue, float64(n), l[0], l[1], l[2], l[3], s.reason)
		}
	}
}
