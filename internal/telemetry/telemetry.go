package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Type is a metric's Prometheus type.
type Type string

// The metric types the operator uses.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Definition is one metric of the operator.
type Definition struct {
	// Name is the metric's name.
	Name string
	// Type is its Prometheus type.
	Type Type
	// Help is its help text, a sentence.
	Help string
	// Labels are the labels its collector sets on each series, in order.
	Labels []string
	// AccountLabels says that the registerer adds the account's labels (AccountLabels) to every
	// series, as the account registry does for the PBX client's metrics.
	AccountLabels bool
}

// AllLabels are the labels of the metric's series: the account's, when the registerer adds them,
// then its own.
func (d Definition) AllLabels() []string {
	if !d.AccountLabels {
		return d.Labels
	}
	return append(append([]string{}, AccountLabels...), d.Labels...)
}

// Desc is the descriptor of a metric whose collector sets all its labels (a scrape-time collector).
func (d Definition) Desc() *prometheus.Desc {
	return prometheus.NewDesc(d.Name, d.Help, d.Labels, nil)
}

// CounterVec returns a counter of a Counter definition.
func (d Definition) CounterVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
}

// HistogramVec returns a histogram of a Histogram definition, with Prometheus's default buckets.
func (d Definition) HistogramVec() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: prometheus.DefBuckets}, d.Labels)
}

// AccountLabels are the labels of an account's series: Account or ClusterAccount, its namespace
// ("" for a ClusterAccount) and its name.
var AccountLabels = []string{"kind", "namespace", "name"}

// resourceLabels are the labels of the series about managed resources: the resource's kind and
// namespace, and the account it uses (accountRef: an Account of the same namespace, or a
// ClusterAccount).
var resourceLabels = []string{"kind", "namespace", "account_kind", "account"}

func accountLabels(more ...string) []string {
	return append(append([]string{}, AccountLabels...), more...)
}

func resourceLabelsAnd(more ...string) []string {
	return append(append([]string{}, resourceLabels...), more...)
}

// The account metrics, read at scrape time from the manager's cache (the Ready condition) and
// from the accounts' live PBX clients (the budget and pace).
var (
	AccountReady = Definition{
		Name: "pbx_account_ready", Type: Gauge, Labels: accountLabels(),
		Help: "1 when the account's Ready condition is True, else 0; one series per Account and ClusterAccount.",
	}
	AccountReadyReason = Definition{
		Name: "pbx_account_ready_reason", Type: Gauge, Labels: accountLabels("reason"),
		Help: "1 for the reason of the account's Ready condition (Unknown before it has one); one series per account.",
	}
	AccountBudgetLimit = Definition{
		Name: "pbx_account_request_budget_limit", Type: Gauge, Labels: accountLabels(),
		Help: "The hourly request limit the PBX last announced for the account (X-RateLimit-Limit); absent until announced.",
	}
	AccountBudgetRemaining = Definition{
		Name: "pbx_account_request_budget_remaining", Type: Gauge, Labels: accountLabels(),
		Help: "The requests left in the account's window as of the PBX's last answer (X-RateLimit-Remaining).",
	}
	AccountBudgetReset = Definition{
		Name: "pbx_account_request_budget_reset_timestamp_seconds", Type: Gauge, Labels: accountLabels(),
		Help: "When the account's request window ends (from X-RateLimit-Reset), in Unix seconds.",
	}
	AccountPace = Definition{
		Name: "pbx_account_request_pace_per_second", Type: Gauge, Labels: accountLabels(),
		Help: "The rate of requests per second the account's PBX client paces it to now (+Inf when unpaced); absent without a working connection.",
	}
)

// The PBX client's request metrics; the account registry adds the account's labels.
var (
	ClientRequests = Definition{
		Name: "pbx_client_requests_total", Type: Counter, Labels: []string{"method", "resource", "code"}, AccountLabels: true,
		Help: "Requests sent to the PBX API, by method, resource (path template) and status code (\"error\" when no answer came).",
	}
	ClientRequestDuration = Definition{
		Name: "pbx_client_request_duration_seconds", Type: Histogram, Labels: []string{"method", "resource"}, AccountLabels: true,
		Help: "Time until the PBX API's answer headers arrived, by method and resource (path template).",
	}
)

// The managed resources' metrics: read at scrape time from the manager's cache (Resources,
// ResourcesStalled) and kept by the engine (ResourceActions, DriftFights).
var (
	Resources = Definition{
		Name: "pbx_resources", Type: Gauge, Labels: resourceLabelsAnd("ready", "reason"),
		Help: "Managed resources by the status (True, False, Unknown) and reason of their Ready condition (Unknown before they have one).",
	}
	ResourcesStalled = Definition{
		Name: "pbx_resources_stalled", Type: Gauge, Labels: resourceLabelsAnd("reason"),
		Help: "Managed resources whose Stalled condition is True, by its reason: they wait for a change of their spec or of something they depend on.",
	}
	ResourceActions = Definition{
		Name: "pbx_resource_actions_total", Type: Counter, Labels: resourceLabelsAnd("action"),
		Help: "What the engine did to PBX objects: created, updated (after a spec change), drift_corrected (changed in the PBX, set back to the spec), " +
			"deleted, adopted, recreated (lost from the PBX, made again), conflict (a resource entered AlreadyExists or Conflict).",
	}
	DriftFights = Definition{
		Name: "pbx_resources_drift_fights", Type: Gauge, Labels: resourceLabelsAnd(),
		Help: "Managed resources whose PBX object was set back to their spec 3 or more times within the last hour: someone changes it against the operator.",
	}
)

// All is every metric of the operator, in the order of docs/metrics.md.
var All = []Definition{
	AccountReady, AccountReadyReason, AccountBudgetLimit, AccountBudgetRemaining, AccountBudgetReset, AccountPace,
	ClientRequests, ClientRequestDuration,
	Resources, ResourcesStalled, ResourceActions, DriftFights,
}
