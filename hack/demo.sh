#!/usr/bin/env bash
# The whole flow on this machine, no AWS account needed: a local control plane (etcd +
# kube-apiserver), the orgs-emulator (AWS Organizations/STS/IAM), the operator, and
# examples/. It then plays the invited account owners (accept; create the cost tool's role) and
# the customer whose account manages an organization of its own (accept the billing transfer),
# and shows the invites and the BillingTransfer moving through their phases to Ready.
# Everything is stopped at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash hack/prereqs.sh
assets="$(bash hack/kube-binaries.sh)"
export KUBE_TESTENV_ASSETS="$assets"
export PATH="$assets:$PATH"
echo "==> building the operator, the emulator and the control-plane launcher" >&2
cargo build --quiet --locked -p aws-invite-operator -p orgs-emulator -p kube-testenv --bins
bin="$root/target/debug"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

deadline_wait() { # deadline_wait SECONDS DESCRIPTION COMMAND...
  local secs="$1" what="$2"; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then echo "timed out waiting for $what" >&2; return 1; fi
    sleep 0.5
  done
}

emulator_port=4566
echo "==> orgs-emulator on 127.0.0.1:$emulator_port" >&2
"$bin/orgs-emulator" --listen "127.0.0.1:$emulator_port" --seed hack/demo-seed.yaml >"$work/emulator.log" 2>&1 &
pids+=($!)
emulator="http://127.0.0.1:$emulator_port"
deadline_wait 30 "the emulator" curl -sf "$emulator/_emulator/health"

echo "==> local control plane" >&2
export KUBECONFIG="$work/kubeconfig"
"$bin/kube-testenv" --kubeconfig "$KUBECONFIG" >"$work/control-plane.log" 2>&1 &
pids+=($!)
deadline_wait 120 "the control plane" kubectl get --raw /readyz

kubectl apply -f crds/
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null

echo "==> operator (credentials: the emulator maps access key 111111111111 to the payer account)" >&2
AWS_ACCESS_KEY_ID=111111111111 AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
  "$bin/aws-invite-operator" run --log-format text --listen-address 127.0.0.1:18080 --metrics-auth open --poll-interval 2s \
  --lease-namespace default --allow-endpoint-override --endpoint-allowlist "127.0.0.1:$emulator_port" >"$work/operator.log" 2>&1 &
pids+=($!)
deadline_wait 60 "the operator" curl -sf http://127.0.0.1:18080/readyz

# AWS takes a billing transfer's start only in the next month or the one after: the example's
# startMonth becomes the month after next, so the demo works whatever today's date.
start_month="$(date -u -d "$(date -u +%Y-%m-01) +2 month" +%Y-%m)"
for f in examples/*.yaml; do
  sed "s/startMonth: \"[0-9]\{4\}-[0-9]\{2\}\"/startMonth: \"$start_month\"/" "$f"
  echo "---"
done | kubectl apply -f -
show() { kubectl get billingprofiles,awsaccountinvites,billingtransfers -A; echo; }

phase() { kubectl get "${2:-awsaccountinvite}" -n billing "$1" -o 'jsonpath={.status.phase}'; }
wait_phase() { # wait_phase NAME PHASE [KIND]
  local kind="${3:-awsaccountinvite}" end=$((SECONDS + 120))
  until [[ "$(phase "$1" "$kind")" == "$2" ]]; do
    if ((SECONDS >= end)); then
      echo "timed out: $kind $1 is $(phase "$1" "$kind"), not $2" >&2
      kubectl describe "$kind" -n billing "$1" >&2
      tail -n 40 "$work/operator.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "    $kind $1 is $2" >&2
}

wait_phase acme-prod Invited
wait_phase globex-sandbox Invited
wait_phase globex Invited billingtransfer
show

echo "==> the account owners accept the invitations (in the AWS console, played by the emulator)" >&2
curl -sf -X POST "$emulator/_emulator/accounts/222222222222/accept-invite" >/dev/null
curl -sf -X POST "$emulator/_emulator/accounts/333333333333/accept-invite" >/dev/null
wait_phase globex-sandbox Ready
wait_phase acme-prod Joined
kubectl get awsaccountinvite -n billing acme-prod \
  -o 'jsonpath={range .status.conditions[?(@.type=="IamAccessVerified")]}    IamAccessVerified={.status} ({.reason}): {.message}{"\n"}{end}'

echo "==> Acme creates the CloudHealth role trusting the cost tool with its external ID" >&2
curl -sf -X POST "$emulator/_emulator/roles" -H 'content-type: application/json' -d '{
  "account_id": "222222222222", "name": "CloudHealth",
  "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::454464851268:root"}, "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:ExternalId": "acme-7f3c9e"}}}]}}' >/dev/null
wait_phase acme-prod Ready
show
kubectl describe awsaccountinvite -n billing acme-prod | sed -n '/Conditions:/,$p'

echo "==> Globex Corp keeps its own organization: its management account accepts the billing transfer" >&2
echo "    (AWS Billing console, Billing transfers; played by the emulator)" >&2
curl -sf -X POST "$emulator/_emulator/accounts/777777777777/accept-transfer" >/dev/null
wait_phase globex Accepted billingtransfer
kubectl wait --for=condition=Ready billingtransfer/globex -n billing --timeout=60s >/dev/null
show
kubectl describe billingtransfer -n billing globex | sed -n '/Conditions:/,$p'

count() { # count OPERATION: executed calls of OPERATION in the emulator's call log
  curl -sf "$emulator/_emulator/calls" | python3 -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin) if c["operation"]==sys.argv[1] and c["executed"]))' "$1"
}
echo "==> done: both invites Ready, the billing transfer Ready (starts $start_month-01);" \
  "invitations sent: $(count InviteAccountToOrganization), transfer invitations: $(count InviteOrganizationToTransferResponsibility)" >&2
