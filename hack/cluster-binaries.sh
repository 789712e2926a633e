#!/usr/bin/env bash
# Prints the directory holding the rest of a single-node cluster for the e2e tier (hack/e2e.sh):
# kubelet, kube-controller-manager, kube-scheduler, kube-proxy (the release pinned in
# tools/kube-binaries/kubernetes), containerd + its runc shim + ctr (tools/kube-binaries/containerd),
# the CNI plugins bridge, host-local, loopback and portmap (tools/kube-binaries/cni-plugins, in
# cni/), and the pause binary compiled from the Kubernetes sources (build/pause/linux/pause.c).
# Everything is built from the official Go modules on first use and cached keyed by the pinned
# versions, like hack/kube-binaries.sh (which provides etcd, kube-apiserver and kubectl).
#
#   KUBE_BINARIES_CACHE cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/aws-invite-operator)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/tools/kube-binaries"
pin() { awk -v m="$2" '$1=="require" && $2==m {print $3}' "$tools/$1/go.mod"; }
kube_version="$(pin kubernetes k8s.io/kubernetes)"
containerd_version="$(pin containerd github.com/containerd/containerd/v2)"
cni_version="$(pin cni-plugins github.com/containernetworking/plugins)"
cache_root="${KUBE_BINARIES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aws-invite-operator}"
dir="$cache_root/cluster-binaries/kubernetes-${kube_version}_containerd-${containerd_version}_cni-${cni_version}"

if [[ -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi

command -v cc >/dev/null || { echo "cluster-binaries: a C compiler (cc) is needed for the pause binary" >&2; exit 1; }
echo "building kubernetes $kube_version node binaries, containerd $containerd_version, CNI plugins $cni_version into $dir (first run only)" >&2
mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/cni"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false -trimpath"
start=$SECONDS
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${kube_version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$kube_version") -X k8s.io/client-go/pkg/version.gitVersion=${kube_version}"
for cmd in kubelet kube-controller-manager kube-scheduler kube-proxy; do
  (cd "$tools/kubernetes" && go build -ldflags "$kube_ldflags" -o "$tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd")
done
ctrd_ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=${containerd_version}"
for cmd in containerd containerd-shim-runc-v2 ctr; do
  # no_btrfs: the btrfs snapshotter needs cgo and btrfs headers; the node uses overlayfs.
  (cd "$tools/containerd" && go build -tags no_btrfs -ldflags "$ctrd_ldflags" -o "$tmp/$cmd" "github.com/containerd/containerd/v2/cmd/$cmd")
done
for plugin in main/bridge ipam/host-local main/loopback meta/portmap; do
  (cd "$tools/cni-plugins" && go build -ldflags "-s -w" -o "$tmp/cni/${plugin#*/}" "github.com/containernetworking/plugins/plugins/$plugin")
done
# The pause binary exactly as build/pause/Makefile compiles it (CFLAGS there), from the module's sources.
kube_src="$(cd "$tools/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)"
pause_tag="$(awk '$1=="TAG" && $2=="?=" {print $3}' "$kube_src/build/pause/Makefile")"
cc -Os -Wall -Werror -static -DVERSION="v${pause_tag}-${kube_version}" -o "$tmp/pause" "$kube_src/build/pause/linux/pause.c"
echo "$pause_tag" >"$tmp/pause.tag"
mv "$tmp"/* "$dir/"
touch "$dir/.complete"
echo "built in $((SECONDS - start))s" >&2
echo "$dir"
