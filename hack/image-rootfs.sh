#!/usr/bin/env bash
# Assembles the runtime root filesystem of the operator's container image: the one definition
# of what the image holds, used by the Dockerfile (its builder stage runs this script and the
# runtime stage is `FROM scratch` + this tree) and by hack/build-image.sh (the OCI archive built
# without Docker). tests/image.rs checks that the Dockerfile keeps to that.
#
#   hack/image-rootfs.sh BINARY OUTDIR
#
# OUTDIR gets: the binary as /usr/local/bin/aws-invite-operator; exactly the shared libraries it
# links (ldd) and its ELF interpreter; the Debian CA bundle (/etc/ssl/certs/ca-certificates.crt);
# /etc/passwd and /etc/group with root and the non-root user 65532 (nonroot, no login shell),
# /etc/nsswitch.conf; /home/nonroot (owned by 65532) and /tmp (1777). No shell, no package manager.
set -euo pipefail
bin="${1:?usage: image-rootfs.sh BINARY OUTDIR}"
out="${2:?usage: image-rootfs.sh BINARY OUTDIR}"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[[ -f "$ca_bundle" ]] || { echo "image-rootfs: $ca_bundle missing (apt-get install ca-certificates)" >&2; exit 1; }
[[ -x "$bin" ]] || { echo "image-rootfs: $bin is not an executable" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"/{usr/local/bin,etc/ssl/certs,home/nonroot,tmp}
install -m 0755 "$bin" "$out/usr/local/bin/aws-invite-operator"

# The libraries: every path ldd resolves (libc, libgcc_s, libm, ...) plus the interpreter the
# binary names, copied (symlinks followed) to the very paths the dynamic loader will look at.
interp="$(readelf -l "$bin" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')"
[[ -n "$interp" ]] || { echo "image-rootfs: $bin has no ELF interpreter (static binaries need no libraries)" >&2; }
libs=()
while read -r path; do libs+=("$path"); done < <(ldd "$bin" | awk '$2=="=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
for lib in ${interp:+"$interp"} "${libs[@]}"; do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done

install -m 0644 "$ca_bundle" "$out/etc/ssl/certs/ca-certificates.crt"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$out/etc/passwd"
printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$out/etc/group"
printf '%s\n' 'hosts: files dns' >"$out/etc/nsswitch.conf"
chmod 0644 "$out/etc/passwd" "$out/etc/group" "$out/etc/nsswitch.conf"
chown 65532:65532 "$out/home/nonroot"
chmod 0700 "$out/home/nonroot"
chmod 1777 "$out/tmp"
