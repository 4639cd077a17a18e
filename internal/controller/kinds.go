package controller

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// kind is a managed kind as the account controllers, the resource metrics and the manager see it.
// Everything else of a kind lives in its own files: <kind>_controller.go (setup, RBAC, watches,
// indexes), <kind>_adapter.go (the four verbs) and <kind>_convert.go (spec to PBX and back).
type kind struct {
	// name is the kind as users write it.
	name string
	// object and newList return an empty object and list of the kind.
	object  func() client.Object
	newList func() client.ObjectList
	// setup registers the kind's controller.
	setup func(ctrl.Manager, Options) error
}

// kinds are the managed kinds, in the order they are set up. This table is the one place that
// lists them: adding a kind is a row here.
var kinds = []kind{
	{
		name:    "ExtensionGroup",
		object:  func() client.Object { return &v1alpha1.ExtensionGroup{} },
		newList: func() client.ObjectList { return &v1alpha1.ExtensionGroupList{} },
		setup:   setupExtensionGroup,
	},
	{
		name:    "Extension",
		object:  func() client.Object { return &v1alpha1.Extension{} },
		newList: func() client.ObjectList { return &v1alpha1.ExtensionList{} },
		setup:   setupExtension,
	},
	{
		name:    "PhoneNumber",
		object:  func() client.Object { return &v1alpha1.PhoneNumber{} },
		newList: func() client.ObjectList { return &v1alpha1.PhoneNumberList{} },
		setup:   setupPhoneNumber,
	},
	{
		name:    "EventSubscription",
		object:  func() client.Object { return &v1alpha1.EventSubscription{} },
		newList: func() client.ObjectList { return &v1alpha1.EventSubscriptionList{} },
		setup:   setupEventSubscription,
	},
}

// ManagedKinds returns the names of the managed kinds, in the order of the kinds table. It is the
// table's one export, read-only, for hack/rolegen: 'make manifests' writes every list of kinds
// outside the code (the README, PROJECT, the Helm chart, the docs) from it and the CRDs, so that
// the table stays the one place that lists them.
func ManagedKinds() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// SetupManaged registers the controllers of the managed kinds, in the order of the kinds table.
func SetupManaged(mgr ctrl.Manager, o Options) error {
	if o.Shard.Sharded() {
		o.placement = newPlacement(o.Shard, mgr.GetAPIReader())
	}
	for _, k := range kinds {
		if err := k.setup(mgr, o); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", k.name, err)
		}
	}
	return nil
}
