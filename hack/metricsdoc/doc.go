// Command metricsdoc writes docs/metrics.md, the reference of the manager's metrics, from the
// table of internal/telemetry: for each metric its name, type, labels and help text, then the
// controller-runtime metrics the project's alerts and dashboard use.
//
// Before it writes, it builds the manager's collectors as cmd/main.go registers them (the
// account and resource collectors, the engine's, and a PBX client's request metrics) and checks
// that every descriptor they describe is a definition of the table and that every definition is
// described: a collector that registers a metric past the table fails 'make manifests'.
//
// Usage, from the repository root (as 'make manifests' runs it):
//
//	go run ./hack/metricsdoc
package main
