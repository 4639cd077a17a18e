// Command monitoring checks and draws the chart's monitoring: the metric names that the
// PrometheusRule's alerts and the Grafana dashboard's queries select ('names'), and a picture of the
// dashboard drawn from the manager's metrics recorded during 'make bench' ('render'), evaluated by
// Prometheus's own PromQL engine.
//
// It is a Go module of its own, like hack/controlplane, so that the operator's go.mod does not
// pull in Prometheus; its go.mod also pins promtool ('make promtool' builds it from this module).
package main
