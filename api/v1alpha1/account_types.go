package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ConnectionSpec is the part of an account's spec that says how to reach the PBX API.
type ConnectionSpec struct {
	// url is the base URL of the PBX API host, such as https://apiproxy.example/. The operator calls
	// {url}/oauth/token for tokens and {url}/api/ver1.0/ for the API. It must use https; plain http is
	// accepted only for loopback hosts (localhost, 127.0.0.0/8, ::1), such as a local pbxsim.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#@]+') && isURL(self)",message="url must be an absolute http(s) URL such as https://apiproxy.example/"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('http://') || self.matches('^http://(localhost|127([.][0-9]{1,3}){3}|\\\\[::1\\\\])(:[0-9]{1,5})?([/?#].*)?$')",message="url must use https: plain http is allowed only for loopback hosts (localhost, 127.0.0.0/8, ::1), such as a local pbxsim"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^/?#]*//[^/?#]*@')",message="url must not contain a user name or password (https://user:password@host/): put the credentials in the Secret named by credentialsSecretRef"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?')",message="url must not have a query string (?...): give the base URL of the API only, such as https://apiproxy.example/"
	// +kubebuilder:validation:XValidation:rule="!self.contains('#')",message="url must not have a fragment (#...): give the base URL of the API only, such as https://apiproxy.example/"
	URL string `json:"url,omitempty"`

	// caBundleRef names a key of a ConfigMap or a Secret holding PEM-encoded CA certificates that the
	// operator trusts for this PBX, on top of the system's roots, such as the CA of a corporate proxy.
	// TLS is always verified. Unset means the system's roots only.
	// +optional
	CABundleRef CABundleReference `json:"caBundleRef,omitzero"`

	// requestsPerSecond fixes the rate of requests the operator sends to the PBX for this account,
	// shared by all controllers. Unset means the manager's --requests-per-second, whose default paces
	// by the hourly budget the PBX announces: fast while much of it is left, slower as it runs out.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	RequestsPerSecond int32 `json:"requestsPerSecond,omitempty"`

	// burst is the number of requests that may be sent at once above a fixed requestsPerSecond.
	// Unset means the manager's --burst (10).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Burst int32 `json:"burst,omitempty"`

	// writeReservePercent is the share of the PBX's hourly request budget kept for writes that users
	// asked for: once the rest is spent, periodic drift checks stop until the budget resets. Unset
	// means the manager's default (10).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=90
	WriteReservePercent *int32 `json:"writeReservePercent,omitempty"`

	// pollIntervalSeconds is how often the operator re-reads the PBX objects of this account to find
	// changes made outside Kubernetes. Unset means the manager's default (600, ten minutes).
	// +optional
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=86400
	PollIntervalSeconds int32 `json:"pollIntervalSeconds,omitempty"`
}

// CABundleKind is the kind of object that holds a CA bundle.
// +kubebuilder:validation:Enum=ConfigMap;Secret
type CABundleKind string

// CA bundle kinds.
const (
	// CABundleKindConfigMap is a ConfigMap: the usual home of public CA certificates.
	CABundleKindConfigMap CABundleKind = "ConfigMap"
	// CABundleKindSecret is a Secret, which the operator reads only when it carries the label
	// pbx.cloudpbx.dev/credentials: "true" (LabelCredentials).
	CABundleKindSecret CABundleKind = "Secret"
)

// CABundleReference names one key of a ConfigMap or a Secret holding PEM-encoded CA certificates.
type CABundleReference struct {
	// kind is ConfigMap or Secret. A Secret is read only when it carries the label
	// pbx.cloudpbx.dev/credentials: "true", as the credentials Secret does.
	// +required
	Kind CABundleKind `json:"kind,omitempty"`

	// name is the name of the ConfigMap or Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// namespace is the namespace of the ConfigMap or Secret. A ClusterAccount must set it; an Account
	// must leave it unset, because an Account's CA bundle is always in the Account's own namespace.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// key is the key in the ConfigMap's or Secret's data that holds the certificates, such as ca.crt.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// LocalSecretReference names a Secret in the referring object's own namespace.
type LocalSecretReference struct {
	// name is the name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// SecretReference names a Secret in a given namespace.
type SecretReference struct {
	// name is the name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// namespace is the namespace of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// Realm is the level of the PBX user an account's OAuth2 app acts for.
// +kubebuilder:validation:Enum=Client;ExtensionGroup;Extension
type Realm string

// Realms.
const (
	// RealmClient is a client-level user: it sees every object of its client.
	RealmClient Realm = "Client"
	// RealmExtensionGroup is an extension-group-level user: it sees the extensions of its group.
	RealmExtensionGroup Realm = "ExtensionGroup"
	// RealmExtension is an extension-level user: it sees its own extension.
	RealmExtension Realm = "Extension"
)

// AccountStatus is what the operator observed of an account's PBX user and client.
// +kubebuilder:validation:MinProperties=1
type AccountStatus struct {
	// conditions holds Ready: True when the credentials work and the PBX answered.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// realm is the level of the PBX user the app acts for (the user who registered the app). Unset
	// until the account is Ready.
	// +optional
	Realm Realm `json:"realm,omitempty"`

	// realmID is the PBX id of that user's client, extension group or extension.
	// +optional
	// +kubebuilder:validation:Minimum=1
	RealmID int64 `json:"realmID,omitempty"`

	// clientPrefix is the prefix the PBX puts before extension numbers (the 0003 of 0003*101). Unset
	// when the user cannot read its client.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	ClientPrefix string `json:"clientPrefix,omitempty"`

	// extensionNameLength is the number of digits every extension number of the client has. Unset
	// when the user cannot read its client.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	ExtensionNameLength int32 `json:"extensionNameLength,omitempty"`

	// limits are the client's limits on its numbers of objects, as the PBX reported them at the
	// account's last check (GET /client/{id}/limit/). Unset when the PBX does not report them.
	// +optional
	Limits AccountLimits `json:"limits,omitzero"`

	// requestBudget is the PBX's hourly request budget for the client, as the PBX announced it in
	// the X-RateLimit-* headers of its answers to the manager. To spare the API server it is not
	// written on every request: it is written when a new window begins and when the share left
	// falls below 50% or 10% or to 0, so remaining is as of observedTime. Unset until the PBX has
	// announced one.
	// +optional
	RequestBudget RequestBudget `json:"requestBudget,omitzero"`

	// observedGeneration is the metadata.generation that the conditions describe: it moves on every
	// reconcile that writes them, failing ones included. 0 (the default) until the operator has
	// looked at the resource, so that GitOps tools do not take a new resource for a ready one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=0
	ObservedGeneration *int64 `json:"observedGeneration,omitempty"`
}

// RequestBudget is a PBX client's hourly request budget as the manager saw it.
type RequestBudget struct {
	// limit is the number of requests the PBX allows the client in one window (an hour).
	// +required
	// +kubebuilder:validation:Minimum=1
	Limit int32 `json:"limit,omitempty"`

	// remaining is the number of requests the window had left at observedTime.
	// +required
	// +kubebuilder:validation:Minimum=0
	Remaining *int32 `json:"remaining,omitempty"`

	// resetTime is when the window ends and a new one begins with the whole limit.
	// +required
	ResetTime *metav1.Time `json:"resetTime,omitempty"`

	// observedTime is when the manager saw these numbers.
	// +required
	ObservedTime *metav1.Time `json:"observedTime,omitempty"`
}

// AccountLimits are a PBX client's limits on its numbers of objects. They are informational: the
// PBX enforces them, and refuses a create beyond a limit.
// +kubebuilder:validation:MinProperties=1
type AccountLimits struct {
	// eventSubscriptions is the limit on the client's event subscriptions (the webhooks of every
	// EventSubscription and of any other integration) and how many exist. Unset when the PBX does
	// not report it.
	// +optional
	EventSubscriptions LimitUsage `json:"eventSubscriptions,omitzero"`
}

// LimitUsage is one limit of a PBX client and how much of it is used.
type LimitUsage struct {
	// limit is the most objects of the kind the client may have.
	// +required
	// +kubebuilder:validation:Minimum=1
	Limit int32 `json:"limit,omitempty"`

	// used is how many objects of the kind the client has, at the account's last check. Unset when
	// the PBX does not report it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Used *int32 `json:"used,omitempty"`
}

// AccountSpec is the desired connection of an Account.
// +kubebuilder:validation:XValidation:rule="!has(self.caBundleRef) || !has(self.caBundleRef.__namespace__)",message="caBundleRef.namespace must be unset: an Account's CA bundle is in the Account's own namespace"
type AccountSpec struct {
	ConnectionSpec `json:",inline"`

	// credentialsSecretRef names a Secret in the Account's namespace holding the PBX OAuth2 app's
	// credentials under the keys clientID and clientSecret, and under url the only PBX they may be
	// sent to (it must be this account's url). The Secret must carry the label
	// pbx.cloudpbx.dev/credentials: "true". The app must be of type trusted (client credentials). A
	// change of the Secret takes effect without a restart.
	// +required
	CredentialsSecretRef LocalSecretReference `json:"credentialsSecretRef,omitzero"`
}

// Account is a connection to one PBX client, usable by managed resources in its own namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=pbx,shortName=pbxaccount
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Realm",type=string,JSONPath=`.status.realm`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Realm ID",type=integer,JSONPath=`.status.realmID`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Account struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the connection to the PBX.
	// +required
	Spec AccountSpec `json:"spec,omitzero"`

	// status is what the operator observed of the PBX user and client.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status AccountStatus `json:"status,omitzero"`
}

// AccountList is a list of Accounts.
//
// +kubebuilder:object:root=true
type AccountList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Account `json:"items"`
}

// ClusterAccountSpec is the desired connection of a ClusterAccount.
// +kubebuilder:validation:XValidation:rule="!has(self.caBundleRef) || has(self.caBundleRef.__namespace__)",message="caBundleRef.namespace is required: a ClusterAccount names the namespace of its CA bundle"
type ClusterAccountSpec struct {
	ConnectionSpec `json:",inline"`

	// credentialsSecretRef names the Secret, and its namespace (one the operator trusts), holding
	// the PBX OAuth2 app's credentials under the keys clientID and clientSecret, and under url the
	// only PBX they may be sent to (it must be this account's url). The Secret must carry the label
	// pbx.cloudpbx.dev/credentials: "true". The app must be of type trusted (client credentials). A
	// change of the Secret takes effect without a restart.
	// +required
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef,omitzero"`

	// namespaceSelector selects, by their labels, the namespaces whose resources may use this
	// ClusterAccount, as an admission webhook's namespaceSelector does. Unset selects no namespace:
	// a ClusterAccount is usable only where a cluster administrator says. {} selects every
	// namespace. A resource in a namespace it does not select is refused (InvalidSpec) and makes no
	// PBX call.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// ClusterAccount is a connection to one PBX client, usable by managed resources in the namespaces
// its namespaceSelector selects.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=pbx,shortName=pbxclusteraccount
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Realm",type=string,JSONPath=`.status.realm`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Realm ID",type=integer,JSONPath=`.status.realmID`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterAccount struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the connection to the PBX.
	// +required
	Spec ClusterAccountSpec `json:"spec,omitzero"`

	// status is what the operator observed of the PBX user and client.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status AccountStatus `json:"status,omitzero"`
}

// ClusterAccountList is a list of ClusterAccounts.
//
// +kubebuilder:object:root=true
type ClusterAccountList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ClusterAccount `json:"items"`
}

func init() {
	register(&Account{}, &AccountList{}, &ClusterAccount{}, &ClusterAccountList{})
}

// GetConnectionSpec returns how to reach the PBX, for the account controller.
func (a *Account) GetConnectionSpec() *ConnectionSpec { return &a.Spec.ConnectionSpec }

// GetAccountStatus returns the status, for the account controller.
func (a *Account) GetAccountStatus() *AccountStatus { return &a.Status }

// CredentialsSecret returns the namespace and name of the Secret with the app's credentials.
func (a *Account) CredentialsSecret() (namespace, name string) {
	return a.Namespace, a.Spec.CredentialsSecretRef.Name
}

// CABundle returns where the account's CA bundle is, with its namespace filled in; nil when the
// account trusts the system's roots only.
func (a *Account) CABundle() *CABundleReference {
	if a.Spec.CABundleRef == (CABundleReference{}) {
		return nil
	}
	ref := a.Spec.CABundleRef
	ref.Namespace = a.Namespace
	return &ref
}

// GetConnectionSpec returns how to reach the PBX, for the account controller.
func (a *ClusterAccount) GetConnectionSpec() *ConnectionSpec { return &a.Spec.ConnectionSpec }

// GetAccountStatus returns the status, for the account controller.
func (a *ClusterAccount) GetAccountStatus() *AccountStatus { return &a.Status }

// CredentialsSecret returns the namespace and name of the Secret with the app's credentials.
func (a *ClusterAccount) CredentialsSecret() (namespace, name string) {
	return a.Spec.CredentialsSecretRef.Namespace, a.Spec.CredentialsSecretRef.Name
}

// CABundle returns where the account's CA bundle is; nil when the account trusts the system's
// roots only.
func (a *ClusterAccount) CABundle() *CABundleReference {
	if a.Spec.CABundleRef == (CABundleReference{}) {
		return nil
	}
	ref := a.Spec.CABundleRef
	return &ref
}
