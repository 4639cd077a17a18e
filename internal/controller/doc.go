// Package controller holds the per-kind parts of pbx-operator: the Account and ClusterAccount
// controllers, which connect to the PBX, and for each managed kind (ExtensionGroup, Extension) the
// pure conversions between spec and PBX object, the adapter with the four verbs of the sync
// engine (internal/managed), and the Setup function that registers it with the manager, its
// watches and field indexes.
package controller
