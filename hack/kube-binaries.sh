#!/usr/bin/env bash
# Prints the directory holding etcd, kube-apiserver and kubectl of the pinned release,
# building them from the official Go modules (via the Go module proxy) on first use.
#
#   KUBEBUILDER_ASSETS  use the binaries in this directory instead of building
#   KUBE_BINARIES_CACHE cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/aws-invite-operator)
#
# The cache is keyed by the versions pinned in tools/kube-binaries/*/go.mod, so a second
# run costs nothing and a version bump builds afresh.
set -euo pipefail

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  for bin in etcd kube-apiserver kubectl; do
    [[ -x "$KUBEBUILDER_ASSETS/$bin" ]] || { echo "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no $bin" >&2; exit 1; }
  done
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/tools/kube-binaries"
kube_version="$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$tools/kubernetes/go.mod")"
etcd_version="$(awk '$1=="require" && $2=="go.etcd.io/etcd/server/v3" {print $3}' "$tools/etcd/go.mod")"
go_version="$(go env GOVERSION)"
cache_root="${KUBE_BINARIES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aws-invite-operator}"
dir="$cache_root/kube-binaries/kubernetes-${kube_version}_etcd-${etcd_version}"

if [[ -x "$dir/etcd" && -x "$dir/kube-apiserver" && -x "$dir/kubectl" && -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi

echo "building kubernetes $kube_version and etcd $etcd_version with $go_version into $dir (first run only)" >&2
mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false -trimpath"
ldflags="-s -w"
kube_ldflags="$ldflags -X k8s.io/component-base/version.gitVersion=${kube_version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$kube_version") -X k8s.io/client-go/pkg/version.gitVersion=${kube_version}"
start=$SECONDS
(cd "$tools/etcd" && go build -ldflags "$ldflags" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
(cd "$tools/kubernetes" && go build -ldflags "$kube_ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
(cd "$tools/kubernetes" && go build -ldflags "$kube_ldflags" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl)
mv "$tmp/etcd" "$tmp/kube-apiserver" "$tmp/kubectl" "$dir/"
touch "$dir/.complete"
echo "built in $((SECONDS - start))s" >&2
echo "$dir"
