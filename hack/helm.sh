#!/usr/bin/env bash
# Prints the path of the pinned helm binary, building it from the official Go module (via the
# Go module proxy, checked against the Go checksum database) on first use.
#
#   HELM_BINARY      use this helm instead of building (must run `helm version`)
#   KUBE_BINARIES_CACHE cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/aws-invite-operator)
#
# The cache is keyed by HELM_VERSION below, so a second run costs nothing and a version bump
# builds afresh. The chart tests (tests/helm_chart.rs) take the path from $HELM.
set -euo pipefail

HELM_VERSION=v3.20.2

if [[ -n "${HELM_BINARY:-}" ]]; then
  "$HELM_BINARY" version --short >/dev/null || { echo "HELM_BINARY=$HELM_BINARY does not run" >&2; exit 1; }
  echo "$HELM_BINARY"
  exit 0
fi

go_version="$(go env GOVERSION)"
cache_root="${KUBE_BINARIES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aws-invite-operator}"
dir="$cache_root/helm/helm-${HELM_VERSION}"

if [[ -x "$dir/helm" && -f "$dir/.complete" ]]; then
  echo "$dir/helm"
  exit 0
fi

echo "building helm $HELM_VERSION with $go_version into $dir (first run only)" >&2
mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
# helm's own go.mod and go.sum pin its dependencies; `go install module@version` honours them.
# Like helm's Makefile, tell `helm template`/`helm lint` which Kubernetes version to assume
# (.Capabilities.KubeVersion) from the client-go it is built with (v0.35.x -> 1.35).
gomod="$(go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | awk -F'"' '$2=="GoMod" {print $4}')"
client_go="$(awk '$1=="k8s.io/client-go" {print $2}' "$gomod")"
kube_minor="$(cut -d. -f2 <<<"$client_go")"
[[ -n "$kube_minor" ]] || { echo "cannot find helm's k8s.io/client-go version in $gomod" >&2; exit 1; }
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=${kube_minor}"
done
CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" GOBIN="$tmp" \
  go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
mv "$tmp/helm" "$dir/helm"
touch "$dir/.complete"
echo "built in $((SECONDS - start))s" >&2
echo "$dir/helm"
