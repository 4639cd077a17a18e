package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// AccountKind is the kind of account a managed resource uses.
// +kubebuilder:validation:Enum=Account;ClusterAccount
type AccountKind string

// Account kinds.
const (
	// AccountKindAccount is an Account in the managed resource's own namespace.
	AccountKindAccount AccountKind = "Account"
	// AccountKindClusterAccount is a cluster-scoped ClusterAccount.
	AccountKindClusterAccount AccountKind = "ClusterAccount"
)

// AccountReference names the Account or ClusterAccount whose PBX a managed resource lives in.
type AccountReference struct {
	// kind is Account (an Account in the resource's own namespace) or ClusterAccount.
	// +required
	Kind AccountKind `json:"kind,omitempty"`

	// name is the name of the Account or ClusterAccount.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// DeletionPolicy says what happens to the PBX object when its resource is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

// Deletion policies.
const (
	// DeletionPolicyDelete deletes the PBX object with the resource.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the PBX object in place and only releases it.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// ManagementPolicy says whether the operator may write to the PBX object.
// +kubebuilder:validation:Enum=Manage;ObserveOnly
type ManagementPolicy string

// Management policies.
const (
	// ManagementPolicyManage creates, updates and deletes the PBX object to match the spec.
	ManagementPolicyManage ManagementPolicy = "Manage"
	// ManagementPolicyObserveOnly never writes to the PBX; it observes the object and reports in the
	// Synced condition whether it matches the spec.
	ManagementPolicyObserveOnly ManagementPolicy = "ObserveOnly"
)

// ManagedSpec is the part of the spec every managed resource shares.
type ManagedSpec struct {
	// accountRef names the Account or ClusterAccount that connects to the PBX. It cannot be changed:
	// moving a resource to another PBX account would orphan its object there.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="accountRef is immutable: create a new resource to manage an object in another account"
	AccountRef AccountReference `json:"accountRef,omitzero"`

	// deletionPolicy is Delete (the default: deleting the resource deletes the PBX object) or Orphan
	// (the PBX object is left in place).
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// managementPolicy is Manage (the default: the operator creates, updates and deletes the PBX
	// object) or ObserveOnly (the operator never writes to the PBX and only reports whether the object
	// matches the spec).
	// +optional
	// +kubebuilder:default=Manage
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`
}

// ManagedStatus is the part of the status every managed resource shares.
// +kubebuilder:validation:MinProperties=1
type ManagedStatus struct {
	// conditions are Ready (the PBX object exists and is usable), Synced (the last reconcile
	// succeeded and the PBX object matches the spec), and Reconciling or Stalled (work in progress,
	// or waiting for a person; read by GitOps tools). Unset until the first reconcile.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// id is the PBX id of the managed object. Unset until the object is created or found.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ID int64 `json:"id,omitempty"`

	// observedGeneration is the metadata.generation that the conditions describe: it moves on every
	// reconcile that writes them, failing ones included. 0 (the default) until the operator has
	// looked at the resource, so that GitOps tools do not take a new resource for a ready one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=0
	ObservedGeneration *int64 `json:"observedGeneration,omitempty"`

	// lastHandledReconcileAt is the value of the pbx.cloudpbx.dev/reconcile-requested-at annotation
	// that the operator last acted on, by observing the PBX object afresh. Unset until a reconcile is
	// requested.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// GetManagedSpec returns the shared spec block of an ExtensionGroup, for the sync engine.
func (g *ExtensionGroup) GetManagedSpec() *ManagedSpec { return &g.Spec.ManagedSpec }

// GetManagedStatus returns the shared status block of an ExtensionGroup, for the sync engine.
func (g *ExtensionGroup) GetManagedStatus() *ManagedStatus { return &g.Status.ManagedStatus }

// GetManagedSpec returns the shared spec block of an Extension, for the sync engine.
func (e *Extension) GetManagedSpec() *ManagedSpec { return &e.Spec.ManagedSpec }

// GetManagedStatus returns the shared status block of an Extension, for the sync engine.
func (e *Extension) GetManagedStatus() *ManagedStatus { return &e.Status.ManagedStatus }
