package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// EventType is the kind of call event an extension reports to a webhook.
// +kubebuilder:validation:Enum=DialIn;DialOut;Answer;Hangup;MessageIn;MessageOut;Voicemail
type EventType string

// Event types; the PBX writes them in lower case with dashes (dial-in, message-out).
const (
	// EventTypeDialIn is an incoming call ringing the extension.
	EventTypeDialIn EventType = "DialIn"
	// EventTypeDialOut is an outgoing call made from the extension.
	EventTypeDialOut EventType = "DialOut"
	// EventTypeAnswer is a call of the extension being answered.
	EventTypeAnswer EventType = "Answer"
	// EventTypeHangup is a call of the extension ending. It is the only event type the PBX takes on
	// IVR and Queue extensions.
	EventTypeHangup EventType = "Hangup"
	// EventTypeMessageIn is a text message received by the extension.
	EventTypeMessageIn EventType = "MessageIn"
	// EventTypeMessageOut is a text message sent from the extension.
	EventTypeMessageOut EventType = "MessageOut"
	// EventTypeVoicemail is a voicemail left on the extension.
	EventTypeVoicemail EventType = "Voicemail"
)

// EventMethod is the HTTP method the PBX calls a webhook with.
// +kubebuilder:validation:Enum=GET;POST
type EventMethod string

// Event methods.
const (
	// EventMethodGET sends the event's data in the request headers.
	EventMethodGET EventMethod = "GET"
	// EventMethodPOST sends the event's data as a form-encoded request body.
	EventMethodPOST EventMethod = "POST"
)

// URLScheme is the scheme of a URL the operator builds.
// +kubebuilder:validation:Enum=http;https
type URLScheme string

// URL schemes.
const (
	// URLSchemeHTTP is plain HTTP.
	URLSchemeHTTP URLScheme = "http"
	// URLSchemeHTTPS is HTTP over TLS.
	URLSchemeHTTPS URLScheme = "https"
)

// ExtensionReference names an Extension in the referring resource's namespace.
type ExtensionReference struct {
	// name is the name of the Extension.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// ServiceReference names a port of a Kubernetes Service that receives webhook calls. The operator
// builds the URL scheme://name.namespace.svc:port/path from it without reading the Service.
type ServiceReference struct {
	// name is the name of the Service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name,omitempty"`

	// namespace is the namespace of the Service. Unset means the EventSubscription's own namespace.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// port is the Service's port number that the PBX calls.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// scheme is http or https.
	// +required
	Scheme URLScheme `json:"scheme,omitempty"`

	// path is the path (and query, if any) the PBX calls, starting with a slash, such as /calls.
	// Unset means /.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="path must start with a slash, such as /calls"
	// +kubebuilder:validation:XValidation:rule="!self.contains('#')",message="path must not have a fragment (#...): the PBX does not send it"
	Path string `json:"path,omitempty"`
}

// EventSubscriptionSpec is the desired state of a PBX event subscription: a webhook that the PBX
// calls on one kind of call event of one extension.
//
// +kubebuilder:validation:XValidation:rule="has(self.extensionRef) != has(self.extensionID)",message="set exactly one of extensionRef and extensionID"
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.serviceRef)",message="set exactly one of url and serviceRef"
// +kubebuilder:validation:XValidation:rule="has(self.extensionRef) == has(oldSelf.extensionRef)",message="the extension is immutable: the PBX cannot move a subscription to another extension; create a new EventSubscription"
type EventSubscriptionSpec struct {
	ManagedSpec `json:",inline"`

	// extensionRef names the Extension, in this namespace, whose events are subscribed. The
	// subscription waits, with reason DependencyNotReady, until the Extension is Ready. It cannot be
	// changed: the PBX cannot move a subscription to another extension.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="extensionRef is immutable: the PBX cannot move a subscription to another extension; create a new EventSubscription"
	ExtensionRef ExtensionReference `json:"extensionRef,omitzero"`

	// extensionID is the PBX id of the extension whose events are subscribed, for extensions not
	// managed by an Extension. It cannot be changed.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="extensionID is immutable: the PBX cannot move a subscription to another extension; create a new EventSubscription"
	ExtensionID int64 `json:"extensionID,omitempty"`

	// eventType is the call event the PBX reports: DialIn, DialOut, Answer, Hangup, MessageIn,
	// MessageOut or Voicemail. IVR and Queue extensions take Hangup only.
	// +required
	EventType EventType `json:"eventType,omitempty"`

	// method is how the PBX calls the URL: POST (the default) sends the event's data as a
	// form-encoded body, GET sends it in request headers.
	// +optional
	// +kubebuilder:default=POST
	Method EventMethod `json:"method,omitempty"`

	// url is the absolute https URL the PBX calls, such as https://hooks.example/calls. The PBX
	// must be able to reach it. Plain http is allowed only to a loopback host (localhost,
	// 127.0.0.0/8, [::1]) or an in-cluster Service (name.namespace.svc, or
	// name.namespace.svc.cluster.local): the PBX sends call data, and the query often carries a
	// token. The query is never shown in status, events or logs.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#@]+') && isURL(self)",message="url must be an absolute http(s) URL such as https://hooks.example/calls"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('http://') || self.matches('^http://(localhost|127([.][0-9]{1,3}){3}|\\\\[::1\\\\]|[a-z0-9]([-a-z0-9.]*[a-z0-9])?[.]svc([.]cluster[.]local)?)(:[0-9]{1,5})?([/?#].*)?$')",message="url must use https: plain http is allowed only for loopback hosts (localhost, 127.0.0.0/8, [::1]) and in-cluster Services (name.namespace.svc), since the PBX sends call data and often a token in the query"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^/?#]*//[^/?#]*@')",message="url must not contain a user name or password (https://user:password@host/): kubectl get and the PBX's subscription list would show them"
	// +kubebuilder:validation:XValidation:rule="!self.contains('#')",message="url must not have a fragment (#...): the PBX does not send it"
	URL string `json:"url,omitempty"`

	// serviceRef names a Service port that the PBX calls, at
	// scheme://name.namespace.svc:port/path. Only a PBX that resolves the cluster's DNS names (one
	// running in the cluster, or behind a resolver that forwards to it) can reach it.
	// +optional
	ServiceRef ServiceReference `json:"serviceRef,omitzero"`
}

// EventSubscriptionStatus is the observed state of a PBX event subscription.
// +kubebuilder:validation:MinProperties=1
type EventSubscriptionStatus struct {
	ManagedStatus `json:",inline"`

	// url is the URL the PBX is to call: spec.url, or the URL built from spec.serviceRef, with its
	// query (which often carries a token) shown as ?REDACTED. Unset until the operator has resolved
	// the subscription's extension.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url,omitempty"`

	// extensionID is the PBX id of the extension whose events are subscribed. Unset until the
	// operator has resolved it (an Extension must be Ready first).
	// +optional
	// +kubebuilder:validation:Minimum=1
	ExtensionID int64 `json:"extensionID,omitempty"`
}

// EventSubscription is a webhook on the call events of one PBX extension: the PBX calls a URL
// each time an event of the given type happens on the extension.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=pbx,shortName=evsub
// +kubebuilder:printcolumn:name="Extension",type=string,JSONPath=`.spec.extensionRef.name`
// +kubebuilder:printcolumn:name="Event",type=string,JSONPath=`.spec.eventType`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].reason`
// +kubebuilder:printcolumn:name="ID",type=integer,JSONPath=`.status.id`,priority=1
// +kubebuilder:printcolumn:name="Extension ID",type=integer,JSONPath=`.status.extensionID`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EventSubscription struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state of the subscription.
	// +required
	Spec EventSubscriptionSpec `json:"spec,omitzero"`

	// status is the observed state of the subscription.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status EventSubscriptionStatus `json:"status,omitzero"`
}

// EventSubscriptionList is a list of EventSubscriptions.
//
// +kubebuilder:object:root=true
type EventSubscriptionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []EventSubscription `json:"items"`
}

func init() {
	register(&EventSubscription{}, &EventSubscriptionList{})
}

// GetManagedSpec returns the shared spec block of an EventSubscription, for the sync engine.
func (s *EventSubscription) GetManagedSpec() *ManagedSpec { return &s.Spec.ManagedSpec }

// GetManagedStatus returns the shared status block of an EventSubscription, for the sync engine.
func (s *EventSubscription) GetManagedStatus() *ManagedStatus { return &s.Status.ManagedStatus }
