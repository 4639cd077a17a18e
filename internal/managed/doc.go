// Package managed is the sync engine: one generic reconciler that owns the whole lifecycle of a
// custom resource standing for one PBX object, so that per-kind code only translates.
//
// A kind supplies a Connector, which resolves the resource's account and references and returns an
// Adapter with four verbs against the PBX (Observe, Create, Update and Delete) and the facts the
// engine needs of the kind and its account: whether its natural key changes in place (Key), the
// realm its objects live in (Realm), what to forget when a resource lets its object go (Release),
// and the account's pace and poll interval (Turn, PollInterval). Every method is required, so a
// kind states each fact and a forgotten one is a compile error. The Reconciler runs one pass in
// named steps:
//
//  1. the single status write is deferred: it happens once at the end of the pass, only if the
//     status changed, and moves status.observedGeneration on every pass that wrote conditions,
//     failing ones too (the conditions then describe that generation);
//  2. a resource being deleted runs its deletionPolicy (Delete deletes the PBX object, treating
//     "already gone" as success; Orphan just releases it) and loses its finalizer;
//  3. a resource with the paused annotation gets Synced=False (Paused) and nothing more;
//  4. the finalizer is added before any write to the PBX;
//  5. Connect resolves the account and references (DependencyNotReady while they are not Ready);
//  6. the claim check makes sure no other resource holds the same PBX object (Conflict);
//  7. Observe finds the PBX object by id or natural key;
//  8. then Create, Update, or nothing; ObserveOnly never writes and reports Drifted instead;
//  9. conditions, events and the next pass follow from the outcome and the error class.
//
// # Identity
//
// The PBX id is kept in status.id, and, for an object the resource did not make (adopted or
// imported), in the external-id annotation too. Before every create the engine sets the
// create-pending annotation, with the finalizer and the keys and realm of the object to be made,
// in one write; after it, the pass's status write records the id: two API-server writes per
// create. The mark stays, so that a lost create answer (a timeout, a crash, a restart, a lost
// status write, a restore without status) heals itself: the next pass finds the object by its
// natural key, sees the mark and adopts it. A natural-key match without the mark is somebody
// else's object (AlreadyExists) until the adopt annotation opts in. identity.go holds all of it,
// with the story of a lost create answer step by step.
//
// # Errors
//
// The engine classifies every error once (docs/conditions.md lists the reasons): the PBX client's
// errors through small interfaces (HTTPStatus, PBXMessage, RetryAfter, Deferred, Oversize), transport
// failures and answers past the client's bounds as APIUnavailable with exponential backoff, and
// the classes only adapters know through DependencyNotReady, InvalidSpec, NotFound and Conflict.
// Messages are cut at MaxMessage, since they may quote the PBX. Invalid specs are terminal errors
// that wait for a change of the spec; rate limits wait for the reset; nothing hot-loops against
// the PBX. Adapters never build a ctrl.Result.
package managed
