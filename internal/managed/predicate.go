package managed

import (
	"maps"

	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// ownAnnotations are the annotations the engine writes itself; changing them must not trigger
// another pass.
var ownAnnotations = []string{v1alpha1.AnnotationExternalID, v1alpha1.AnnotationExternalKey, v1alpha1.AnnotationRealm, v1alpha1.AnnotationCreatePending}

// DesiredStateChanged passes an update only when the user may have changed the desired state: the
// generation (spec, and the deletion timestamp), the labels, or an annotation other than those the
// engine writes. The engine's own status and finalizer writes are filtered out, so they never
// trigger a pass (crossplane-runtime's predicate of the same name).
func DesiredStateChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return true
		}
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
			!maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
			!maps.Equal(userAnnotations(e.ObjectOld.GetAnnotations()), userAnnotations(e.ObjectNew.GetAnnotations()))
	}}
}

func userAnnotations(a map[string]string) map[string]string {
	out := maps.Clone(a)
	for _, k := range ownAnnotations {
		delete(out, k)
	}
	return out
}
