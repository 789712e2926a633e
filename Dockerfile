# syntax=docker/dockerfile:1
# The aws-invite-operator image: the release binary (built by hack/build-release.sh, the same
# script CI runs) on an empty base holding exactly what hack/image-rootfs.sh puts there: the
# shared libraries the binary links (glibc, libgcc_s), the Debian CA bundle, /etc/passwd with the
# non-root user 65532, /tmp. No shell. The Helm chart (charts/aws-invite-operator) runs it with a
# read-only root filesystem.
#
#   docker build -t <registry>/aws-invite-operator:<version> .
#
# Without Docker, hack/build-image.sh builds the same image as an OCI archive (the root
# filesystem from the same script, USER/ENV/EXPOSE/ENTRYPOINT read from the runtime stage below);
# tests/image.rs keeps the runtime stage to those instructions.

FROM docker.io/library/rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts only speed up rebuilds; the binary is copied out of the cached target dir.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    bin="$(bash hack/build-release.sh)" \
    && bash hack/image-rootfs.sh "$bin" /rootfs

FROM scratch
COPY --from=builder /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
# /healthz, /readyz, /metrics
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/aws-invite-operator", "run"]
