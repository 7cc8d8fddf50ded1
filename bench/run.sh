#!/usr/bin/env bash
# The benchmark, in one command: builds the release binary, makes (once) a JupyterHub
# venv under target/bench/venv, then runs bench/bench.py, which starts real hubs and a
# fake hub API on 127.0.0.1, measures, prints a table with the goals, and writes
# target/bench/results.json. Not part of `cargo test`. About 5-10 minutes on 2 cores.
#
# Environment (all optional):
#   BENCH_JUPYTERHUB_VERSION  pin the JupyterHub version of the venv (default: newest)
#   BENCH_VENV                use this venv instead of target/bench/venv
#   BENCH_SIZES               hub sizes, default "1000,10000"
#   BENCH_PAIRS               floor/binary pairs per size, default 9
#   BENCH_RESTARTS            hub restarts timed for the status quo, default 2
#   BENCH_FLEET_HUBS          hubs in the fleet case, default 200
#   BENCH_FLEET_RUNS          runs per concurrency in the fleet case, default 2
#   BENCH_PARTS               "hubs,fleet,roster,hublog,audit" (default), or some of them
#   BENCH_HUB_LOG_MIB         size of the generated hub log of part hublog, default 1024
#   BENCH_LOG_DRY_RUN_MIB     size of the hub log a 10,000-user dry run reads in part hubs, default 100
#   BENCH_AUDIT_PAIRS         --once runs with/without --audit-log, default 7
#   BENCH_HUB_LOG_LEVEL       the hubs' log level (INFO logs every request's time), default WARN
#   BENCH_STRICT=1            exit 3 if a goal is missed (default: exit 0 once measured)
#   BENCH_NO_BUILD=1          measure target/release/jupyterhub-admin-sync as it is
#
# Not run here: bench/same_outputs.py --before OLD_BIN --after NEW_BIN compares two builds'
# reports, exit codes, audit lines and metrics on real hubs (BENCHMARKS.md, "Same outputs").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

command -v python3 >/dev/null || { echo "bench: needs python3" >&2; exit 1; }

if [[ "${BENCH_NO_BUILD:-}" != 1 ]]; then
  echo "== cargo build --release" >&2
  cargo build --release
  cargo build --release --example parse_log
fi
BIN="$ROOT/target/release/jupyterhub-admin-sync"

VENV="${BENCH_VENV:-$OUT/venv}"
# The venv of the tests and the demo: deploy/local/hub.py, pins in deploy/local/requirements.txt.
if [[ ! -f "$VENV/.ready" ]]; then
  echo "== making a JupyterHub venv in $VENV (once; ~1 minute)" >&2
fi
JUPYTERHUB_VERSION="${BENCH_JUPYTERHUB_VERSION:-}" python3 deploy/local/hub.py venv "$VENV" >/dev/null
echo "== JupyterHub $(cat "$VENV/.ready") in $VENV" >&2

# bench.py stops its children (hubs, fake API) on exit and on SIGINT/SIGTERM; they also
# stop by themselves when its stdin pipe closes. This trap covers a bench.py that was
# killed outright: it stops, by pid, the children it recorded.
BENCH_PID=""
cleanup() {
  if [[ -n "$BENCH_PID" ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
    kill -TERM "$BENCH_PID" 2>/dev/null || true
    wait "$BENCH_PID" 2>/dev/null || true
  fi
  if [[ -f "$OUT/children.pids" ]]; then
    while read -r pid; do
      [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
    done < "$OUT/children.pids"
    rm -f "$OUT/children.pids"
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

"$VENV/bin/python" "$ROOT/bench/bench.py" --bin "$BIN" --venv "$VENV" --out "$OUT" "$@" &
BENCH_PID=$!
set +e
wait "$BENCH_PID"
rc=$?
set -e
BENCH_PID=""
exit "$rc"
