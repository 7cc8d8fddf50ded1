"""Same outputs: run two builds of jupyterhub-admin-sync through one fixed set of runs and
say whether what they print, exit with, write to the audit trail, serve as metrics and
do to real hubs is the same once times, durations and other run-to-run noise are masked.

    python3 bench/same_outputs.py --before OLD_BIN --after NEW_BIN [--venv DIR] [--out DIR]

It is the check that a reshape (files moved, modules split, settings resolved by a new
rule) changed no behaviour. Exit 0: every record identical after masking; 1: some differ
(each shown as a unified diff, before then after); 2: the runs could not be made (a hub
did not start, a run hung).

For EACH binary in turn, with nothing shared between the two but the inputs:

1. Two fresh throwaway JupyterHubs from the project's one launcher (deploy/local/hub.py,
   in the venv --venv, made once with `python3 deploy/local/hub.py venv DIR` when it is
   missing), seeded through the API by the `test-admin` service into the same state:
   - hub `campus`: representatives and an engineer admin, an administrator to grant
     (carol), one to create (dave), an undeclared admin (mallory), an administrator whose
     entry expired (gina), and the group `hub-admins`, which holds the `admin` role
     (HUB_ADMIN_GROUPS), with a declared (frank) and an undeclared (erin) member;
   - hub `lab` (usernames are emails, `engineers: false`, `admin_roles: [operators]`):
     the role `operators` held by the group `ops` and directly by `direct-op`
     (HUB_EXTRA_ROLES), an undeclared admin (stray), and, on JupyterHub 6.1.x, an admin
     without a name (a PATCH that sends the user's own name, as 6.1.1's admin page does).
2. The runs, each recording exit code, stdout and stderr:
   `--validate` (the seeded roster); `--dry-run` with `--output text`, `json`,
   `markdown`; `--dry-run --plan-out` (and the plan file); `--once --plan` with
   `--audit-log`; the same plan again (stale: exit 1, hub untouched); the hubs drifted
   again by hand; `--once --output json --audit-log`; a second `--once` (campus in sync,
   lab's drift that no run can change); `--once --hub campus --output markdown` (exit 0);
   the audit file's lines and `audit verify`; `dump` by roster hub and by `--api-url`;
   the hubs drifted again; the daemon (`--listen`, `--interval 4s`, `--audit-log`,
   `--state-dir`) until each hub has run twice, then `/healthz`, `/readyz`, `/metrics`,
   SIGTERM, its exit code and logs, the trail it wrote, its state directory, and `audit
   verify` of the whole trail. After each phase the hubs' users, admin flags and group
   members as the hub lists them.
3. Runs that need no hub: `--validate` of config/roster.example.yaml and config/roster.d
   (dummy tokens, as .ci/run does) and of every roster in tests/fixtures/rosters (the
   variables roster_corpus.rs sets); `diff` of every case in tests/fixtures/diff in text,
   json and markdown (`--today 2026-03-01`, as tests/diff.rs); `schema`; `import` of the
   z2jh fixtures; usage errors and their exit codes; `--help` of every mode and
   subcommand, and `--version`.

Masking rules (applied to both sides alike; everything else is compared byte for byte):

- M1 literals of the run: the binary's own work directory -> <WORK>; each hub's port ->
  <PORT:campus>, <PORT:lab>; the daemon's listen port -> <PORT:listen>. Exact strings,
  not patterns, so no other number is touched.
- M2 times: RFC 3339 date-times (2026-03-01T12:00:00.123456Z, with or without fraction or
  zone) -> <TIME>, wherever they appear (log prefixes, JSON, audit `time`, `dump`'s
  "as of", the lock's `since`). Plain dates (2020-01-31, the --today date) are NOT
  masked: they are inputs, and an expiry judged differently must show. Today's date is
  masked only as the exact string of the day the check ran -> <TODAY>.
- M3 durations: the values of the JSON keys and log fields `duration_seconds`, `audit_ms`
  (time spent writing the trail) and `read_ms` (reading it) -> <DURATION>. No other number with a
  unit is masked: the text reports and logs of these runs print no elapsed time, and a
  pattern such as "(2s" would also hide a changed default in --help ("(30s, 2m, 1h)").
- M4 run ids: `20260301T120000Z-1a2b3c4d` (the UTC start and 32 random bits) -> <RUN:k>,
  k counting the record's distinct runs in order of first appearance (after M8); intent
  ids (`<run>.<n>`) -> <ID:k>, k counting the intent lines (`"id":`) in order. The random
  part and the process-wide counter go (two hubs draw intent numbers from one counter in
  the order their runs happen to reach it); which lines share a run, and which outcome
  answers which intent, stay.
- M5 hashes: 64 hex digits -> <SHA256> (audit `prev`, `last_head`, `audit verify`'s head):
  they chain over lines that hold times. A `prev` of null (a chain's start) stays null.
  The plan's digest of a hub's admins is NOT masked: it depends on the admins only, and a
  plan saved by one build must still apply with the other.
- M6 the hub's own times: a user's `created` and `last_activity` (a nameless admin's
  `created` is in the report) -> <TIME> by M2. In the audit lock file: the holder's
  `pid` and `host` and the trail's `dev` and `ino` -> <MASKED> (its `len` is compared).
- M7 metrics: values of `*_timestamp_seconds`, `run_duration_seconds_sum` and the
  `run_duration_seconds_bucket` lines below `+Inf` (which bucket a run's time falls in) ->
  <MASKED>. Counts (`_count`, `+Inf`, requests, changes, drift, errors) are compared.
- M8 order only where it is not defined: when two hubs run at the same time (every run
  on the seeded roster, and the daemon), their log lines and audit lines interleave by
  chance. Such stderr lines and audit lines are grouped by the hub they name (`hub=...`
  in a log line, `"hub"` in an audit line), keeping their order within a hub; lines that
  name no hub come first, in their order. In /metrics, the series of one family come in
  a hash map's order: they are sorted by their labels (`le` aside, so a histogram's
  buckets keep theirs), families and HELP/TYPE lines in place. Nothing else is
  re-ordered: stdout, reports, plans and diffs keep their order.
- Request counts are NOT masked: on the same seeded state the same reads must be made.

How the rules were checked, both ways:
- they cover the noise: one binary against itself (`--before X --after X`) prints
  "identical"; every rule above was added for a difference such a run showed, and none
  without one;
- they hide nothing else: edits to the raw records of such a run (`--recompare`, see
  --out) each show as a difference: a request count in the report and in /metrics, a
  run count, an `added_by` in the trail, an outcome naming another intent, two log lines
  of one hub swapped, an expiry date, a default in --help, the plan's digest, an exit
  code, a line of dump's fragment.

Tokens are random per hub; any token that shows in any output fails the check (a secret
in a log is a difference that no masking forgives).

Everything listens on 127.0.0.1; each hub is stopped on exit and also stops by itself when
this process dies (its stdin is a pipe from here). --out DIR keeps the masked records
(DIR/before/, DIR/after/, one file per record) to read or `diff -r`, and the raw ones
(DIR/before.raw/, DIR/after.raw/), which `--recompare DIR` masks and compares again
without running anything (how the rules below were tuned).
"""

import argparse
import datetime
import difflib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import local
from local import free_port, request

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "deploy/local/hub.py"
PAGINATION = "application/jupyterhub-pagination+json"
# argv[0] of every run, whatever the binary's file is called: clap prints it in usage lines.
PROGRAM = "jupyterhub-admin-sync"
DIFF_TODAY = "2026-03-01"
DAEMON_INTERVAL = "4s"
# The variables tests/roster_corpus.rs sets for tests/fixtures/rosters.
CORPUS_TOKENS = ("CLIMATE_PROD_TOKEN", "OCEAN_PROD_TOKEN", "CLIMATE_STAGING_TOKEN")
OPERATORS = [
    {
        "name": "operators",
        "scopes": ["admin:users", "admin:groups", "list:users"],
        "groups": ["ops"],
        "users": ["direct-op"],
    }
]


class SetupError(Exception):
    """The runs could not be made: not a difference between the builds."""


def log(msg):
    print(f"[same-outputs {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def http_request(port, method, path, token=None, body=None, accept=None, timeout=30.0):
    """One request to 127.0.0.1:PORT: (status, body text)."""
    status, data = request(port, method, path, token, body, accept, timeout)
    return status, data.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------
# Hubs
# --------------------------------------------------------------------------------------


class Hub:
    """A throwaway JupyterHub started by deploy/local/hub.py, as bench/bench.py starts its."""

    def __init__(self, name, venv, directory, extra_env):
        self.name = name
        self.venv = Path(venv)
        self.dir = Path(directory)
        self.extra_env = extra_env
        self.port = free_port()
        self.token = "same-sync-" + secrets.token_hex(16)
        self.test_token = "same-test-" + secrets.token_hex(16)
        self.proc = None
        self.version = None

    @property
    def api_url(self):
        return f"http://127.0.0.1:{self.port}/hub/api"

    def start(self, timeout=120.0):
        self.dir.mkdir(parents=True)
        env = dict(os.environ)
        env.update(self.extra_env)
        env.update(HUB_ADMIN_SYNC_TOKEN=self.token, HUB_TEST_ADMIN_TOKEN=self.test_token)
        command = [
            str(self.venv / "bin/python"), str(LAUNCHER), "run",
            "--dir", str(self.dir), "--port", str(self.port), "--exit-on-stdin-eof",
        ]
        logf = open(self.dir / "hub.log", "ab")
        self.proc = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=logf, stderr=logf)
        try:
            self.version = local.wait_for_hub(self.proc, self.port, timeout, every=0.05)
        except RuntimeError as e:
            raise SetupError(f"hub {self.name} {e}; see {self.dir}/hub.log") from None

    def stop(self):
        if self.proc is not None:
            local.stop(self.proc, 30)

    def api(self, method, path, body=None, expect=(200, 201, 204)):
        """A request as the `test-admin` service, which arranges the state."""
        status, text = http_request(self.port, method, "/hub/api" + path, self.test_token, body)
        if status not in expect:
            raise SetupError(f"hub {self.name}: {method} {path} -> {status} {text[:200]}")
        return json.loads(text) if text.strip() else None

    def paged(self, what):
        items, offset = [], 0
        while True:
            status, text = http_request(
                self.port, "GET", f"/hub/api/{what}?offset={offset}&limit=200",
                self.test_token, accept=PAGINATION,
            )
            if status != 200:
                raise SetupError(f"hub {self.name}: GET /{what} -> {status} {text[:200]}")
            page = json.loads(text)
            items += page["items"]
            following = page["_pagination"]["next"]
            if not following:
                return items
            offset = following["offset"]

    def state(self):
        """The users (name, admin flag, roles) and groups (members, roles), sorted: what
        the runs did to the hub."""
        users = sorted(
            (
                {"name": u["name"], "admin": u["admin"], "roles": sorted(u.get("roles") or [])}
                for u in self.paged("users")
            ),
            key=lambda u: (u["name"] is None, u["name"] or ""),
        )
        groups = sorted(
            ({"name": g["name"], "users": sorted(g["users"]), "roles": sorted(g.get("roles") or [])}
             for g in self.paged("groups")),
            key=lambda g: g["name"],
        )
        return json.dumps({"users": users, "groups": groups}, indent=1) + "\n"

    def create(self, names, admin):
        self.api("POST", "/users", {"usernames": names, "admin": admin})

    def set_admin(self, name, admin):
        self.api("PATCH", f"/users/{name}", {"admin": admin})


def seed_campus(hub):
    hub.create(["rep-ana", "rep-ben", "eng-sam", "mallory", "gina"], True)
    hub.create(["carol", "erin", "frank", "student-1", "student-2"], False)
    hub.api("POST", "/groups/hub-admins/users", {"users": ["erin", "frank"]})


def seed_lab(hub):
    hub.create(["lee@lab.example.org", "stray"], True)
    hub.create(["op-member", "op-staff", "nl-edited", "student-3"], False)
    hub.api("POST", "/groups/ops/users", {"users": ["op-member", "op-staff"]})
    # What 6.1.1's admin page sends on Edit User: the unchanged name with admin ticked.
    # 6.1.x then erases the name (an admin without a name); older hubs keep it.
    hub.api("PATCH", "/users/nl-edited", {"name": "nl-edited", "admin": True})


def drift(campus, lab):
    """What people do between runs: take a granted admin away, make a revoked one again."""
    campus.set_admin("carol", False)
    campus.set_admin("mallory", True)
    lab.set_admin("stray", True)


def roster_text(campus, lab):
    return f"""version: 1
people:
  - name: rep-lee
    ids: {{email: lee@lab.example.org}}
engineers:
  - name: eng-sam
defaults:
  policy: enforce
  max_revocation_share: 1
communities:
  - name: campus
    representatives:
      - name: rep-ana
      - name: rep-ben
    administrators:
      - name: carol
        added_by: rep-ana
      - name: dave
        added_by: carol
      - name: frank
        added_by: rep-ben
      - name: gina
        added_by: rep-ana
        expires: 2020-01-31
    hubs:
      - name: campus
        api_url: {campus.api_url}
        token_env: CAMPUS_TOKEN
  - name: lab
    representatives:
      - name: rep-lee
    administrators:
      - name: op-staff
        added_by: rep-lee
    hubs:
      - name: lab
        api_url: {lab.api_url}
        token_env: LAB_TOKEN
        login: email
        engineers: false
        admin_roles: [operators]
"""


# --------------------------------------------------------------------------------------
# One binary through the runs
# --------------------------------------------------------------------------------------


class Session:
    """One binary's records: name -> text, in the order they were made."""

    def __init__(self, label, binary, work, venv):
        self.label = label
        self.binary = str(Path(binary).resolve())
        self.work = Path(work)
        self.venv = venv
        self.records = {}
        self.unordered = set()  # records whose lines interleave by chance (M8)
        self.literals = {str(self.work): "<WORK>"}
        self.secrets = []
        self.hubs = []

    def env(self, extra=()):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
        }
        env.update(extra)
        return env

    def record(self, name, text, unordered=False):
        if name in self.records:
            raise SetupError(f"record {name} made twice")
        self.records[name] = text
        if unordered:
            self.unordered.add(name)

    def run(self, name, args, env=(), cwd=None, unordered=False, timeout=180):
        p = subprocess.run(
            [PROGRAM, *args], executable=self.binary, cwd=cwd or self.work, env=self.env(env),
            stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
        )
        self.record(f"{name}.exit", f"{p.returncode}\n")
        self.record(f"{name}.stdout", p.stdout.decode("utf-8", "replace"))
        self.record(f"{name}.stderr", p.stderr.decode("utf-8", "replace"), unordered)
        return p

    def file(self, name, path, unordered=False):
        path = Path(path)
        self.record(name, path.read_text(errors="replace") if path.exists() else "<absent>\n", unordered)

    # ------------------------------------------------------------------ offline runs
    def offline(self):
        self.validate_examples()
        self.validate_corpus()
        self.diffs()
        self.run("schema", ["schema"])
        self.imports()
        self.usage()

    def validate_examples(self):
        for rel in ("config/roster.example.yaml", "config/roster.d"):
            path = ROOT / rel
            names = set()
            files = [path] if path.is_file() else sorted(path.glob("*.yaml"))
            for f in files:
                names |= set(re.findall(r"token_env: ([A-Za-z_][A-Za-z0-9_]*)", f.read_text()))
            env = {n: "example-token-0123" for n in names}
            self.run(f"validate/{rel}", ["--validate", "--config", rel], env, cwd=ROOT)

    def validate_corpus(self):
        src = ROOT / "tests/fixtures/rosters"
        dst = self.work / "rosters"
        dst.mkdir()
        for f in sorted(src.iterdir()):
            data = f.read_bytes()
            if f.suffix == ".yaml":
                try:
                    data = data.decode("utf-8").replace("{{DIR}}", str(src)).encode("utf-8")
                except UnicodeDecodeError:
                    pass
            (dst / f.name).write_bytes(data)
        env = {n: "tok-12345678" for n in CORPUS_TOKENS}
        for f in sorted(dst.glob("*.yaml")):
            self.run(f"validate/fixtures/{f.name}", ["--validate", "--config", f"rosters/{f.name}"], env)

    def diffs(self):
        for case in sorted(p for p in (ROOT / "tests/fixtures/diff").iterdir() if p.is_dir()):
            base = "base" if (case / "base").is_dir() else "base.yaml"
            new = "new" if (case / "new").is_dir() else "new.yaml"
            for output in ("text", "json", "markdown"):
                self.run(
                    f"diff/{case.name}/{output}",
                    ["diff", "--base", base, "--config", new, "--today", DIFF_TODAY, "--output", output],
                    cwd=case,
                )
        # Without --today: judged on the day of the check (masked as <TODAY> if printed).
        self.run("diff/example-vs-roster.d", ["diff", "--base", "config/roster.example.yaml",
                                              "--config", "config/roster.d"], cwd=ROOT)

    def imports(self):
        z2jh = ROOT / "tests/fixtures/z2jh"
        for f in sorted(z2jh.glob("*.yaml")):
            self.run(f"import/{f.stem}", ["import", "--z2jh-values", f.name], cwd=z2jh)
        self.run("import/common+prod", ["import", "--z2jh-values", "common.yaml", "prod.yaml",
                                        "--community", "climate-lab", "--token-env", "PROD_TOKEN"], cwd=z2jh)

    def usage(self):
        example = str(ROOT / "config/roster.example.yaml")
        cases = {
            "no-roster": ["--dry-run"],
            "two-modes": ["--dry-run", "--once", "--config", example],
            "allow-revocations-without-once": ["--dry-run", "--allow-revocations", "x=1", "--config", example],
            "allow-revocations-bad": ["--once", "--allow-revocations", "x", "--config", example],
            "plan-out-without-dry-run": ["--once", "--plan-out", "p.json", "--config", example],
            "plan-without-once": ["--dry-run", "--plan", "p.json", "--config", example],
            "interval-zero": ["--interval", "0s", "--config", example],
            "interval-garbage": ["--interval", "soon", "--config", example],
            "listen-garbage": ["--listen", "nowhere", "--config", example],
            "digest-at-garbage": ["--digest-at", "25:00", "--config", example],
            "digest-always-alone": ["--digest-always", "--config", example],
            "concurrency-zero": ["--dry-run", "--concurrency", "0", "--config", example],
            "max-attempts-high": ["--dry-run", "--max-attempts", "21", "--config", example],
            "output-garbage": ["--dry-run", "--output", "yaml", "--config", example],
            "webhook-garbage": ["--alert-webhook-url", "not a url", "--config", example],
            "roster-missing": ["--validate", "--config", "no-such-roster.yaml"],
            "dump-nothing": ["dump"],
            "dump-hub-unknown": ["dump", "--config", example, "--hub", "no-such-hub"],
            "diff-missing-base": ["diff", "--config", example],
            "import-missing-file": ["import", "--z2jh-values", "no-such-values.yaml"],
            "audit-verify-nothing": ["audit", "verify"],
            "audit-verify-missing": ["audit", "verify", "no-such-audit.jsonl"],
            "unknown-subcommand": ["frobnicate"],
            "unknown-flag": ["--frobnicate"],
            "version": ["--version"],
        }
        for name, args in cases.items():
            self.run(f"usage/{name}", args)
        for helped in ([], ["dump"], ["import"], ["diff"], ["schema"], ["audit"], ["audit", "verify"]):
            self.run("help/" + ("-".join(helped) or "main"), [*helped, "--help"])
        self.run("help/short", ["-h"])

    # ---------------------------------------------------------------- runs on hubs
    def start_hubs(self):
        campus = Hub("campus", self.venv, self.work / "hub-campus", {"HUB_ADMIN_GROUPS": "hub-admins"})
        lab = Hub("lab", self.venv, self.work / "hub-lab", {"HUB_EXTRA_ROLES": json.dumps(OPERATORS)})
        self.hubs = [campus, lab]
        for hub in self.hubs:
            hub.start()
            self.literals[str(hub.port)] = f"<PORT:{hub.name}>"
            self.secrets += [hub.token, hub.test_token]
        log(f"{self.label}: hubs campus :{campus.port} and lab :{lab.port}, JupyterHub {campus.version}")
        seed_campus(campus)
        seed_lab(lab)
        return campus, lab

    def hub_state(self, name):
        for hub in self.hubs:
            self.record(f"{name}/hub-{hub.name}", hub.state())

    def on_hubs(self):
        campus, lab = self.start_hubs()
        (self.work / "roster.yaml").write_text(roster_text(campus, lab))
        tokens = {"CAMPUS_TOKEN": campus.token, "LAB_TOKEN": lab.token}
        roster = ["--config", "roster.yaml"]

        def run(name, args, **kw):
            return self.run(name, [*args, *roster], tokens, unordered=True, **kw)

        self.hub_state("0-seeded")
        run("1-validate", ["--validate"])
        run("2-dry-run-text", ["--dry-run"])
        run("2-dry-run-json", ["--dry-run", "--output", "json"])
        run("2-dry-run-markdown", ["--dry-run", "--output", "markdown"])
        run("3-dry-run-plan-out", ["--dry-run", "--plan-out", "plan.json"])
        self.file("3-plan.json", self.work / "plan.json")
        self.hub_state("3-after-dry-runs")
        audit = ["--audit-log", "audit.jsonl"]
        run("4-once-plan", ["--once", "--plan", "plan.json", *audit])
        self.hub_state("4-after-once-plan")
        run("4-once-plan-stale", ["--once", "--plan", "plan.json", *audit])
        drift(campus, lab)
        self.hub_state("5-drifted")
        run("5-once-json", ["--once", "--output", "json", *audit])
        self.hub_state("5-after-once")
        run("6-once-again", ["--once", *audit])
        run("6-once-campus-markdown", ["--once", "--hub", "campus", "--output", "markdown", *audit])
        self.hub_state("6-after-second-once")
        self.file("7-audit.jsonl", self.work / "audit.jsonl", unordered=True)
        self.file("7-audit.jsonl.lock", self.work / "audit.jsonl.lock")
        self.run("7-audit-verify", ["audit", "verify", "audit.jsonl"])
        run("8-dump-roster-hub", ["dump", "--hub", "campus"])
        self.run("8-dump-api-url", ["dump", "--api-url", lab.api_url, "--token-env", "LAB_TOKEN"], tokens)
        self.run("8-dump-api-url-no-token", ["dump", "--api-url", lab.api_url, "--token-env", "LAB_TOKEN"])
        drift(campus, lab)
        self.hub_state("9-drifted")
        self.daemon(roster, tokens)
        self.hub_state("9-after-daemon")
        self.file("9-audit.jsonl", self.work / "audit.jsonl", unordered=True)
        self.run("9-audit-verify", ["audit", "verify", "audit.jsonl"])

    def daemon(self, roster, tokens):
        port = free_port()
        self.literals[str(port)] = "<PORT:listen>"
        args = [
            *roster, "--listen", f"127.0.0.1:{port}", "--interval", DAEMON_INTERVAL,
            "--audit-log", "audit.jsonl", "--state-dir", "state",
        ]
        (self.work / "state").mkdir()
        err = open(self.work / "daemon.stderr", "wb")
        out = open(self.work / "daemon.stdout", "wb")
        p = subprocess.Popen([PROGRAM, *args], executable=self.binary, cwd=self.work, env=self.env(tokens),
                             stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        try:
            metrics = self.wait_for_runs(p, port, runs=2)
            for path in ("/healthz", "/readyz"):
                status, body = http_request(port, "GET", path)
                self.record(f"9-daemon{path}", f"{status}\n{body}")
            self.record("9-daemon/metrics", metrics)
            p.send_signal(signal.SIGTERM)
            code = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            err.close()
            out.close()
        self.record("9-daemon.exit", f"{code}\n")
        self.file("9-daemon.stdout", self.work / "daemon.stdout")
        self.file("9-daemon.stderr", self.work / "daemon.stderr", unordered=True)
        state = self.work / "state"
        files = sorted(state.rglob("*")) if state.exists() else []
        listing = "".join(f"{f.relative_to(state)}\n" for f in files) or "<empty>\n"
        self.record("9-daemon-state-dir", listing)
        for f in files:
            if f.is_file():
                self.file(f"9-daemon-state/{f.relative_to(state)}", f)

    def wait_for_runs(self, p, port, runs, timeout=120.0):
        """Polls /metrics until every hub has finished `runs` runs; returns that text."""
        t0 = time.monotonic()
        pattern = re.compile(r'^jupyterhub_admin_sync_run_duration_seconds_count\{hub="([^"]+)"\} (\d+)', re.M)
        while True:
            if p.poll() is not None:
                raise SetupError(f"{self.label}: the daemon exited ({p.returncode}); see {self.work}/daemon.stderr")
            try:
                status, text = http_request(port, "GET", "/metrics", timeout=5)
            except (OSError, http.client.HTTPException):
                status, text = None, ""
            if status == 200:
                counts = {hub: int(n) for hub, n in pattern.findall(text)}
                if all(counts.get(h.name, 0) >= runs for h in self.hubs):
                    if any(n > runs for n in counts.values()):
                        # Another interval passed before every hub had run twice: the
                        # records would hold a run more, by chance. Not a difference.
                        raise SetupError(f"{self.label}: a hub ran more than {runs} times before the "
                                         f"others had run {runs} ({counts}): the machine is too busy, run again")
                    return text
            if time.monotonic() - t0 > timeout:
                raise SetupError(f"{self.label}: the daemon's hubs did not run {runs} times in {timeout}s")
            time.sleep(0.1)

    def stop_hubs(self):
        for hub in self.hubs:
            hub.stop()


# --------------------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------------------

# (A time inside a user name is in the name's normal form: lower case t and z.)
TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:?\d\d)?")
RUN_ID = re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{8}(?:\.\d+)?\b")
INTENT_ID = re.compile(r'"id":\s*"(\d{8}T\d{6}Z-[0-9a-f]{8}\.\d+)"')
SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
JSON_DURATION = re.compile(r'("(?:duration_seconds|audit_ms|read_ms)":\s*)-?[0-9][0-9.eE+-]*')
LOG_DURATION = re.compile(r"(\b(?:duration_seconds|audit_ms|read_ms)=)\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])")
LOCK_FIELDS = re.compile(r'("(?:pid|host|dev|ino)":\s*)("[^"]*"|\d+)')
METRIC_TIME = re.compile(
    r"^(jupyterhub_admin_sync_(?:\w+_timestamp_seconds|run_duration_seconds_sum)(?:\{[^}]*\})?) \S+$", re.M
)
METRIC_BUCKET = re.compile(
    r'^(jupyterhub_admin_sync_run_duration_seconds_bucket\{(?:[^}]*,)?le="(?!\+Inf)[^"]*"[^}]*\}) \S+$', re.M
)
LE_LABEL = re.compile(r',?le="[^"]*"')
LOG_HUB = re.compile(r"\bhub=\"?([^\s\"]+)")
AUDIT_HUB = re.compile(r'"hub":"((?:[^"\\]|\\.)*)"')


def mask(name, text, literals, today, unordered):
    """The record as compared: see the rules M1-M8 in the module's docstring."""
    if name in unordered:
        text = group_by_hub(text, AUDIT_HUB if ".jsonl" in name else LOG_HUB)  # M8
    text = number_ids(text)  # M4, on the raw ids, after M8 has put the lines in order
    paths = {k: v for k, v in literals.items() if not k.isdigit()}
    for literal, token in sorted(paths.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(literal, token)  # M1 paths
    text = TIME.sub("<TIME>", text)  # M2, M6
    text = text.replace(today, "<TODAY>")  # M2
    text = SHA256.sub("<SHA256>", text)  # M5
    for literal, token in literals.items():
        if literal.isdigit():  # M1 ports, after the hashes they could hide in
            text = re.sub(rf"(?<![0-9A-Za-z]){literal}(?![0-9A-Za-z])", token, text)
    text = JSON_DURATION.sub(r'\1"<DURATION>"', text)  # M3
    text = LOG_DURATION.sub(r"\1<DURATION>", text)  # M3
    if name.endswith(".lock"):
        text = LOCK_FIELDS.sub(r'\1"<MASKED>"', text)  # M6
    if name.endswith("/metrics"):
        text = METRIC_TIME.sub(r"\1 <MASKED>", text)  # M7
        text = METRIC_BUCKET.sub(r"\1 <MASKED>", text)  # M7
        text = sort_series(text)  # M8
    return text


def number_ids(text):
    """Run ids -> <RUN:k>, k counting distinct runs in order of first appearance, and
    intent ids -> <ID:k>, k counting the intents in the order of the lines that state
    them (`"id":`), then any other id in order of appearance (M4). The random part and
    the process-wide counter go; which lines share a run, and which outcome answers
    which intent, stay (an outcome that names another intent differs on that line
    alone)."""
    seen = {}
    for raw in INTENT_ID.findall(text):
        seen.setdefault(raw, f"<ID:{len(seen) + 1}>")
    counts = {"ID": len(seen), "RUN": 0}

    def name(match):
        raw = match.group(0)
        if raw not in seen:
            kind = "ID" if "." in raw else "RUN"
            counts[kind] += 1
            seen[raw] = f"<{kind}:{counts[kind]}>"
        return seen[raw]

    return RUN_ID.sub(name, text)


def sort_series(text):
    """Each metric family's series sorted by their labels (`le` aside, so a histogram's
    buckets keep their order), the families and their HELP and TYPE lines in place: the
    exposition gives series in a hash map's order (M8)."""
    out, family = [], []

    def flush():
        out.extend(sorted(family, key=lambda line: LE_LABEL.sub("", line.split(" ")[0])))
        family.clear()

    for line in text.splitlines(keepends=True):
        if line.startswith("#"):
            flush()
            out.append(line)
        else:
            family.append(line)
    flush()
    return "".join(out)


def group_by_hub(text, pattern):
    """Lines grouped by the hub they name, in order within a hub; lines naming none
    first (M8)."""
    lines = text.splitlines(keepends=True)

    def key(line):
        m = pattern.search(line)
        return m.group(1) if m else ""

    return "".join(sorted(lines, key=key))


# --------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------


def compare(before, after, today, use_mask=True):
    """[(name, before text, after text)] of every record that differs after masking."""
    differ = []
    for name in list(dict.fromkeys([*before.records, *after.records])):
        a = before.records.get(name)
        b = after.records.get(name)
        if use_mask:
            a = None if a is None else mask(name, a, before.literals, today, before.unordered)
            b = None if b is None else mask(name, b, after.literals, today, after.unordered)
        if a != b:
            differ.append((name, a, b))
    return differ


def leaks(session):
    """Records in which a token of this session shows."""
    return [(name, s[:10] + "...") for name, text in session.records.items() for s in session.secrets if s in text]


def file_name(record):
    return record.replace("/", "__") + ".txt"


def save(session, out, today):
    """OUT/LABEL/ the masked records, OUT/LABEL.raw/ the raw ones and what masking needs
    (OUT/LABEL.raw/meta.json; no token), so that --recompare OUT can mask them again."""
    masked, raw = Path(out) / session.label, Path(out) / f"{session.label}.raw"
    for d in (masked, raw):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    for name, text in session.records.items():
        (masked / file_name(name)).write_text(mask(name, text, session.literals, today, session.unordered))
        (raw / file_name(name)).write_text(text)
    meta = {
        "binary": session.binary,
        "today": today,
        "records": list(session.records),
        "literals": session.literals,
        "unordered": sorted(session.unordered),
    }
    (raw / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def load(out, label):
    """A session as saved by `save` (no tokens: the leak check is not repeated)."""
    raw = Path(out) / f"{label}.raw"
    meta = json.loads((raw / "meta.json").read_text())
    session = Session(label, meta["binary"], raw, None)
    session.records = {name: (raw / file_name(name)).read_text() for name in meta["records"]}
    session.literals = meta["literals"]
    session.unordered = set(meta["unordered"])
    return session, meta["today"]


def show(differ, max_lines):
    for name, a, b in differ:
        print(f"\n== {name}: differs")
        if a is None or b is None:
            side, text = ("after", b) if a is None else ("before", a)
            print(f"   only {side} has it:")
            lines = text.splitlines()
            for line in lines[:max_lines]:
                print("   | " + line)
            if len(lines) > max_lines:
                print(f"   ... {len(lines) - max_lines} more lines")
            continue
        lines = list(difflib.unified_diff(
            a.splitlines(keepends=True), b.splitlines(keepends=True),
            fromfile=f"before/{name}", tofile=f"after/{name}", n=2,
        ))
        for line in lines[:max_lines]:
            print("   " + line.rstrip("\n"))
        if len(lines) > max_lines:
            print(f"   ... {len(lines) - max_lines} more lines")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def ensure_venv(venv):
    if not (Path(venv) / ".ready").is_file():
        log(f"making the JupyterHub venv {venv} (once; about a minute)")
    subprocess.run([sys.executable, str(LAUNCHER), "venv", str(venv)], check=True, stdout=subprocess.DEVNULL)


def one_binary(label, binary, work, venv, hubs):
    session = Session(label, binary, work, venv)
    work.mkdir(parents=True)
    log(f"{label}: {binary}")
    session.offline()
    if hubs:
        try:
            session.on_hubs()
        finally:
            session.stop_hubs()
    log(f"{label}: {len(session.records)} records")
    return session


def make_runs(args, today):
    """Both sessions, or None when the runs could not be made."""
    for binary in (args.before, args.after):
        if not binary or not os.access(binary, os.X_OK):
            sys.exit(f"same-outputs: {binary}: not an executable file (--before and --after are needed)")
    work = Path(tempfile.mkdtemp(prefix="same-outputs-"))
    try:
        if not args.no_hubs:
            ensure_venv(args.venv)
        sessions = [
            one_binary(label, binary, work / label, args.venv, not args.no_hubs)
            for label, binary in (("before", args.before), ("after", args.after))
        ]
    except (SetupError, subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        print(f"same-outputs: the runs could not be made: {e} (work directory kept: {work})", file=sys.stderr)
        return None
    if args.keep:
        log(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        for session in sessions:
            save(session, args.out, today)
    return sessions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the binary before the change")
    parser.add_argument("--after", help="the binary after the change")
    parser.add_argument("--venv", default=str(ROOT / "target/same-outputs/venv"),
                        help="JupyterHub venv (made with deploy/local/hub.py when missing)")
    parser.add_argument("--out", help="keep the records: OUT/before, OUT/after masked, OUT/*.raw as run")
    parser.add_argument("--recompare", metavar="OUT",
                        help="run nothing: mask and compare the raw records an earlier --out kept")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (hub logs, trail)")
    parser.add_argument("--no-hubs", action="store_true", help="only the runs that need no hub")
    parser.add_argument("--no-mask", action="store_true", help="compare the raw records")
    parser.add_argument("--max-lines", type=int, default=60, help="diff lines shown per record")
    args = parser.parse_args(argv)

    if args.recompare:
        (before, today), (after, _) = load(args.recompare, "before"), load(args.recompare, "after")
    else:
        today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        sessions = make_runs(args, today)
        if sessions is None:
            return 2
        before, after = sessions
    differ = compare(before, after, today, not args.no_mask)
    leaked = leaks(before) + leaks(after)
    print(f"same-outputs: {len(before.records)} records before, {len(after.records)} after")
    print(f"  before: {before.binary}\n  after:  {after.binary}")
    show(differ, args.max_lines)
    for name, prefix in leaked:
        print(f"\n== {name}: a token ({prefix}) shows in the output")
    if differ or leaked:
        names = ", ".join(name for name, _, _ in differ)
        print(f"\nsame-outputs: {len(differ)} records differ ({names}); {len(leaked)} token leaks")
        return 1
    print("\nsame-outputs: identical (after masking)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
