#!/usr/bin/env bash
# deploy/local/demo.sh: jupyterhub-admin-sync against a throwaway JupyterHub on loopback.
#
# Builds the binary, installs JupyterHub into a venv (once), starts a hub with
# deploy/local/hub.py (the launcher the tests and the benchmark share: the pins in
# deploy/local/requirements.txt, the config deploy/local/jupyterhub_config.py) on a
# free 127.0.0.1 port, seeds admin drift through
# the hub's REST API, writes a roster (whose hub names its log file, read to say who
# made each admin), then runs:
#   1. --dry-run  (expect exit 2: drift, nothing changed)
#   2. --once     (expect exit 0: every difference fixed)
#   3. --dry-run  (expect exit 0: in sync)
#   4. the representative makes someone admin in the hub with their own token; a
#      --dry-run (exit 2) and a --once (exit 0) say rep-lee made them admin
# and lists the admins as the hub itself reports them. Then it runs the daemon:
#   6. drift made by hand is fixed while it runs, a roster edit takes effect without a
#      restart, an alert fires and resolves (printed by a tiny webhook receiver), the
#      roster turns on ui_grants and an admin the representative makes in the hub is
#      kept, with the roster line to make it permanent told to the community; /metrics
#      and the audit trail are shown; SIGTERM stops it (exit 0).
# The hub, the daemon and the receiver are stopped on every exit path (Ctrl-C too).
#
# Needs: the Rust toolchain (cargo), python3 (with venv and pip), network for pip once.
# Optional environment:
#   JUPYTERHUB_VERSION  JupyterHub version to install (default: newest); only used when
#                       the venv is made, so remove .local-hub/venv to change it
#   HUB_LOG_LEVEL       the hub's log level (default INFO, JupyterHub's: the sync reads
#                       who made each admin from it), log in .local-hub/run/hub.log
#   RUST_LOG            the sync's log levels (default info)
#
# Everything it makes lives in .local-hub/ at the repository root (git-ignored).

set -euo pipefail

# --- Where things are -------------------------------------------------------------------

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"

STATE_DIR="$REPO_ROOT/.local-hub"
VENV="$STATE_DIR/venv"
RUN_DIR="$STATE_DIR/run"
HUB_LOG="$RUN_DIR/hub.log"
ROSTER="$STATE_DIR/roster.yaml"
LAUNCHER="$REPO_ROOT/deploy/local/hub.py"   # makes the venv, starts the hub

HUB_PID=""        # set once the hub runs; the exit trap stops it
DAEMON_PID=""     # the sync running as a daemon (step 6)
RECEIVER_PID=""   # the webhook receiver (step 6)
METRICS_PORT=""
ALERTS=""
AUDIT=""
DAEMON_LOG=""
HUB_PORT=""
HUB_URL=""        # http://127.0.0.1:PORT/hub/api
SYNC_TOKEN=""     # service admin-sync: the token the binary uses
SEED_TOKEN=""     # service test-admin: arranges the drift, lists the admins at the end
REP_TOKEN=""      # user rep-lee's own token: the representative acting in the hub (step 4)
BIN=""

# --- Small helpers ----------------------------------------------------------------------

die() {
    printf 'demo.sh: error: %s\n' "$*" >&2
    exit 1
}

# A heading that says what the reader is about to see.
heading() {
    printf '\n== %s\n' "$*"
}

note() {
    printf '   %s\n' "$*"
}

# Prints the last lines of the hub's log (after a failure).
show_hub_log() {
    if [[ -s "$HUB_LOG" ]]; then
        printf '\n--- last lines of %s\n' "${HUB_LOG#"$REPO_ROOT"/}" >&2
        tail -n 40 "$HUB_LOG" >&2
        printf -- '---\n' >&2
    fi
}

# Stops the hub, if it runs: SIGTERM, then wait (SIGKILL after 15 s).
stop_hub() {
    if [[ -n "$HUB_PID" ]] && kill -0 "$HUB_PID" 2>/dev/null; then
        kill -TERM "$HUB_PID" 2>/dev/null || true
        local waited=0
        while kill -0 "$HUB_PID" 2>/dev/null && ((waited < 150)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$HUB_PID" 2>/dev/null; then
            printf 'demo.sh: the hub ignored SIGTERM for 15 s; killing it\n' >&2
            kill -KILL "$HUB_PID" 2>/dev/null || true
        fi
        wait "$HUB_PID" 2>/dev/null || true
    fi
    HUB_PID=""
}

on_exit() {
    local code=$?
    trap - EXIT INT TERM
    local pid
    for pid in "$DAEMON_PID" "$RECEIVER_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "$HUB_PID" ]]; then
        stop_hub
        printf '\n(hub stopped)\n' >&2
    fi
    exit "$code"
}
trap on_exit EXIT
trap 'printf "\ninterrupted\n" >&2; exit 130' INT
trap 'exit 143' TERM

# --- 1. Build ---------------------------------------------------------------------------

build_binary() {
    command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (https://rustup.rs)"
    heading "building jupyterhub-admin-sync (cargo build --release; the first build takes a few minutes)"
    local started=$SECONDS
    cargo build --release --quiet || die "cargo build --release failed (see above)"
    # Ask cargo where it builds (CARGO_TARGET_DIR or .cargo/config may move it).
    local target_dir
    target_dir="$(cargo metadata --format-version 1 --no-deps --offline |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')" ||
        die "cannot read the target directory from cargo metadata"
    BIN="$target_dir/release/jupyterhub-admin-sync"
    [[ -x "$BIN" ]] || die "the build did not produce $BIN"
    note "ready after $((SECONDS - started)) s: $("$BIN" --version)"
}

# --- 2. JupyterHub in a venv ------------------------------------------------------------

ensure_jupyterhub() {
    # deploy/local/hub.py makes the venv from deploy/local/requirements.txt (the pins the
    # tests and the benchmark use too), or reports the one already made.
    local made=""
    [[ -f "$VENV/.ready" ]] && made=1
    if [[ -z "$made" ]]; then
        heading "installing JupyterHub${JUPYTERHUB_VERSION:+ $JUPYTERHUB_VERSION} into ${VENV#"$REPO_ROOT"/} (once; 30 s to 2 minutes)"
    fi
    mkdir -p "$STATE_DIR"
    local log="$STATE_DIR/pip-install.log" started=$SECONDS version
    version="$(python3 "$LAUNCHER" venv "$VENV" 2>"$log")" || {
        tail -n 30 "$log" >&2
        rm -rf "$VENV"
        die "making the JupyterHub venv failed (full log: ${log#"$REPO_ROOT"/}); is PyPI reachable? (on Debian/Ubuntu: apt-get install python3-venv)"
    }
    if [[ -n "$made" ]]; then
        heading "JupyterHub $version already in ${VENV#"$REPO_ROOT"/}"
        if [[ -n "${JUPYTERHUB_VERSION:-}" && "${JUPYTERHUB_VERSION}" != latest ]]; then
            note "(JUPYTERHUB_VERSION only applies when the venv is made: rm -rf .local-hub/venv to change it)"
        fi
    else
        note "installed JupyterHub $version in $((SECONDS - started)) s"
    fi
}

# --- 3. A throwaway hub -----------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

random_token() {
    python3 -c 'import secrets; print(secrets.token_hex(32))'
}

# True when GET URL answers 2xx.
http_ok() {
    if command -v curl >/dev/null; then
        curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
    else
        python3 - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
EOF
    fi
}

start_hub() {
    rm -rf "$RUN_DIR"
    mkdir -p "$RUN_DIR"
    HUB_PORT="$(free_port)"
    HUB_URL="http://127.0.0.1:$HUB_PORT/hub/api"
    SYNC_TOKEN="$(random_token)"
    SEED_TOKEN="$(random_token)"
    heading "starting a throwaway JupyterHub on $HUB_URL (log: ${HUB_LOG#"$REPO_ROOT"/})"
    # Run from RUN_DIR so nothing the hub writes lands in the repository; stdin from
    # /dev/null, and the stdin-EOF exit hook off: the trap stops this hub. `set -m` gives
    # the hub its own process group, so a Ctrl-C reaches only this script, whose trap
    # then stops the hub (the hub would otherwise shut down at once, under our feet).
    # The hub logs at INFO (a line per request, with who made it) in UTC, the zone the
    # roster's `log` assumes when it names none.
    set -m
    (
        unset HUB_AUDITOR_TOKEN
        export HUB_ADMIN_SYNC_TOKEN="$SYNC_TOKEN" HUB_TEST_ADMIN_TOKEN="$SEED_TOKEN" TZ=UTC
        exec "$VENV/bin/python" "$LAUNCHER" run --dir "$RUN_DIR" --port "$HUB_PORT" \
            --log-level "${HUB_LOG_LEVEL:-INFO}"
    ) </dev/null >"$HUB_LOG" 2>&1 &
    HUB_PID=$!
    set +m

    local started=$SECONDS
    until http_ok "$HUB_URL/"; do
        if ! kill -0 "$HUB_PID" 2>/dev/null; then
            wait "$HUB_PID" 2>/dev/null || true
            HUB_PID=""
            show_hub_log
            die "the hub exited during startup"
        fi
        if ((SECONDS - started >= 60)); then
            show_hub_log
            die "the hub did not answer GET $HUB_URL/ within 60 s"
        fi
        sleep 0.3
    done
    note "up after $((SECONDS - started)) s: $(api GET /)"
}

# api METHOD PATH [JSON_BODY]: one request to the hub with the test-admin token; prints
# the response body, fails on a non-2xx status.
api() {
    api_as "$SEED_TOKEN" "$@"
}

# api_as TOKEN METHOD PATH [JSON_BODY]: the same with another token. The token travels
# in the environment, never on a command line.
api_as() {
    local token="$1"
    shift
    DEMO_TOKEN="$token" python3 - "$HUB_URL" "$@" <<'EOF'
import os, signal, sys, urllib.error, urllib.request
signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: no traceback, the script's trap runs
base, method, path = sys.argv[1:4]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
request = urllib.request.Request(base + path, data=body, method=method)
request.add_header("Authorization", "token " + os.environ["DEMO_TOKEN"])
if body is not None:
    request.add_header("Content-Type", "application/json")
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        print(response.read().decode())
except urllib.error.HTTPError as e:
    sys.exit(f"{method} {path}: HTTP {e.code}: {e.read().decode()[:300]}")
EOF
}

# --- 4. Drift, as it happens on a real hub ----------------------------------------------

seed_drift() {
    heading "seeding the hub through its API (as if people had used it for a while)"
    # The engineer and the representative were made admins when the hub was set up, and
    # the representative made amara an admin: all three as the roster says.
    api POST /users '{"usernames": ["eng-sam", "rep-lee", "amara"], "admin": true}' >/dev/null
    note "admins as declared:      eng-sam (engineer), rep-lee (representative), amara"
    # Ordinary users.
    api POST /users '{"usernames": ["student-1", "student-2", "student-3"], "admin": false}' >/dev/null
    note "ordinary users:          student-1, student-2, student-3"
    # amara added dave to the roster, but nobody made dave admin on the hub yet.
    api POST /users/dave '{"admin": false}' >/dev/null
    note "declared, not admin:     dave (the roster says amara added him)"
    # Someone ticked "admin" for mallory in the hub's UI; the roster never heard of it.
    api POST /users/mallory '{"admin": true}' >/dev/null
    note "admin granted in the UI: mallory (not in the roster)"
    note "missing from the hub:    nia (declared, never logged in)"
}

# --- 5. The roster ----------------------------------------------------------------------

write_roster() {
    # The log's path as a single-quoted YAML string (a quote in it written twice).
    local log_path="${HUB_LOG//\'/\'\'}"
    cat >"$ROSTER" <<EOF
# Written by deploy/local/demo.sh for the throwaway hub on port $HUB_PORT.
# Who should be admin on which hub, and who added whom.
version: 1
engineers:
  - name: eng-sam            # Cloud Engineering: admin on every hub
communities:
  - name: demo-lab
    representatives:
      - name: rep-lee        # the community's first hub administrator
    administrators:
      - name: amara
        added_by: rep-lee    # added by the representative
      - name: dave
        added_by: amara      # added by another administrator
      - name: nia
        added_by: rep-lee
    hubs:
      - name: demo-hub
        api_url: $HUB_URL
        token_env: LOCAL_HUB_TOKEN   # policy: enforce (the default) also revokes
        log:                         # the hub's own log: who made each admin
          file: '$log_path'
EOF
    heading "the roster (${ROSTER#"$REPO_ROOT"/})"
    sed 's/^/   /' "$ROSTER"
}

# --- 6. The sync ------------------------------------------------------------------------

FAILURES=()
REPORT=""         # the last run's report (stdout), for a step to check what it says

# run_sync EXPECTED_EXIT HEADING ARGS...: runs the binary on the roster (the report on
# stdout, logs on stderr), shows its exit code and records a mismatch.
run_sync() {
    local expected="$1" title="$2"
    shift 2
    heading "$title"
    printf '   $ jupyterhub-admin-sync --config %s %s\n\n' "${ROSTER#"$REPO_ROOT"/}" "$*"
    local code=0
    REPORT="$RUN_DIR/report.txt"
    # With pipefail, a failing binary's exit code is the pipeline's (tee's is 0).
    LOCAL_HUB_TOKEN="$SYNC_TOKEN" "$BIN" --config "$ROSTER" "$@" | tee "$REPORT" || code=$?
    if [[ "$code" == "$expected" ]]; then
        printf '\n   exit code %s (as expected)\n' "$code"
    else
        printf '\n   exit code %s, EXPECTED %s\n' "$code" "$expected"
        FAILURES+=("$title: exit code $code, expected $expected")
    fi
}

# --- 7. Who made it ---------------------------------------------------------------------

# expect_in_report TEXT: the last run's report says TEXT (recorded as a failure if not).
expect_in_report() {
    if grep -qF -- "$1" "$REPORT"; then
        note "the report names who did it: \"$1\""
    else
        note "the report does NOT say \"$1\""
        FAILURES+=("the report does not say \"$1\"")
    fi
}

# The representative makes student-1 admin in the hub with their own token (as the
# admin page does with their login); the hub's log names them, and so does the sync.
representative_makes_an_admin() {
    heading "4. the representative makes student-1 admin in the hub, with their own token"
    REP_TOKEN="$(api POST /users/rep-lee/tokens '{"note": "demo: rep-lee acting in the hub"}' |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
    api_as "$REP_TOKEN" PATCH /users/student-1 '{"admin": true}' >/dev/null
    note "PATCH /hub/api/users/student-1 {\"admin\": true}, with a token of rep-lee's own"
    # The hub writes a request's line once it has answered.
    wait_until 10 grep -qF 'PATCH /hub/api/users/student-1' "$HUB_LOG" ||
        die "the hub's log (${HUB_LOG#"$REPO_ROOT"/}) has no line for the PATCH: is it at INFO?"
    note "the hub's log says who did it (${HUB_LOG#"$REPO_ROOT"/}):"
    grep -F -e 'setting admin=True for student-1' -e 'role admin for User: student-1' \
        -e 'PATCH /hub/api/users/student-1' "$HUB_LOG" | sed 's/^/     /' || true
    run_sync 2 "4a. dry run: student-1 is not in the roster, and the sync says who made them admin" --dry-run
    expect_in_report "would revoke admin from student-1: undeclared admin by flag (stays a user); made admin by rep-lee through the API at "
    run_sync 0 "4b. once: revoked (policy enforce); to keep student-1, add them to the roster with added_by: rep-lee" --once
    expect_in_report "revoked admin from student-1: undeclared admin by flag (stays a user); made admin by rep-lee through the API at "
}

# --- 8. The hub's own view --------------------------------------------------------------

show_hub_admins() {
    heading "5. the admins as the hub itself reports them (GET /hub/api/users)"
    DEMO_TOKEN="$SEED_TOKEN" python3 - "$HUB_URL" <<'EOF'
import json, os, signal, sys, urllib.request
signal.signal(signal.SIGINT, signal.SIG_DFL)
base = sys.argv[1]
users, offset = [], 0
while offset is not None:
    request = urllib.request.Request(f"{base}/users?offset={offset}&limit=200")
    request.add_header("Authorization", "token " + os.environ["DEMO_TOKEN"])
    request.add_header("Accept", "application/jupyterhub-pagination+json")
    with urllib.request.urlopen(request, timeout=30) as response:
        page = json.load(response)
    users += page["items"]
    following = page["_pagination"]["next"]
    offset = following["offset"] if following else None
admins = sorted(u["name"] for u in users if u["admin"])
others = sorted(u["name"] for u in users if not u["admin"])
print(f"   admins ({len(admins)}): {', '.join(admins)}")
print(f"   other users ({len(others)}): {', '.join(others)}")
EOF
}

# --- 9. The daemon ----------------------------------------------------------------------

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s; fails after SECONDS.
wait_until() {
    local limit=$(($1 * 5))
    shift
    local tries=0
    until "$@" >/dev/null 2>&1; do
        tries=$((tries + 1))
        ((tries < limit)) || return 1
        sleep 0.2
    done
}

# is_admin NAME: true when the hub says NAME is admin.
is_admin() {
    api GET "/users/$1" | python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["admin"] else 1)'
}

# metrics_lines REGEX: the /metrics samples that match.
metrics_lines() {
    python3 - "http://127.0.0.1:$METRICS_PORT/metrics" "$1" <<'PY'
import re, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
for line in text.splitlines():
    if not line.startswith("#") and re.search(sys.argv[2], line):
        print("   " + line)
PY
}

# undeclared_drift_is VALUE: the drift gauge of kind undeclared has VALUE.
undeclared_drift_is() {
    metrics_lines "drift\\{hub=\"demo-hub\",kind=\"undeclared\"\\} $1\$" | grep -q .
}

# roster_reloaded N: the daemon has reloaded the roster at least N times.
roster_reloaded() {
    (($(grep -c "roster reloaded" "$DAEMON_LOG") >= $1))
}

# alert_seen STATUS: the receiver got an alert with that status.
alert_seen() {
    grep -q "\"status\": \"$1\"" "$ALERTS" 2>/dev/null
}

show_alerts() {
    python3 - "$ALERTS" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    print(f"   [{a['status']}] {a['kind']}: {a['text']}")
PY
}

run_daemon() {
    heading "6. the daemon: keeps the hub as declared while people use it"
    ALERTS="$RUN_DIR/alerts.jsonl"
    AUDIT="$RUN_DIR/audit.jsonl"
    DAEMON_LOG="$RUN_DIR/daemon.log"
    : >"$ALERTS"
    local receiver_port
    receiver_port="$(free_port)"
    METRICS_PORT="$(free_port)"
    # A webhook receiver that writes each alert it gets as one line.
    python3 - "$receiver_port" "$ALERTS" <<'PY' &
import http.server, json, signal, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
port, out = int(sys.argv[1]), sys.argv[2]
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "a") as f:
            f.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
PY
    RECEIVER_PID=$!
    rm -rf "$RUN_DIR/state" && mkdir -p "$RUN_DIR/state"   # the daemon's memory (ui_grants)
    note "\$ jupyterhub-admin-sync --config ${ROSTER#"$REPO_ROOT"/} --interval 2s \\"
    note "      --listen 127.0.0.1:$METRICS_PORT --audit-log ${AUDIT#"$REPO_ROOT"/} \\"
    note "      --state-dir ${RUN_DIR#"$REPO_ROOT"/}/state"
    note "  (alerts go to a local receiver; the daemon's log is ${DAEMON_LOG#"$REPO_ROOT"/})"
    LOCAL_HUB_TOKEN="$SYNC_TOKEN" \
        JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL="http://127.0.0.1:$receiver_port/alert" \
        "$BIN" --config "$ROSTER" --interval 2s --roster-poll 500ms \
        --listen "127.0.0.1:$METRICS_PORT" --audit-log "$AUDIT" \
        --state-dir "$RUN_DIR/state" 2>"$DAEMON_LOG" &
    DAEMON_PID=$!
    wait_until 30 http_ok "http://127.0.0.1:$METRICS_PORT/readyz" ||
        die "the daemon did not become ready; see ${DAEMON_LOG#"$REPO_ROOT"/}"
    note "ready: the first run over the hub has finished (GET /readyz answers 200)"

    local started
    heading "6a. someone takes dave's admin away in the hub's UI"
    api PATCH /users/dave '{"admin": false}' >/dev/null
    started=$SECONDS
    wait_until 20 is_admin dave || die "the daemon did not restore dave"
    note "the daemon granted it back within $((SECONDS - started + 1)) s (the roster says amara added dave)"

    heading "6b. the roster is edited while the daemon runs: policy grant (never revoke)"
    printf '        policy: grant\n' >>"$ROSTER"
    wait_until 10 roster_reloaded 1 || die "the roster edit was not picked up"
    note "picked up without a restart (the daemon polls the file; SIGHUP forces a reload)"

    heading "6c. someone makes mallory admin in the UI again: policy grant leaves it, and alerts"
    api PATCH /users/mallory '{"admin": true}' >/dev/null
    wait_until 20 alert_seen firing || die "no alert fired; see ${DAEMON_LOG#"$REPO_ROOT"/}"
    show_alerts
    wait_until 10 undeclared_drift_is 1 || die "the drift gauge does not show mallory"
    metrics_lines 'jupyterhub_admin_sync_drift\{'

    heading "6d. a person removes mallory's admin: the drift resolves"
    api PATCH /users/mallory '{"admin": false}' >/dev/null
    wait_until 20 alert_seen resolved || die "the alert did not resolve"
    wait_until 10 undeclared_drift_is 0 || die "the drift gauge did not return to 0"
    show_alerts
    metrics_lines 'jupyterhub_admin_sync_(drift\{|changes_total|roster_valid)'

    heading "6e. the roster keeps grants made in the hub (ui_grants); the representative adds student-2"
    printf '        ui_grants: {keep_for: 30d}\n' >>"$ROSTER"
    wait_until 10 roster_reloaded 2 || die "the ui_grants edit was not picked up"
    api_as "$REP_TOKEN" PATCH /users/student-2 '{"admin": true}' >/dev/null
    note "rep-lee: PATCH /hub/api/users/student-2 {\"admin\": true}, with their own token"
    wait_until 20 alert_seen provisional || die "no provisional news; see ${DAEMON_LOG#"$REPO_ROOT"/}"
    is_admin student-2 || die "student-2 was not kept"
    note "student-2 is still admin: a provisional administrator, told to the community:"
    grep '"status": "provisional"' "$ALERTS" | python3 -c '
import json, sys
for line in sys.stdin:
    print("   " + json.loads(line)["text"])'
    metrics_lines 'jupyterhub_admin_sync_provisional\{'

    heading "6f. the audit trail (${AUDIT#"$REPO_ROOT"/}): who changed what, and who added whom"
    sed 's/^/   /' "$AUDIT"

    heading "6g. SIGTERM: the daemon finishes in-flight work and exits 0"
    kill -TERM "$DAEMON_PID"
    local code=0
    wait "$DAEMON_PID" || code=$?
    DAEMON_PID=""
    if [[ "$code" == 0 ]]; then
        note "exit code 0 (as expected)"
    else
        note "exit code $code, EXPECTED 0"
        FAILURES+=("daemon: exit code $code after SIGTERM, expected 0")
    fi
    kill -TERM "$RECEIVER_PID" 2>/dev/null || true
    wait "$RECEIVER_PID" 2>/dev/null || true
    RECEIVER_PID=""
}

# --- Main -------------------------------------------------------------------------------

main() {
    command -v python3 >/dev/null || die "python3 not found"
    build_binary
    ensure_jupyterhub
    start_hub
    seed_drift
    write_roster

    run_sync 2 "1. dry run: what would change (exit 2 = drift; nothing is changed)" --dry-run
    run_sync 0 "2. once: make the hub match the roster (exit 0 = every difference fixed)" --once
    run_sync 0 "3. dry run again: nothing left to change (exit 0 = in sync)" --dry-run
    representative_makes_an_admin

    show_hub_admins
    run_daemon
    stop_hub
    heading "done in ${SECONDS} s; the hub is stopped"
    note "left behind: ${ROSTER#"$REPO_ROOT"/} (the roster), ${HUB_LOG#"$REPO_ROOT"/} (the hub's log),"
    note "${VENV#"$REPO_ROOT"/} (reused next time). Clean up: rm -rf .local-hub"

    if ((${#FAILURES[@]} > 0)); then
        printf '\ndemo.sh: FAILED: an exit code or a report was not the expected one:\n' >&2
        printf '  - %s\n' "${FAILURES[@]}" >&2
        exit 1
    fi
}

main "$@"
