// Command manager runs the pbx-operator controllers: it keeps PBX extensions, extension groups,
// phone numbers and event subscriptions, and the accounts they use, in line with the custom
// resources of the pbx.cloudpbx.dev API group.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pbxv1alpha1 "github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// version is the operator's version, stamped by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var (
		metricsAddr          string
		metricsCertPath      string
		metricsCertName      string
		metricsCertKey       string
		showVersion          bool
		probeAddr            string
		secureMetrics        bool
		enableHTTP2          bool
		enableLeaderElection bool
		leaderElectionNS     string
		namespaces           string
		secretNamespaces     string
		pollInterval         time.Duration
		concurrency          int
		accountConcurrency   int
		routineEvents        float64
		timeout              time.Duration
		rps                  float64
		burst                int
		maxInFlight          int
		writeReserve         int
		kubeQPS              float64
		kubeBurst            int
		trustedNamespaces    string
		shardName            string
		watchSelector        string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to, such as :8443 (HTTPS) or :8080 (HTTP); 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the health and readiness probes bind to.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", true,
		"Elect a leader, so that only one manager replica is active at a time.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "",
		"Namespace of the leader election Lease; empty means the manager's own namespace (required out of a cluster).")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, with authentication and authorization through the API server.")
	flag.StringVar(&metricsCertPath, "metrics-cert-path", "",
		"The directory of the metrics server's certificate (reloaded when it changes); empty means a self-signed certificate made at start-up.")
	flag.StringVar(&metricsCertName, "metrics-cert-name", "tls.crt", "The file name of the metrics server's certificate in --metrics-cert-path.")
	flag.StringVar(&metricsCertKey, "metrics-cert-key", "tls.key", "The file name of the metrics server's private key in --metrics-cert-path.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server (off by default: HTTP/2 Stream Cancellation and Rapid Reset CVEs).")
	flag.StringVar(&namespaces, "namespaces", "",
		"Comma-separated namespaces whose resources the manager reconciles; empty means all namespaces.")
	flag.StringVar(&trustedNamespaces, "trusted-secret-namespaces", "",
		"Comma-separated namespaces whose Secrets and ConfigMaps ClusterAccounts may use; empty means the manager's own "+
			"namespace (POD_NAMESPACE, else the service account's, else --leader-election-namespace).")
	flag.StringVar(&secretNamespaces, "secret-namespaces", "",
		"Comma-separated namespaces whose Secrets the manager reads (the accounts' credentials); empty means the watched namespaces. "+
			"Either way it reads only Secrets labelled "+pbxv1alpha1.LabelCredentials+" (true, sip-password or sip), and caches only their metadata.")
	flag.DurationVar(&pollInterval, "poll-interval", managed.DefaultPollInterval,
		"How often resources in sync are checked for changes made in the PBX, unless their account sets pollIntervalSeconds.")
	flag.IntVar(&concurrency, "concurrency", 16,
		"Resources of each kind reconciled at once, shared by all accounts: a reconcile waits at most 1 s for its account's pace or a free connection, "+
			"so a paced or slow account does not hold the workers (docs/pacing.md).")
	flag.IntVar(&accountConcurrency, "account-concurrency", 8,
		"Accounts and ClusterAccounts reconciled at once; their checks against the PBX run beside the workers, so a PBX that never answers holds none (docs/pacing.md).")
	flag.Float64Var(&routineEvents, "routine-events-per-second", 5,
		"Routine events (Created, Updated, Deleted) of each kind per second, after a burst of five times as many; past it they are left out "+
			"(the status keeps the facts), so a batch of thousands does not write an event each. Warnings are never left out. 0 sends every one.")
	flag.DurationVar(&timeout, "pbx-timeout", 30*time.Second, "Time limit of the PBX calls of one reconcile.")
	flag.Float64Var(&rps, "requests-per-second", 0,
		"Fixed rate of PBX requests per account, unless the account sets requestsPerSecond; 0 paces by the hourly budget the PBX announces (docs/pacing.md).")
	flag.IntVar(&burst, "burst", 10, "Burst of PBX requests per account with a fixed --requests-per-second, unless the account sets burst.")
	flag.IntVar(&maxInFlight, "max-requests-in-flight", 8, "PBX requests per account under way at once.")
	maxAnswerBytes := flag.Int64("max-pbx-answer-bytes", pbx.DefaultMaxAnswerBytes,
		"Most bytes read of one PBX answer or list page, after decompression; a larger answer fails the request (APIUnavailable), so a hostile PBX cannot exhaust the manager's memory.")
	flag.Float64Var(&kubeQPS, "kube-api-qps", 300,
		"Requests per second to the Kubernetes API server (status and metadata writes: 3 per created object; the API server's priority and fairness protects it).")
	flag.IntVar(&kubeBurst, "kube-api-burst", 600, "Burst of requests to the Kubernetes API server.")
	flag.IntVar(&writeReserve, "write-reserve-percent", 10,
		"Default share of the PBX's hourly request budget kept for writes, unless the account sets writeReservePercent.")
	flag.StringVar(&shardName, "shard", "",
		"The shard this manager reconciles: the Accounts and ClusterAccounts, and the resources that use them, labelled "+pbxv1alpha1.LabelShard+"=NAME. "+
			"It names the leader election Lease (pbx-operator-NAME.cloudpbx.dev) and the PBX requests' User-Agent; alone it implies --watch-label-selector="+
			pbxv1alpha1.LabelShard+"=NAME. Empty means the default shard (docs/scaling.md).")
	flag.StringVar(&watchSelector, "watch-label-selector", "",
		"Label selector of the Accounts, ClusterAccounts and managed resources this manager watches and reconciles, applied by the API server. "+
			"The default shard of a sharded install runs with '!"+pbxv1alpha1.LabelShard+"'; empty means all of them (an unsharded manager).")
	flag.BoolVar(&showVersion, "version", false, "Print the version and exit.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	if showVersion {
		fmt.Println("pbx-operator", version)
		return
	}

	shard, err := controller.ParseShard(shardName, watchSelector)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	logger := zap.New(zap.UseFlagOptions(&opts))
	if shard.Sharded() {
		// Every line tells which shard's manager wrote it.
		logger = logger.WithValues("shard", shard.String())
	}
	ctrl.SetLogger(logger)
	setupLog := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(pbxv1alpha1.AddToScheme(scheme))

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	// With a certificate from cert-manager (or any other issuer) a ServiceMonitor can verify the
	// endpoint; without one, controller-runtime serves a self-signed certificate.
	var metricsCerts *certwatcher.CertWatcher
	if metricsCertPath != "" {
		setupLog.Info("Watching the metrics server's certificate", "certPath", metricsCertPath,
			"certName", metricsCertName, "certKey", metricsCertKey)
		var err error
		metricsCerts, err = certwatcher.New(filepath.Join(metricsCertPath, metricsCertName), filepath.Join(metricsCertPath, metricsCertKey))
		if err != nil {
			setupLog.Error(err, "Unable to load the metrics server's certificate")
			os.Exit(1)
		}
		metricsOpts.TLSOpts = append(metricsOpts.TLSOpts, func(c *tls.Config) { c.GetCertificate = metricsCerts.GetCertificate })
	}

	restConfig := ctrl.GetConfigOrDie()
	// client-go's defaults (5/s, burst 10) would make the API server the bottleneck of a batch:
	// each created object costs a few writes.
	restConfig.QPS, restConfig.Burst = float32(kubeQPS), kubeBurst
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  controller.CacheOptions(list(namespaces), list(secretNamespaces), shard),
		Metrics:                metricsOpts,
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         enableLeaderElection,
		// Each shard elects its own leader; the default shard keeps the unsharded Lease.
		LeaderElectionID:        shard.LeaseName(),
		LeaderElectionNamespace: leaderElectionNS,
		// The manager exits right after it stops, so it can give up the lease at once and let a
		// standby take over without waiting for the lease to expire.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		setupLog.Error(err, "Unable to create the manager")
		os.Exit(1)
	}

	registry := account.NewRegistry(account.Settings{
		RequestsPerSecond:   rps,
		Burst:               burst,
		MaxInFlight:         maxInFlight,
		WriteReservePercent: writeReserve,
		PollInterval:        pollInterval,
		MaxAnswerBytes:      *maxAnswerBytes,
		UserAgent:           shard.UserAgent(version),
	})
	engineMetrics := managed.NewMetrics(nil)
	copts := controller.Options{Registry: registry, PollInterval: pollInterval, Concurrency: concurrency, Timeout: timeout,
		RoutineEventsPerSecond: routineEvents, Metrics: engineMetrics, Shard: shard}
	// In a fixed order: the accounts first, then the managed kinds in the order of their table.
	for _, s := range []struct {
		name  string
		setup func() error
	}{
		{"accounts", func() error {
			return controller.SetupAccounts(mgr, controller.AccountOptions{
				Registry: registry, Metrics: metrics.Registry, EngineMetrics: engineMetrics, TrustedNamespaces: trusted(trustedNamespaces, leaderElectionNS),
				Concurrency: accountConcurrency, Shard: shard,
			})
		}},
		{"managed kinds", func() error { return controller.SetupManaged(mgr, copts) }},
		{"metrics", func() error {
			for _, c := range controller.Collectors(mgr.GetCache(), registry, engineMetrics) {
				if err := metrics.Registry.Register(c); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		if err := s.setup(); err != nil {
			setupLog.Error(err, "Unable to set up the controller", "controller", s.name)
			os.Exit(1)
		}
	}

	if metricsCerts != nil {
		if err := mgr.Add(metricsCerts); err != nil {
			setupLog.Error(err, "Unable to watch the metrics server's certificate")
			os.Exit(1)
		}
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the readiness check")
		os.Exit(1)
	}

	if shard.Sharded() {
		setupLog.Info("Reconciling one shard", "selector", shard.Selector.String(), "lease", shard.LeaseName())
	}
	setupLog.Info("Starting the manager", "version", version)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "The manager stopped with an error")
		os.Exit(1)
	}
}

// list parses a comma-separated list, leaving out empty entries.
func list(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// trusted returns the namespaces whose Secrets ClusterAccounts may use: the flag's list, or else
// the manager's own namespace. Out of a cluster without any of these, none.
func trusted(namespaces, leaderElectionNS string) []string {
	if out := list(namespaces); len(out) > 0 {
		return out
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return []string{ns}
	}
	if data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(data) > 0 {
		return []string{strings.TrimSpace(string(data))}
	}
	if leaderElectionNS != "" {
		return []string{leaderElectionNS}
	}
	return nil
}
