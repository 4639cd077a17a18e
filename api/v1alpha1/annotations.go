package v1alpha1

// Finalizer is the finalizer the operator puts on a managed resource before its first write to the
// PBX, so that deleting the resource deletes (or, with deletionPolicy Orphan, releases) the PBX object.
const Finalizer = "pbx.cloudpbx.dev/finalizer"

// Annotations that users and the operator set on managed resources.
const (
	// AnnotationPaused, set to "true", stops every write to the PBX for the resource. Its Synced
	// condition turns False with reason Paused. Deleting a paused resource still works.
	AnnotationPaused = "pbx.cloudpbx.dev/paused"

	// AnnotationReconcileRequestedAt asks for a reconcile now: any new value (a timestamp, by
	// convention) triggers one pass, which also re-reads the object from the PBX.
	AnnotationReconcileRequestedAt = "pbx.cloudpbx.dev/reconcile-requested-at"

	// AnnotationExternalID holds the PBX id of the object the resource manages. A user may set it on a
	// new resource to import one specific existing PBX object; the operator writes it next to
	// status.id for an object it adopted or imported (metadata survives backup and restore, status
	// does not). The id of an object the operator made is in status.id, and its create-pending mark
	// stays (AnnotationCreatePending).
	AnnotationExternalID = "pbx.cloudpbx.dev/external-id"

	// AnnotationExternalKey is written by the operator next to AnnotationExternalID for kinds whose
	// natural key the PBX changes in place (a group's name, a subscription's URL): the id and the
	// keys its object may carry, as the operator made, found or last changed it, in JSON
	// ({"id":85201,"keys":["Sales"]}). Written with the create-pending mark, before the id is
	// known, its id is 0: it records the keys of the object in status.id. An object at the recorded id with any other key is not the
	// resource's (the PBX reused the id after losing its data, or somebody changed it by hand): the
	// operator leaves it alone and makes the resource's object again.
	AnnotationExternalKey = "pbx.cloudpbx.dev/external-key"

	// AnnotationRealm is written by the operator next to AnnotationExternalID for kinds whose objects
	// live in a realm other than the account's client (an extension's event subscriptions): the realm
	// of the object, such as extension/303052. The object is found and deleted there after the
	// resource that named the realm is gone, also when the status is lost.
	AnnotationRealm = "pbx.cloudpbx.dev/realm"

	// AnnotationCreatePending is written by the operator just before it asks the PBX to create an
	// object (the time of the call), and stays: it says that the resource's create made an object
	// with its natural key, whose id, once known, is in status.id. If the create response is lost (or
	// the status, in a restore), the next pass finds the object by its natural key, sees this mark,
	// and adopts the object instead of creating another. It goes when the object is lost, with the id.
	AnnotationCreatePending = "pbx.cloudpbx.dev/create-pending"

	// AnnotationAdopt, set to "true", lets the operator take over an existing PBX object that has the
	// resource's natural key (an extension with the same number, a group with the same name). Without
	// it such a match is reported as AlreadyExists and left alone.
	AnnotationAdopt = "pbx.cloudpbx.dev/adopt"
	// AnnotationRotateCredentials, set on an Extension to a value it did not have, makes the operator
	// generate a new SIP password, set it in the PBX and write it to the credentials Secret.
	AnnotationRotateCredentials = "pbx.cloudpbx.dev/rotate-credentials"
)

// Labels that users set on their own objects.
const (
	// LabelCredentials on a Secret gives the Secret to the operator for one use, its value: the
	// operator reads only Secrets that carry it, uses each only for what its value says, and caches
	// no more than their metadata. Whoever can write the Secret gives it to the operator this way;
	// being able to create an Account or an Extension is not enough to make the operator read a
	// Secret.
	LabelCredentials = "pbx.cloudpbx.dev/credentials"
	// LabelCredentialsAccount ("true") gives a Secret as an account's PBX credentials (the keys
	// clientID, clientSecret and url: the only PBX they may be sent to) or CA bundle.
	LabelCredentialsAccount = "true"
	// LabelCredentialsPassword gives a Secret as the source of SIP passwords
	// (an Extension's passwordSecretRef).
	LabelCredentialsPassword = "sip-password"
	// LabelCredentialsSIP is the value of LabelCredentials on the SIP credentials Secrets the
	// operator writes: no account takes them for PBX credentials, and no Extension for a password.
	LabelCredentialsSIP = "sip"

	// LabelShard puts an Account or ClusterAccount, and the managed resources that use it, on one
	// shard of the operator: the manager started with --watch-label-selector
	// pbx.cloudpbx.dev/shard=NAME (--shard NAME) reconciles them, and no other. Without it they are
	// on the default shard, whose manager selects !pbx.cloudpbx.dev/shard. An account and its
	// resources must carry the same value (docs/scaling.md); a resource whose account is on another
	// shard reports which label to set.
	LabelShard = "pbx.cloudpbx.dev/shard"
)
