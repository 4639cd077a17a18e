// Package snapshot keeps, per PBX account and resource kind, a copy of the upstream collection, so
// that observing N objects costs about N/per_page list calls per poll interval instead of N GETs.
//
// A Store is refreshed by a paged list at most once per interval (concurrent readers share one
// refresh), serves reads from memory in between, and learns of the operator's own writes at once
// (read-your-writes), so a create or update is observed without waiting for the next list. Each
// refresh compares the new copy with the old one and reports the owners of objects that changed or
// vanished upstream, so their resources are reconciled and the drift reverted.
package snapshot
