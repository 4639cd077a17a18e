package managed

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// stalledReasons are the outcomes only a person can change: kstatus reports them as Failed.
var stalledReasons = map[string]bool{
	v1alpha1.ReasonInvalidSpec:   true,
	v1alpha1.ReasonAlreadyExists: true,
	v1alpha1.ReasonConflict:      true,
	v1alpha1.ReasonUnauthorized:  true,
	v1alpha1.ReasonForbidden:     true,
	v1alpha1.ReasonUnavailable:   true,
	v1alpha1.ReasonNotFound:      true,
}

// settledReasons are the outcomes with nothing in progress and nothing to fix: a paused resource,
// and an ObserveOnly resource that reports its drift.
var settledReasons = map[string]bool{
	v1alpha1.ReasonPaused:  true,
	v1alpha1.ReasonDrifted: true,
}

// Progress sets the kstatus conditions Reconciling and Stalled from the condition that carries a
// resource's outcome (Synced for the managed kinds, Ready for accounts), with its reason and
// message: Stalled when only a person can move it on, Reconciling while work is under way or
// waiting for something that passes by itself, neither when the outcome is True or settled.
func Progress(conds *[]metav1.Condition, outcome string, generation int64) {
	c := meta.FindStatusCondition(*conds, outcome)
	var set, unset string
	switch {
	case c == nil || c.Status == metav1.ConditionTrue || settledReasons[c.Reason]:
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionStalled)
		return
	case stalledReasons[c.Reason]:
		set, unset = v1alpha1.ConditionStalled, v1alpha1.ConditionReconciling
	default:
		set, unset = v1alpha1.ConditionReconciling, v1alpha1.ConditionStalled
	}
	meta.RemoveStatusCondition(conds, unset)
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: set, Status: metav1.ConditionTrue, Reason: c.Reason, Message: c.Message, ObservedGeneration: generation,
	})
}
