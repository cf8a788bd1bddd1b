# syntax=docker/dockerfile:1
#
# The asana-bridge container image: built with the dist profile (fat LTO) in the official Rust
# image, run on distroless (glibc, CA certificates, no shell, no package manager) as the
# non-root user `nonroot` (uid 65532).
#
#   docker build -t asana-bridge .
#   docker run --rm -e ASANA_TOKEN \
#     -v "$PWD/asana-bridge.toml:/config/asana-bridge.toml:ro" \
#     -v asana-bridge-state:/var/lib/asana-bridge -v asana-bridge-data:/data \
#     asana-bridge
#
# The config is mounted read-only at /config/asana-bridge.toml and names absolute paths:
# state_dir = "/var/lib/asana-bridge/state" and each Markdown folder under /data. The
# token comes from the environment (ASANA_TOKEN, or the variable the config names).
# See README.md, "Operating it".

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# The whole workspace: cargo needs every member's manifest to resolve the lock file.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p asana-bridge \
 && install -D -m 0755 target/dist/asana-bridge /out/bin/asana-bridge \
 && install -d -m 0750 /out/state /out/data

# cc: glibc and libgcc, which the binary links to; same Debian release as the builder.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/bin/asana-bridge /usr/local/bin/asana-bridge
# Volume roots owned by the runtime user, so that fresh named volumes are writable.
COPY --from=build --chown=65532:65532 /out/state /var/lib/asana-bridge
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
VOLUME ["/var/lib/asana-bridge", "/data"]
# One JSON object per log line on stderr, for the container runtime's log shipping.
ENV ASANA_BRIDGE_LOG_FORMAT=json
# 8787: the webhook receiver (behind a reverse proxy); 9187: /metrics and /healthz.
EXPOSE 8787 9187
ENTRYPOINT ["/usr/local/bin/asana-bridge"]
CMD ["--config", "/config/asana-bridge.toml", "watch", "--metrics-listen", "0.0.0.0:9187"]
