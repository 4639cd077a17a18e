package controller

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// objectsDesc is pbx_objects: managed resources by kind, condition type and condition status.
var objectsDesc = prometheus.NewDesc("pbx_objects",
	"Managed resources by kind, condition and condition status (True, False, Unknown).",
	[]string{"kind", "condition", "status"}, nil)

// objectCollector counts the managed resources by condition at scrape time, from the cache.
type objectCollector struct{ reader client.Reader }

// NewObjectCollector returns the collector of pbx_objects, reading from a cache.
func NewObjectCollector(r client.Reader) prometheus.Collector { return objectCollector{reader: r} }

// Describe sends the one descriptor.
func (c objectCollector) Describe(ch chan<- *prometheus.Desc) { ch <- objectsDesc }

// Collect counts the resources of each managed kind.
func (c objectCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, k := range kinds {
		list := k.newList()
		if err := c.reader.List(ctx, list); err != nil {
			continue
		}
		counts := map[[2]string]int{}
		for _, cond := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionSynced} {
			for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
				counts[[2]string{cond, string(s)}] = 0
			}
		}
		for _, o := range items(list) {
			for _, cond := range o.(interface {
				GetManagedStatus() *v1alpha1.ManagedStatus
			}).GetManagedStatus().Conditions {
				counts[[2]string{cond.Type, string(cond.Status)}]++
			}
		}
		for key, n := range counts {
			ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n), k.name, key[0], key[1])
		}
	}
}
