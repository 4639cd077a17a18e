// Package telemetry is the table of the operator's own Prometheus metrics: their names, types, help
// texts and labels. Every collector of the manager is built from a Definition of this table (the
// PBX client's, the engine's and the scrape-time collectors of accounts and resources), and
// hack/metricsdoc writes docs/metrics.md from the same table, so the code and the reference cannot
// disagree.
//
// Labels are bounded: account-level series carry the account's kind, namespace and name;
// resource-level series carry the resource's kind and namespace and its account, never an object
// name.
package telemetry
