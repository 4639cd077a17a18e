package v1alpha1

// Condition types. Every resource reports Ready; managed resources (ExtensionGroup, Extension) also
// report Synced. docs/conditions.md explains every reason and what to do about it.
const (
	// ConditionReady is True when the most recent observation found the PBX object present and usable
	// (for an account: the credentials work and the PBX answered). It does not drop while an edit is
	// being applied.
	//
	// Reasons: Available (True); Creating, Deleting, DependencyNotReady, AlreadyExists, Unavailable
	// (False); for accounts also Unauthorized, Forbidden, APIUnavailable, RateLimited, InvalidSpec and
	// InUse.
	ConditionReady = "Ready"

	// ConditionSynced is True when the last reconcile succeeded and its observation found the PBX
	// object matching the spec at the condition's observedGeneration. To wait for an edit to land,
	// wait for Synced=True with observedGeneration equal to metadata.generation.
	//
	// Reasons: UpToDate (True); Creating, Updating, DependencyNotReady, InvalidSpec, AlreadyExists,
	// Conflict, Unauthorized, Forbidden, RateLimited, APIUnavailable, ReconcileError, Paused,
	// Drifted and Unavailable (False).
	ConditionSynced = "Synced"

	// ConditionReconciling is True while the operator is working towards the spec or waiting for
	// something that will pass by itself (a create or update to confirm, a dependency, the request
	// budget, a PBX outage). It follows the kstatus convention that Flux, Argo CD and kpt read
	// (InProgress). Its reason and message are those of Synced (for accounts, Ready). Absent when
	// there is nothing to do.
	ConditionReconciling = "Reconciling"

	// ConditionStalled is True when only a person can move the resource on: the PBX rejected the
	// spec (InvalidSpec), the object belongs to somebody else (AlreadyExists, Conflict), the
	// credentials do not work (Unauthorized, Forbidden, a missing Secret), or an ObserveOnly
	// resource has no object (Unavailable). kstatus reports it as Failed. Its reason and message are
	// those of Synced (for accounts, Ready). Absent otherwise.
	ConditionStalled = "Stalled"
)

// Condition reasons.
const (
	// ReasonAvailable: the PBX object exists and is usable (Ready=True).
	ReasonAvailable = "Available"
	// ReasonUpToDate: the PBX object matches the spec (Synced=True).
	ReasonUpToDate = "UpToDate"
	// ReasonCreating: the create call was sent; a later observation confirms it.
	ReasonCreating = "Creating"
	// ReasonUpdating: an update was sent; a later observation confirms it.
	ReasonUpdating = "Updating"
	// ReasonDeleting: the resource is being deleted and the PBX object is not gone yet.
	ReasonDeleting = "Deleting"
	// ReasonUnavailable: the PBX object does not exist and cannot be created now, or has never been
	// observed because of errors.
	ReasonUnavailable = "Unavailable"
	// ReasonNotFound: the PBX object cannot be created through the API and is not in the account (a
	// phone number the provider has not allocated to the client). Looked for again every minute.
	ReasonNotFound = "NotFound"
	// ReasonDependencyNotReady: a referenced account or group is missing or not Ready yet.
	ReasonDependencyNotReady = "DependencyNotReady"
	// ReasonInvalidSpec: the PBX rejected the spec (400), or a reference cannot be resolved. Retried
	// when the spec changes.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonAlreadyExists: a PBX object with the same natural key exists and is not ours. Retried when
	// the adopt annotation is set.
	ReasonAlreadyExists = "AlreadyExists"
	// ReasonConflict: another resource already manages the same PBX object, or the natural key matches
	// several PBX objects.
	ReasonConflict = "Conflict"
	// ReasonUnauthorized: the PBX refused the credentials (401 after a token renewal).
	ReasonUnauthorized = "Unauthorized"
	// ReasonForbidden: the PBX refused the operation for this user or app (403).
	ReasonForbidden = "Forbidden"
	// ReasonRateLimited: the account's request budget is spent (429); calls resume at the reset.
	ReasonRateLimited = "RateLimited"
	// ReasonAPIUnavailable: the PBX answered 5xx, timed out, or could not be reached. Retried with
	// exponential backoff.
	ReasonAPIUnavailable = "APIUnavailable"
	// ReasonReconcileError: an error the operator could not classify.
	ReasonReconcileError = "ReconcileError"
	// ReasonDrifted: with managementPolicy ObserveOnly, the PBX object differs from the spec; the
	// operator reports it and changes nothing.
	ReasonDrifted = "Drifted"
	// ReasonPaused: the paused annotation stops every write to the PBX.
	ReasonPaused = "Paused"
	// ReasonInUse: an account that is being deleted is still referenced by managed resources; its
	// finalizer holds the deletion until they are gone.
	ReasonInUse = "InUse"
)
