// Package controller holds the per-kind parts of pbx-operator: the Account and ClusterAccount
// controllers, which connect to the PBX, and for each managed kind the pure conversions between
// spec and PBX object (<kind>_convert.go), the adapter with the four verbs of the sync engine
// (internal/managed, in <kind>_adapter.go), and the setup that registers it with the manager, its
// snapshot, watches and field indexes (<kind>_controller.go). kinds.go lists the managed kinds.
package controller
