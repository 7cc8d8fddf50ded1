# jupyterhub-admin-sync: a static-ish Rust binary on distroless.
#
#   docker build -t REGISTRY/jupyterhub-admin-sync:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#
# Build stage: the official Rust image on Debian 12 (bookworm), so the binary links
# against the same glibc (2.36) as the distroless runtime below. Rust 1.89 is the
# crate's minimum (Cargo.toml `rust-version`); 1.95 is what the project is built and
# tested with. TLS is rustls on aws-lc-rs: aws-lc-sys compiles its C with the `cc`
# crate and gcc from this image (no cmake, no OpenSSL); prebuilt bindings exist for
# x86_64 and aarch64 linux-gnu, so no clang/bindgen either.
ARG RUST_VERSION=1.95
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src

# Dependencies in their own layer: build them against an empty crate first, so that a
# change in src/ does not recompile the ~300 dependencies.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src

# The real sources. `touch` makes them newer than the placeholder build: COPY keeps
# the files' own mtimes, and cargo would otherwise keep the placeholder binary.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin jupyterhub-admin-sync \
 && ./target/release/jupyterhub-admin-sync --version

# Runtime: glibc, libgcc_s, CA certificates (rustls reads the system trust store),
# tzdata, and nothing else: no shell, no package manager. The `nonroot` tag runs as
# 65532:65532; it is repeated numerically below so that Kubernetes' runAsNonRoot can
# verify it without resolving a user name.
FROM gcr.io/distroless/cc-debian12:nonroot

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="jupyterhub-admin-sync" \
      org.opencontainers.image.description="Keeps the admins of JupyterHub hubs equal to a declared roster, and says who added whom" \
      org.opencontainers.image.licenses="BSD-3-Clause" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=build /src/target/release/jupyterhub-admin-sync /usr/local/bin/jupyterhub-admin-sync

# Where the Helm chart mounts the roster; any --config/-c on the command line wins.
ENV JUPYTERHUB_ADMIN_SYNC_CONFIG=/etc/jupyterhub-admin-sync
USER 65532:65532
# /healthz, /readyz and /metrics when run with --listen 0.0.0.0:9090.
EXPOSE 9090
# The daemon handles SIGTERM/SIGINT itself (drains in-flight runs, flushes alerts,
# exits 0), so it is correct as PID 1 without an init.
ENTRYPOINT ["/usr/local/bin/jupyterhub-admin-sync"]
