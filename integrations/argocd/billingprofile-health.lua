-- Argo CD health check for awsinvite.io/BillingProfile (aws-invite-operator).
-- Install as argocd-cm key resource.customizations.health.awsinvite.io_BillingProfile
-- (see integrations/argocd/README.md). Runs without Lua's standard libraries, as Argo CD
-- runs custom checks, so it uses only the base and table functions.
--
--   deleting                                   -> Progressing
--   no status, or status.observedGeneration
--   behind metadata.generation                 -> Progressing (the operator has not checked this spec yet)
--   Stalled=True                               -> Degraded
--   Ready=True                                 -> Healthy     (the credentials reach the organization the spec names)
--   Reconciling=True                           -> Progressing
--   Ready=False                                -> Degraded    ("<reason>: <message>", e.g. WrongOrganization, AccessDenied;
--                                                              invites naming this profile wait until it is fixed)
--   anything else (Ready Unknown or absent)    -> Progressing
local hs = {}

local function condition(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function message(c, fallback)
  local text = fallback
  if c.message ~= nil and c.message ~= "" then
    text = c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason .. ": " .. text
  end
  return text
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted"
  return hs
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to check the profile's credentials and organization"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to check generation " .. generation
  return hs
end

local function current(kind)
  local c = condition(obj.status.conditions, kind)
  if c == nil then
    return nil
  end
  if generation ~= nil and c.observedGeneration ~= nil and c.observedGeneration < generation then
    return nil
  end
  return c
end

local stalled = current("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = message(stalled, "Stalled")
  return hs
end

local ready = current("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message(ready, "Ready")
  return hs
end

local reconciling = current("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = message(reconciling, "The operator is checking the profile")
  return hs
end

if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = message(ready, "Not ready")
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the operator to check the profile's credentials and organization"
return hs
