# syntax=docker/dockerfile:1
# The aws-invite-operator image: the release binary (built by hack/build-release.sh, the same
# script CI runs) on distroless cc (glibc, CA certificates, no shell), as the non-root user
# 65532. The Helm chart (charts/aws-invite-operator) runs it with a read-only root filesystem.
#
#   docker build -t <registry>/aws-invite-operator:<version> .

FROM docker.io/library/rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts only speed up rebuilds; the binary is copied out of the cached target dir.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    bin="$(bash hack/build-release.sh)" \
    && install -D -m 0755 "$bin" /out/aws-invite-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/aws-invite-operator /usr/local/bin/aws-invite-operator
USER 65532:65532
# /healthz, /readyz, /metrics
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/aws-invite-operator", "run"]
