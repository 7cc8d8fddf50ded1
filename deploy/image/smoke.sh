#!/usr/bin/env bash
# deploy/image/smoke.sh: build the container image from the project's Dockerfile with
# podman and smoke-test it (checks in smoke.py). Run as root; see deploy/README.md.
#
#   deploy/image/smoke.sh                      build the image, check it (exit 0 = all passed)
#   deploy/image/smoke.sh --self-test-broken   build the image and broken variants of it,
#                                              and pass only if the checks reject each variant
#
# Environment: SMOKE_IMAGE (tag to build, default localhost/jupyterhub-admin-sync:smoke),
# SMOKE_PULL=1 (try to pull the real base images first; off by default, since no
# container registry is reachable from the project's machines), SMOKE_SOURCE (the
# org.opencontainers.image.source label; default: the git remote if it is an https URL).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
HERE=deploy/image
IMAGE="${SMOKE_IMAGE:-localhost/jupyterhub-admin-sync:smoke}"
DISTROLESS=gcr.io/distroless/cc-debian12:nonroot
STAND_IN_LABEL=jupyterhub-admin-sync.smoke.stand-in
MODE=check
case "${1:-}" in
  "") ;;
  --self-test-broken) MODE=broken ;;
  *) echo "usage: $0 [--self-test-broken]" >&2; exit 2 ;;
esac

say() { printf '\n== smoke: %s\n' "$*"; }
die() { printf 'smoke.sh: FAILED: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (podman, mmdebstrap and /etc/containers need it)"

# --- Tools and podman's configuration ---------------------------------------------------
if ! command -v podman >/dev/null || ! command -v runc >/dev/null ||
  ! command -v mmdebstrap >/dev/null || ! command -v newuidmap >/dev/null; then
  say "installing podman, runc, mmdebstrap, uidmap (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap uidmap >/dev/null
fi
# runc, not crun (crun fails on this machine's mixed cgroup layout); ulimits within the
# hard limits, or every container fails to start.
nofile="$(ulimit -Hn)"; nproc="$(ulimit -Hu)"
[ "$nofile" = unlimited ] && nofile=1048576
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
conf=/etc/containers/containers.conf
want="# Written by jupyterhub-admin-sync's deploy/image/smoke.sh.
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]

[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\""
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  if [ -s "$conf" ] && ! grep -q "deploy/image/smoke.sh" "$conf"; then
    cp "$conf" "$conf.before-smoke"
    echo "smoke: kept the previous $conf as $conf.before-smoke"
  fi
  mkdir -p /etc/containers
  printf '%s\n' "$want" >"$conf"
fi
echo "smoke: $(podman --version), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}')"

# --- Base images: the real ones, else stand-ins from Debian packages ------------------
WORK="$(mktemp -d /var/tmp/smoke-rootfs.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# A toolchain of the Dockerfile's Rust version from this machine's rustup.
rust_version="$(sed -n 's/^ARG RUST_VERSION=//p' Dockerfile)"
find_toolchain() {
  local dir
  for dir in "${RUSTUP_HOME:-$HOME/.rustup}"/toolchains/*/; do
    if "$dir/bin/rustc" --version 2>/dev/null | grep -q "^rustc $rust_version\."; then
      (cd "$dir" && pwd -P)
      return
    fi
  done
  return 1
}

standin_distroless() {
  local root="$WORK/distroless"
  mmdebstrap --quiet --variant=extract \
    --include=libc6,libgcc-s1,ca-certificates,tzdata,netbase bookworm "$root"
  # extract runs no maintainer scripts: make the CA bundle, users and dirs by hand.
  cat "$root"/usr/share/ca-certificates/mozilla/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"
  printf '%s\n' root:x:0:0:root:/root:/sbin/nologin \
    nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin \
    nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin >"$root/etc/passwd"
  printf '%s\n' root:x:0: tty:x:5: staff:x:50: nobody:x:65534: nonroot:x:65532: >"$root/etc/group"
  rm -rf "$root"/usr/share/{doc,man,info,lintian,locale}
  install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
  install -d -m 0700 "$root/root"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | podman import --quiet \
    --change "USER 65532:65532" --change "WORKDIR /home/nonroot" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    --change "LABEL $STAND_IN_LABEL=\"Debian bookworm packages via mmdebstrap\"" \
    - "$DISTROLESS" >/dev/null
  rm -rf "$root"
}

standin_rust() {
  local root="$WORK/rust" toolchain
  toolchain="$(find_toolchain)" || die "no Rust $rust_version toolchain under rustup's toolchains dir (rustup toolchain install $rust_version)"
  mmdebstrap --quiet --variant=minbase --include=gcc,libc6-dev,ca-certificates bookworm "$root"
  # This machine's trust store: cargo in the build must reach the crate registry the way
  # this machine does (through a TLS-inspecting proxy whose CA only the host trusts).
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  local dest=/usr/local/rustup/toolchains/$rust_version-from-host tool
  mkdir -p "$root$dest" "$root/usr/local/cargo/bin"
  cp -a "$toolchain"/bin "$toolchain"/lib "$toolchain"/libexec "$toolchain"/etc "$root$dest"/
  for tool in "$root$dest"/bin/*; do
    ln -s "$dest/bin/${tool##*/}" "$root/usr/local/cargo/bin/"
  done
  tar -C "$root" -c . | podman import --quiet \
    --change "ENV RUSTUP_HOME=/usr/local/rustup" --change "ENV CARGO_HOME=/usr/local/cargo" \
    --change "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV RUST_VERSION=$rust_version" --change "WORKDIR /" \
    --change "LABEL $STAND_IN_LABEL=\"Debian bookworm minbase, gcc, this machine's Rust $rust_version\"" \
    - "$RUST_IMAGE" >/dev/null
  rm -rf "$root"
}

# have_base NAME: NAME is in local storage, or SMOKE_PULL=1 and it can be pulled.
have_base() {
  podman image exists "$1" && return
  [ "${SMOKE_PULL:-0}" = 1 ] && podman pull --quiet "$1" >/dev/null
}
# say_base NAME: which one is used, the real image or a stand-in.
say_base() {
  local what
  what="$(podman image inspect --format "{{index .Labels \"$STAND_IN_LABEL\"}}" "$1")"
  if [ -n "$what" ] && [ "$what" != "<no value>" ]; then
    echo "smoke: base $1: STAND-IN ($what)"
  else
    echo "smoke: base $1: the real image"
  fi
}
RUST_IMAGE="docker.io/library/rust:$rust_version-bookworm"
for name in "$DISTROLESS" "$RUST_IMAGE"; do
  if ! have_base "$name"; then
    say "building a stand-in for $name from Debian packages (mmdebstrap)"
    started=$SECONDS
    if [ "$name" = "$DISTROLESS" ]; then standin_distroless; else standin_rust; fi
    echo "smoke: stand-in imported in $((SECONDS - started)) s"
  fi
  say_base "$name"
done

# --- The image -------------------------------------------------------------------------
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
source="${SMOKE_SOURCE:-}"
if [ -z "$source" ]; then
  source="$(git remote get-url origin 2>/dev/null || true)"
  case "$source" in https://*) ;; *) source="unknown (set SMOKE_SOURCE)" ;; esac
fi
# podman 4.3's layer cache ignores build-arg values in ARG/LABEL steps: a cached runtime
# stage would keep the labels of an earlier build. Drop the previous runtime stage (the
# chain from the image down to its base; a few metadata steps and one COPY) so that it is
# made again; the build stage, with its dependency layer, stays cached.
BROKEN=(localhost/jupyterhub-admin-sync:broken-root localhost/jupyterhub-admin-sync:broken-exits-at-once)
if podman image exists "$IMAGE"; then
  podman rmi --ignore "${BROKEN[@]}" >/dev/null
  base_id="$(podman image inspect --format '{{.Id}}' "$DISTROLESS")"
  id="$(podman image inspect --format '{{.Id}}' "$IMAGE")" chain=()
  while [ -n "$id" ] && [ "$id" != "$base_id" ]; do
    chain+=("$id")
    id="$(podman image inspect --format '{{.Parent}}' "$id")"
  done
  podman rmi "${chain[@]}" >/dev/null 2>&1 || echo "smoke: note: could not drop the cached runtime stage"
fi
say "podman build --pull=never -t $IMAGE (a cold build takes about 5 minutes)"
started=$SECONDS
podman build --pull=never --layers -t "$IMAGE" -f Dockerfile \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  --build-arg "SOURCE=$source" . >"$WORK/build.log" 2>&1 || {
  tail -n 40 "$WORK/build.log" >&2
  die "podman build failed (last lines above)"
}
echo "smoke: built $IMAGE in $((SECONDS - started)) s"

# --- The checks ------------------------------------------------------------------------
args=(--image "$IMAGE" --version "$version" --revision "$revision" --source "$source")
if [ "$MODE" = check ]; then
  python3 "$HERE/smoke.py" "${args[@]}"
  exit 0
fi
# Broken variants FROM the built image: each must be rejected by the checks named here.
declare -A MUST_FAIL=([root]="nonroot,process-user" [exits-at-once]="validate,reconcile")
status=0
for variant in root exits-at-once; do
  say "self-test: the $variant variant must fail ${MUST_FAIL[$variant]}"
  podman build --pull=never --quiet -t "localhost/jupyterhub-admin-sync:broken-$variant" \
    --build-arg "IMAGE=$IMAGE" -f "$HERE/broken-$variant.Containerfile" "$HERE" >/dev/null
  python3 "$HERE/smoke.py" "${args[@]}" --image "localhost/jupyterhub-admin-sync:broken-$variant" \
    --expect-fail "${MUST_FAIL[$variant]}" || status=1
done
[ "$status" = 0 ] && echo "smoke: self-test: every broken variant was rejected" >&2
exit "$status"
