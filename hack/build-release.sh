#!/usr/bin/env bash
# The release build of the operator binary, exactly as the container image (Dockerfile) does
# it; CI (.ci/run) runs it too so a broken release build is caught before an image is built.
# Prints the binary's path on stdout.
#
#   CARGO_TARGET_DIR  where to build (default: target/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

start=$SECONDS
cargo build --release --locked --bin aws-invite-operator >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/aws-invite-operator"
# The binary starts and knows its version (no Kubernetes needed for this).
"$bin" --version >&2
echo "release build: $bin, $(du -h "$bin" | cut -f1), $((SECONDS - start))s" >&2
echo "$bin"
