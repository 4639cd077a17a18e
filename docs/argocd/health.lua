-- Health of a pbx.cloudpbx.dev resource for Argo CD (resource.customizations.health).
-- It reads the same conditions as kstatus (Flux): Stalled means a person must act, Reconciling
-- means work in progress, and Ready tells whether the PBX object (or the account) works.
local hs = {}
local annotations = obj.metadata.annotations or {}
if annotations["pbx.cloudpbx.dev/paused"] == "true" then
  hs.status = "Suspended"
  hs.message = "Writes to the PBX are paused by the pbx.cloudpbx.dev/paused annotation"
  return hs
end
local status = obj.status or {}
local generation = obj.metadata.generation or 0
if status.observedGeneration == nil or status.observedGeneration < generation or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to look at the latest spec"
  return hs
end
local byType = {}
for _, c in ipairs(status.conditions) do
  byType[c.type] = c
end
local stalled, reconciling, ready = byType["Stalled"], byType["Reconciling"], byType["Ready"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. (stalled.message or "")
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = reconciling.reason .. ": " .. (reconciling.message or "")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  local synced = byType["Synced"]
  if synced ~= nil and synced.status ~= "True" then
    hs.message = synced.reason .. ": " .. (synced.message or "")
  end
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = ready.reason .. ": " .. (ready.message or "")
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the operator to report the state of the PBX object"
return hs
