// Package plugin is the logic of the kubectl plugin kubectl-pbx (cmd/kubectl-pbx), which helps a
// team onboard an existing PBX and watch it afterwards:
//
//   - export reads a PBX account, through an Account of the cluster or a URL and credentials, and
//     writes ready-to-apply resources of every managed kind (groups, extensions, routed numbers,
//     webhooks) that the operator takes over without a single write to the PBX;
//   - plan tells, for a set of manifests, what the operator would do to the PBX if they were
//     applied (create, update with a field diff, adopt, delete on removal, or a stall) without
//     writing anything, neither to the cluster nor to the PBX. It decides by the engine's own
//     exported rules (internal/managed), and TestPlanAgreesWithTheEngine checks every case of its
//     table against the operator;
//   - status shows one screen per account from the custom resources' status: the request budget,
//     objects of every kind by Ready and Synced reason, the drifted ones and the last errors.
//
// The mapping from PBX objects to specs (spec.go) mirrors, read-only, the operator's own
// conversions in internal/controller, from the spec fields' documentation: the export is right
// when the operator finds every exported object up to date, which the round-trip test proves
// against the simulator with the real controllers.
//
// The pure parts (Build, Plan, Summarize) take their inputs as values and are table-tested; the
// commands (ExportCommand, PlanCommand, ReadStatus) gather those inputs from the cluster and the
// PBX; cmd/kubectl-pbx holds only their flags.
package plugin
