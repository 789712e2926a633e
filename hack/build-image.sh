#!/usr/bin/env bash
# Builds the operator's container image without a Docker engine, as an OCI image archive (an
# OCI image layout in a tar, which `ctr images import`, `skopeo copy oci-archive:...` and
# registries' tooling take), with umoci from Debian's packages. It is the image the Dockerfile
# describes: the root filesystem comes from hack/image-rootfs.sh (the Dockerfile's builder stage
# runs the same script, its runtime stage is `FROM scratch` + that tree) and the image config
# (USER, ENV, EXPOSE, ENTRYPOINT) is read from the Dockerfile's runtime stage. tests/image.rs checks both.
#
#   hack/build-image.sh [BINARY]   (default: the release build, hack/build-release.sh)
#
# Prints the archive's path on stdout; its size, the layer's size and the ref name on stderr.
# The archive's index names the image by its tag (the chart's appVersion); import it with
#   ctr -n k8s.io images import --base-name docker.io/library/aws-invite-operator ARCHIVE
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v umoci >/dev/null; then
  echo "build-image: apt-get install umoci" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq umoci >/dev/null
fi
bin="${1:-$(bash hack/build-release.sh)}"
tag="$(awk -F'"' '$1=="appVersion: " {print $2}' charts/aws-invite-operator/Chart.yaml)"
out_dir="${CARGO_TARGET_DIR:-$root/target}/image"
archive="$out_dir/aws-invite-operator-$tag.oci.tar"

# USER, ENV (KEY=value), EXPOSE and ENTRYPOINT of the Dockerfile's last (runtime) stage, as umoci flags.
mapfile -t config < <(python3 - Dockerfile <<'PY'
import json, sys
stage = []
for raw in open(sys.argv[1]):
    line = raw.strip()
    if not line or line.startswith("#"):
        continue
    if line.upper().startswith("FROM "):
        stage = []
    stage.append(line)
for line in stage:
    word, _, rest = line.partition(" ")
    word = word.upper()
    if word == "USER":
        print("--config.user=" + rest.strip())
    elif word == "EXPOSE":
        for port in rest.split():
            print("--config.exposedports=" + (port if "/" in port else port + "/tcp"))
    elif word == "ENV":
        key, _, value = rest.strip().partition("=")
        print("--config.env=" + key + "=" + value)
    elif word == "ENTRYPOINT":
        for arg in json.loads(rest):
            print("--config.entrypoint=" + arg)
PY
)
((${#config[@]} >= 2)) || { echo "build-image: no USER/ENTRYPOINT in the Dockerfile's runtime stage" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bash hack/image-rootfs.sh "$bin" "$work/rootfs"
layout="$work/layout"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --image "$layout:$tag" "$work/bundle" >/dev/null
rm -rf "$work/bundle/rootfs"
mv "$work/rootfs" "$work/bundle/rootfs"
umoci repack --history.created_by "hack/image-rootfs.sh" --image "$layout:$tag" "$work/bundle"
umoci config --history.created_by "hack/build-image.sh (Dockerfile runtime stage config)" --image "$layout:$tag" --os linux --architecture amd64 --clear=config.env "${config[@]}"
umoci gc --layout "$layout"
mkdir -p "$out_dir"
tar --sort=name -C "$layout" -cf "$archive.tmp" .
mv "$archive.tmp" "$archive"
layer_bytes="$(umoci stat --json --image "$layout:$tag" >/dev/null 2>&1; find "$layout/blobs" -type f -size +100k -printf '%s\n' | sort -n | tail -n 1)"
echo "image: $archive ($(du -h "$archive" | cut -f1); compressed layer $((layer_bytes / 1024)) KiB; ref name $tag)" >&2
echo "$archive"
