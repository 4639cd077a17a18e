package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ExtensionGroupSpec is the desired state of a PBX extension group. Membership is set on each
// Extension (groupRef), as in the PBX, where an extension is in at most one group.
type ExtensionGroupSpec struct {
	ManagedSpec `json:",inline"`

	// name is the group's name in the PBX. Group names are not unique in the PBX: if several groups of
	// the account have this name, the resource reports a Conflict instead of guessing.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Name string `json:"name,omitempty"`

	// extraParams is free-form text the PBX stores with the group (extra_params). Unset clears it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	ExtraParams string `json:"extraParams,omitempty"`
}

// ExtensionGroupStatus is the observed state of a PBX extension group.
// +kubebuilder:validation:MinProperties=1
type ExtensionGroupStatus struct {
	ManagedStatus `json:",inline"`
}

// ExtensionGroup is a group of PBX extensions: recordings, voicemail and faxes can be read per group,
// and a group-level PBX user sees only its group's extensions.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=pbx,shortName=extgroup
// +kubebuilder:printcolumn:name="PBX Name",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].reason`
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.status.id`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ExtensionGroup struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state of the group.
	// +required
	Spec ExtensionGroupSpec `json:"spec,omitzero"`

	// status is the observed state of the group.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status ExtensionGroupStatus `json:"status,omitzero"`
}

// ExtensionGroupList is a list of ExtensionGroups.
//
// +kubebuilder:object:root=true
type ExtensionGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ExtensionGroup `json:"items"`
}

func init() {
	register(&ExtensionGroup{}, &ExtensionGroupList{})
}
