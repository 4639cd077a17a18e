package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// PhoneNumberMessages says whether an external number takes text messages.
// +kubebuilder:validation:Enum=Enabled;Disabled
type PhoneNumberMessages string

// Text message settings of a phone number.
const (
	// PhoneNumberMessagesEnabled lets the number take text messages.
	PhoneNumberMessagesEnabled PhoneNumberMessages = "Enabled"
	// PhoneNumberMessagesDisabled refuses text messages to the number.
	PhoneNumberMessagesDisabled PhoneNumberMessages = "Disabled"
)

// PhoneNumberExtensionReference names an Extension in the referring PhoneNumber's namespace.
type PhoneNumberExtensionReference struct {
	// name is the name of the Extension.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// PhoneNumberSpec is the desired routing of an external number (a DID). The provider allocates
// numbers to the PBX client; a PhoneNumber binds one of them by its digits and routes it. It never
// creates or deletes a number.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.extensionRef) && has(self.extensionID))",message="extensionRef and extensionID are mutually exclusive: set one of them, or neither to leave the number unassigned"
// +kubebuilder:validation:XValidation:rule="!(has(self.messageExtensionRef) && has(self.messageExtensionID))",message="messageExtensionRef and messageExtensionID are mutually exclusive: set one of them, or neither"
// +kubebuilder:validation:XValidation:rule="(!has(self.messageExtensionRef) && !has(self.messageExtensionID)) || (has(self.messages) && self.messages == 'Enabled')",message="messageExtensionRef and messageExtensionID need messages: Enabled"
type PhoneNumberSpec struct {
	ManagedSpec `json:",inline"`

	// number is the external number, digits only, as the PBX lists it (74950000001). The provider
	// allocates numbers to the PBX client and the API cannot create them: a number that is not in
	// the account's PBX makes the resource report NotFound until it is. It cannot be changed: create
	// another PhoneNumber for another number.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+$')",message="number must be the external number in digits only, as the PBX lists it (for example 74950000001): no +, spaces or dashes"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="number is immutable: a PhoneNumber binds one number; create another PhoneNumber for another number"
	Number string `json:"number,omitempty"`

	// extensionRef routes calls to the number to an Extension of this namespace. The number waits,
	// with reason DependencyNotReady, until the Extension is Ready. Unset (with extensionID unset
	// too) leaves the number unassigned: calls to it reach no extension.
	// +optional
	ExtensionRef PhoneNumberExtensionReference `json:"extensionRef,omitzero"`

	// extensionID routes calls to the number to the PBX extension with this id, for extensions not
	// managed by an Extension. Unset (with extensionRef unset too) leaves the number unassigned.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ExtensionID int64 `json:"extensionID,omitempty"`

	// messages is Enabled (the number takes text messages) or Disabled (it refuses them, and no
	// extension receives them). Unset leaves the PBX's setting, and the extension that receives the
	// messages, as they are.
	// +optional
	Messages PhoneNumberMessages `json:"messages,omitempty"`

	// messageExtensionRef sends the text messages to the number to an Extension of this namespace;
	// it needs messages: Enabled. Unset (with messageExtensionID unset too) and messages Enabled
	// leaves no extension set for messages, and the PBX decides where they go.
	// +optional
	MessageExtensionRef PhoneNumberExtensionReference `json:"messageExtensionRef,omitzero"`

	// messageExtensionID sends the text messages to the number to the PBX extension with this id;
	// it needs messages: Enabled.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MessageExtensionID int64 `json:"messageExtensionID,omitempty"`

	// comment is the note the PBX keeps with the number. Unset leaves the PBX's comment as it is
	// (the provider may have written one); the operator never clears it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Comment string `json:"comment,omitempty"`
}

// PhoneNumberStatus is the observed routing of an external number.
// +kubebuilder:validation:MinProperties=1
type PhoneNumberStatus struct {
	ManagedStatus `json:",inline"`

	// extensionID is the PBX id of the extension that calls to the number reach, as the PBX reports
	// it. Unset while the number is unassigned or not observed yet.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ExtensionID int64 `json:"extensionID,omitempty"`

	// extensionFullName is the name of that extension, prefix*number (0003*101), when it is the
	// Extension named by extensionRef. Unset otherwise.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ExtensionFullName string `json:"extensionFullName,omitempty"`

	// messages is Enabled or Disabled: whether the number takes text messages, as the PBX reports
	// it. Unset until the number is observed.
	// +optional
	Messages PhoneNumberMessages `json:"messages,omitempty"`

	// messageExtensionID is the PBX id of the extension that receives the number's text messages,
	// as the PBX reports it. Unset when there is none.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MessageExtensionID int64 `json:"messageExtensionID,omitempty"`
}

// PhoneNumber is an external phone number (a DID) of the PBX client, and where its calls and text
// messages go. Deleting it unassigns the number (deletionPolicy Delete) or leaves it routed
// (Orphan); the number itself stays with the client either way.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=pbx,shortName=did
// +kubebuilder:printcolumn:name="Number",type=string,JSONPath=`.spec.number`
// +kubebuilder:printcolumn:name="Extension",type=string,JSONPath=`.spec.extensionRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].reason`
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.status.id`,priority=1
// +kubebuilder:printcolumn:name="Extension ID",type=integer,JSONPath=`.status.extensionID`,priority=1
// +kubebuilder:printcolumn:name="Full Name",type=string,JSONPath=`.status.extensionFullName`,priority=1
// +kubebuilder:printcolumn:name="Messages",type=string,JSONPath=`.status.messages`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PhoneNumber struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired routing of the number.
	// +required
	Spec PhoneNumberSpec `json:"spec,omitzero"`

	// status is the observed routing of the number.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status PhoneNumberStatus `json:"status,omitzero"`
}

// PhoneNumberList is a list of PhoneNumbers.
//
// +kubebuilder:object:root=true
type PhoneNumberList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []PhoneNumber `json:"items"`
}

// GetManagedSpec returns the shared spec block of a PhoneNumber, for the sync engine.
func (p *PhoneNumber) GetManagedSpec() *ManagedSpec { return &p.Spec.ManagedSpec }

// GetManagedStatus returns the shared status block of a PhoneNumber, for the sync engine.
func (p *PhoneNumber) GetManagedStatus() *ManagedStatus { return &p.Status.ManagedStatus }

func init() {
	register(&PhoneNumber{}, &PhoneNumberList{})
}
