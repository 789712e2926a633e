-- Argo CD health check for awsinvite.io/BillingTransfer (aws-invite-operator).
-- Install as argocd-cm key resource.customizations.health.awsinvite.io_BillingTransfer
-- (see integrations/argocd/README.md). Same rules as the AwsAccountInvite check:
--
--   deleting, no status, or status.observedGeneration behind metadata.generation -> Progressing
--   Stalled=True                               -> Degraded    (declined, expired without re-invite, start month too early, ...)
--   Ready=True                                 -> Healthy     (accepted; InEffect says whether the payer pays already)
--   Reconciling=True                           -> Progressing (sending, waiting for the start month's window, the profile, AWS)
--   waiting for the customer (AwaitingAcceptance) -> Progressing (the customer's management account has to accept)
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
  hs.message = "Being deleted: the operator applies spec.deletionPolicy (cancel an unanswered invitation; Withdraw also withdraws an accepted transfer) before it removes its finalizer"
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

-- While the customer decides, the operator writes no Ready condition and says so in
-- TransferAccepted=False (reason AwaitingAcceptance).
local accepted = current("TransferAccepted")
if accepted ~= nil and accepted.status == "False" and accepted.reason == "AwaitingAcceptance" then
  hs.status = "Progressing"
  hs.message = message(accepted, "Waiting for the customer's management account to accept the billing transfer")
  return hs
end

hs.status = "Progressing"
if ready ~= nil then
  hs.message = message(ready, "Not ready yet")
else
  hs.message = "Waiting for the operator to report conditions"
end
return hs
