#!/usr/bin/env bash
# Installs what the tests and the local demo need on a fresh machine of this project's kind
# (Debian with Rust, Go and Python present). Idempotent: installs only what is missing.
set -euo pipefail

need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v curl >/dev/null || need_apt+=(curl)
if ((${#need_apt[@]})); then
  # As root here and in CI; elsewhere (e.g. GitHub's runners) through sudo when there is one.
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "prereqs: need root or sudo to apt-get install ${need_apt[*]}" >&2; exit 1; }
    sudo=(sudo DEBIAN_FRONTEND=noninteractive)
  fi
  echo "prereqs: apt-get install ${need_apt[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

for tool in cargo go python3; do
  command -v "$tool" >/dev/null || { echo "prereqs: $tool is required but not installed" >&2; exit 1; }
done

# The AWS CLI drives the orgs-emulator in its contract tests (a second AWS client besides the Rust SDK).
if ! command -v aws >/dev/null || ! aws --version >/dev/null 2>&1; then
  echo "prereqs: pip install awscli" >&2
  python3 -m pip install --quiet --disable-pip-version-check awscli
fi
