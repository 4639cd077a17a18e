// Package chaos holds the chaos suite: the test a hostile new user runs. Like test/e2e it drives
// the real manager binary and the pbxsim binary through the Kubernetes API of the local control
// plane, and asserts the end state in pbxsim's world, never the calls.
//
// One scenario, in two sizes. The PBX misbehaves on every method and path (5xx, 429 with a short
// reset, latency spikes past the manager's --pbx-timeout, and on POST, PUT and DELETE answers
// dropped or replaced by a 504 after the change was made) while:
//
//  1. Extensions spread over ExtensionGroups are created, with EventSubscriptions on some of them
//     and PhoneNumbers routing the tenant's DIDs to others, and the manager is SIGKILLed and
//     restarted several times in the middle;
//  2. the PBX loses its data (POST /_pbxsim/reset: ids start over, so new objects get the ids the
//     lost ones had) and the operator must recreate everything, each resource with the id of the
//     object that carries its own natural key;
//  3. an Account is deleted together with its Extensions, and Extensions with deletionPolicy
//     Delete and Orphan, EventSubscriptions and PhoneNumbers are deleted, while the manager is
//     down (SIGKILLed just before), and killed again while the deletes run.
//
// Then the faults stop and the world must be exactly as declared: no duplicate, missing or leaked
// PBX object (an orphaned one stays; a webhook is one subscription with its URL; a number rings
// where its PhoneNumber says, or nowhere), every remaining resource Ready and Synced with the right
// status.id, no resource stuck in deletion, and no PBX write in a quiet window. The test logs the
// numbers: objects, faults that fired by kind, kills, POSTs per object and times to converge.
//
// The short size runs in 'make test' (and any 'go test' without -short, given KUBEBUILDER_ASSETS);
// CHAOS_LONG=1 selects the long size (1,000 Extensions, about 20% faults, eleven SIGKILLs),
// which 'make test-chaos' runs. On failure the logs of pbxsim and the manager (one file across
// restarts, with a line at every kill) are kept and their folder printed.
package chaos
