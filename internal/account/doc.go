// Package account keeps one PBX connection per Account and ClusterAccount, shared by every
// controller: the pbx client (its token cache and request budget), what the account's user and
// client look like (realm, prefix, extension name length), and the parts the managed kinds
// register for each connection (the snapshots of their PBX objects).
//
// The Account controllers are the only writers: they build a connection when an account works,
// rebuild it when the account's spec or Secret changes (so a rotated secret takes effect without a
// restart), and drop it when the account is deleted or stops working. Managed resources read it
// through Registry.Connection. The package builds no engine errors: an account whose settings
// cannot work is an InvalidError, and the controllers say what it means for their resources.
package account
