-- Argo CD health check for awsinvite.io/AwsAccountInvite (aws-invite-operator).
-- Install as argocd-cm key resource.customizations.health.awsinvite.io_AwsAccountInvite
-- (see integrations/argocd/README.md). Runs without Lua's standard libraries, as Argo CD
-- runs custom checks, so it uses only the base and table functions.
--
--   deleting                                   -> Progressing
--   no status, or status.observedGeneration
--   behind metadata.generation                 -> Progressing (the operator has not seen this spec yet)
--   Stalled=True                               -> Degraded    (nothing moves without a change; its message says what to do)
--   Ready=True                                 -> Healthy
--   Reconciling=True                           -> Progressing (the operator is working: sending, queued behind
--                                                              the daily budget, waiting for its billing profile, AWS retries)
--   waiting for the account owner (AwaitingAcceptance), or for
--   the IAM role / manual confirmation         -> Progressing (a person has to act; the message says who and what)
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
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return fallback .. " (" .. c.reason .. ")"
  end
  return fallback
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: the operator cancels an open invitation (spec.deletionPolicy CancelPending) before it removes its finalizer"
  return hs
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

-- A condition written for an older generation says nothing about this spec.
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
  hs.message = message(stalled, "Stalled: nothing will progress without a change")
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
  hs.message = message(reconciling, "The operator is working on it")
  return hs
end

local sent = current("InvitationSent")
if (ready ~= nil and ready.reason == "AwaitingAcceptance") or (sent ~= nil and sent.reason == "AwaitingAcceptance") then
  hs.status = "Progressing"
  if ready ~= nil and ready.reason == "AwaitingAcceptance" then
    hs.message = message(ready, "Waiting for the account owner to accept the invitation")
  else
    hs.message = message(sent, "Waiting for the account owner to accept the invitation")
  end
  return hs
end

hs.status = "Progressing"
local iam = current("IamAccessVerified")
if ready ~= nil then
  hs.message = message(ready, "Not ready yet")
elseif iam ~= nil and iam.status == "False" then
  hs.message = message(iam, "Waiting for the IAM access step")
else
  hs.message = "Waiting for the operator to report conditions"
end
return hs
