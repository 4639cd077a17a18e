package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ExtensionType is what an extension does. It decides which settings the extension has.
// +kubebuilder:validation:Enum=Phone;Queue;IVR;Fax
type ExtensionType string

// Extension types.
const (
	// ExtensionTypePhone is a SIP phone line.
	ExtensionTypePhone ExtensionType = "Phone"
	// ExtensionTypeQueue is a call queue.
	ExtensionTypeQueue ExtensionType = "Queue"
	// ExtensionTypeIVR is an interactive voice menu.
	ExtensionTypeIVR ExtensionType = "IVR"
	// ExtensionTypeFax is a fax receiver.
	ExtensionTypeFax ExtensionType = "Fax"
)

// ExtensionState says whether an extension takes and makes calls.
// +kubebuilder:validation:Enum=Active;Blocked
type ExtensionState string

// Extension states.
const (
	// ExtensionStateActive is a working extension.
	ExtensionStateActive ExtensionState = "Active"
	// ExtensionStateBlocked is an extension that neither takes nor makes calls.
	ExtensionStateBlocked ExtensionState = "Blocked"
)

// GroupReference names an ExtensionGroup in the referring Extension's namespace.
type GroupReference struct {
	// name is the name of the ExtensionGroup.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// PhoneAuthType is how a phone proves itself when it registers.
// +kubebuilder:validation:Enum=Digest;Network;Both
type PhoneAuthType string

// Phone authentication types.
const (
	// PhoneAuthDigest is a SIP password (the PBX's default).
	PhoneAuthDigest PhoneAuthType = "Digest"
	// PhoneAuthNetwork accepts registrations only from the networks allowed in the PBX.
	PhoneAuthNetwork PhoneAuthType = "Network"
	// PhoneAuthBoth needs the password and an allowed network.
	PhoneAuthBoth PhoneAuthType = "Both"
)

// Toggle turns a phone feature on or off.
// +kubebuilder:validation:Enum=Enabled;Disabled
type Toggle string

// Toggle values.
const (
	// ToggleEnabled turns the feature on.
	ToggleEnabled Toggle = "Enabled"
	// ToggleDisabled turns the feature off.
	ToggleDisabled Toggle = "Disabled"
)

// Recording says which calls of a phone are recorded.
// +kubebuilder:validation:Enum=Off;Calls;CallsAndTransfers
type Recording string

// Recording values.
const (
	// RecordingOff records nothing.
	RecordingOff Recording = "Off"
	// RecordingCalls records the phone's calls.
	RecordingCalls Recording = "Calls"
	// RecordingCallsAndTransfers records its calls and the calls it forwards.
	RecordingCallsAndTransfers Recording = "CallsAndTransfers"
)

// PhoneSettings are the settings of a Phone extension's SIP terminal. A setting left unset is left
// as the PBX has it.
// +kubebuilder:validation:MinProperties=1
type PhoneSettings struct {
	// authType is how the phone proves itself when it registers: Digest (a SIP password, the PBX's
	// default), Network (only from the networks allowed in the PBX), or Both.
	// +optional
	AuthType PhoneAuthType `json:"authType,omitempty"`

	// webRTC lets the extension work over WebRTC (a browser softphone): Enabled or Disabled.
	// +optional
	WebRTC Toggle `json:"webRTC,omitempty"`

	// recording says which calls are recorded: Off, Calls, or CallsAndTransfers.
	// +optional
	Recording Recording `json:"recording,omitempty"`

	// callScreening announces the caller and lets the phone accept with 1: Enabled or Disabled.
	// +optional
	CallScreening Toggle `json:"callScreening,omitempty"`

	// conferenceCallerNames announces the callers' names in the phone's *8 conferences: Enabled
	// or Disabled.
	// +optional
	ConferenceCallerNames Toggle `json:"conferenceCallerNames,omitempty"`

	// conferenceEndOnExit ends the phone's *8 conference when the phone leaves it: Enabled or
	// Disabled.
	// +optional
	ConferenceEndOnExit Toggle `json:"conferenceEndOnExit,omitempty"`

	// callerNameSuffixOnTransfer is appended to the caller name of the calls the phone forwards.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	CallerNameSuffixOnTransfer string `json:"callerNameSuffixOnTransfer,omitempty"`

	// geoList are the countries (ISO 3166 alpha-2 codes, such as US or DE) allowed to use the SIP
	// account.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=250
	// +kubebuilder:validation:items:Pattern=`^[A-Z]{2}$`
	// +kubebuilder:validation:items:MinLength=2
	// +kubebuilder:validation:items:MaxLength=2
	GeoList []string `json:"geoList,omitempty"`
}

// CredentialsSecretReference names the Secret the operator writes a phone's SIP credentials to,
// in the Extension's namespace.
type CredentialsSecretReference struct {
	// name is the name of the Secret. The operator creates it, owned by the Extension (so it goes
	// with the Extension), and refuses to write a Secret that exists and is not the Extension's.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name,omitempty"`
}

// PasswordSecretReference names the key of a Secret, in the Extension's namespace, that holds a SIP
// password the user chose.
type PasswordSecretReference struct {
	// name is the name of the Secret. It must carry the label pbx.cloudpbx.dev/credentials: "true":
	// the operator reads no Secret that was not given to it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name,omitempty"`

	// key is the key of the password in the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// ExtensionSpec is the desired state of a PBX extension (an internal number).
//
// +kubebuilder:validation:XValidation:rule="!(has(self.groupRef) && has(self.groupID))",message="groupRef and groupID are mutually exclusive: set one of them, or neither"
// +kubebuilder:validation:XValidation:rule="!has(self.phone) || self.type == 'Phone'",message="phone settings are for extensions of type Phone only"
// +kubebuilder:validation:XValidation:rule="!has(self.writeCredentialsSecretRef) || self.type == 'Phone'",message="SIP credentials are for extensions of type Phone only"
// +kubebuilder:validation:XValidation:rule="!has(self.passwordSecretRef) || has(self.writeCredentialsSecretRef)",message="passwordSecretRef needs writeCredentialsSecretRef: the operator delivers the password it sets in that Secret"
// +kubebuilder:validation:XValidation:rule="!has(self.passwordSecretRef) || !has(self.writeCredentialsSecretRef) || self.passwordSecretRef.name != self.writeCredentialsSecretRef.name",message="passwordSecretRef and writeCredentialsSecretRef must name two Secrets: the operator writes the second and only reads the first"
// +kubebuilder:validation:XValidation:rule="!has(self.writeCredentialsSecretRef) || !has(self.managementPolicy) || self.managementPolicy != 'ObserveOnly'",message="writeCredentialsSecretRef needs managementPolicy Manage: setting the SIP password is a write to the PBX"
type ExtensionSpec struct {
	ManagedSpec `json:",inline"`

	// name is the extension's short number within its client, digits only (101; the PBX reports it
	// as prefix*101). It must have as many digits as the client's extension numbers (see the account's
	// status.extensionNameLength). It cannot be changed: the PBX cannot renumber an extension.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+$')",message="name must be the extension's short number, digits only (for example 101)"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="name is immutable: the PBX cannot renumber an extension; create a new Extension for the new number"
	Name string `json:"name,omitempty"`

	// type is what the extension does: Phone, Queue, IVR or Fax. It cannot be changed.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="type is immutable: create a new Extension for another type"
	Type ExtensionType `json:"type,omitempty"`

	// state is Active (the default) or Blocked. The PBX itself makes new extensions blocked; the
	// operator always sends the state, so an Extension without one is active.
	// +optional
	// +kubebuilder:default=Active
	State ExtensionState `json:"state,omitempty"`

	// label is the display name shown on the called phone for outgoing calls. Unset clears it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Label string `json:"label,omitempty"`

	// callerIDName is the caller ID name of outgoing calls. Unset clears it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	CallerIDName string `json:"callerIDName,omitempty"`

	// extraParams is free-form text the PBX stores with the extension (extra_params). Unset clears
	// it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	ExtraParams string `json:"extraParams,omitempty"`

	// groupRef puts the extension in an ExtensionGroup of this namespace. The extension waits, with
	// reason DependencyNotReady, until the group is Ready. Unset (with groupID unset too) takes the
	// extension out of any group.
	// +optional
	GroupRef *GroupReference `json:"groupRef,omitempty"`

	// groupID puts the extension in the PBX extension group with this id, for groups not managed by
	// an ExtensionGroup. Unset (with groupRef unset too) takes the extension out of any group.
	// +optional
	// +kubebuilder:validation:Minimum=1
	GroupID int64 `json:"groupID,omitempty"`

	// dialRuleID is the PBX id of the outgoing-call rule list applied to the extension. Unset clears
	// it, so only the client's rules apply.
	// +optional
	// +kubebuilder:validation:Minimum=1
	DialRuleID int64 `json:"dialRuleID,omitempty"`

	// phone holds the settings of a Phone extension's SIP terminal. A setting left unset is left as
	// the PBX has it.
	// +optional
	Phone PhoneSettings `json:"phone,omitzero"`

	// writeCredentialsSecretRef makes the operator set the phone's SIP password in the PBX and write
	// the SIP credentials into this Secret (keys username, password, domain, registrar and uri), for
	// a phone or softphone to mount. The password is generated (26 random base32 characters, 130 bits) unless
	// passwordSecretRef gives one; the annotation pbx.cloudpbx.dev/rotate-credentials, set to a new
	// value, makes a new one.
	// +optional
	WriteCredentialsSecretRef CredentialsSecretReference `json:"writeCredentialsSecretRef,omitzero"`

	// passwordSecretRef takes the SIP password from a key of a Secret the user provides, instead of
	// a generated one. The Secret must carry the label pbx.cloudpbx.dev/credentials: sip-password
	// (an account's credentials Secret is never a password source). A change of that Secret sets
	// the new password.
	// +optional
	PasswordSecretRef PasswordSecretReference `json:"passwordSecretRef,omitzero"`
}

// ExtensionStatus is the observed state of a PBX extension.
// +kubebuilder:validation:MinProperties=1
type ExtensionStatus struct {
	ManagedStatus `json:",inline"`

	// fullName is the extension's name as the PBX reports it, prefix*number (0003*101).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	FullName string `json:"fullName,omitempty"`

	// domain is the SIP domain of the extension.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Domain string `json:"domain,omitempty"`
}

// Extension is a PBX extension (an internal number): a phone line, a queue, a voice menu or a fax.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=pbx,shortName=ext
// +kubebuilder:printcolumn:name="Number",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].reason`
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.status.id`,priority=1
// +kubebuilder:printcolumn:name="Full Name",type=string,JSONPath=`.status.fullName`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Extension struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state of the extension.
	// +required
	Spec ExtensionSpec `json:"spec,omitzero"`

	// status is the observed state of the extension.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status ExtensionStatus `json:"status,omitzero"`
}

// ExtensionList is a list of Extensions.
//
// +kubebuilder:object:root=true
type ExtensionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Extension `json:"items"`
}

func init() {
	register(&Extension{}, &ExtensionList{})
}
