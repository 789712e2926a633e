#!/usr/bin/env bash
# The test command: every tier of tests against real parts (a real etcd + kube-apiserver of
# the pinned Kubernetes release, the orgs-emulator driven by the real AWS SDK and CLI).
# The first run builds the Kubernetes binaries and helm from the Go module proxy and caches them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash hack/prereqs.sh
KUBE_TESTENV_ASSETS="$(bash hack/kube-binaries.sh)"
export KUBE_TESTENV_ASSETS
echo "kubernetes binaries: $KUBE_TESTENV_ASSETS" >&2
HELM="$(bash hack/helm.sh)"
export HELM
echo "helm: $HELM" >&2

if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all -- --check; fi
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast "$@"
