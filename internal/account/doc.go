// Package account keeps one PBX connection per Account and ClusterAccount, shared by every
// controller: the pbx client (its token cache and request budget), what the account's user and
// client look like (realm, prefix, extension name length), and the snapshots of the account's
// extension groups and extensions.
//
// The Account controllers are the only writers: they build a connection when an account works,
// rebuild it when the account's spec or Secret changes (so a rotated secret takes effect without a
// restart), and drop it when the account is deleted or stops working. Managed resources read it
// through Registry.Connection, which answers DependencyNotReady while the account is not Ready.
package account
