"""The benchmark of jupyterhub-admin-sync. Run it through bench/run.sh.

    python bench/bench.py --bin target/release/jupyterhub-admin-sync --venv target/bench/venv

What it measures (see BENCHMARKS.md for the figures and the reasoning):

1. Real JupyterHubs with N users (default 1,000 and 10,000), their sqlite database filled
   before the hub starts (bench/seed_hub.py), 5 of the users admins, 3 of them declared.
2. Per N, after one discarded warm-up of each, PAIRS pairs (half floor first, half binary
   first, in a shuffled order) of
   a. the floor: every page of GET /users at the hub's page maximum (limit=200), with
      the pagination Accept header, keep-alive, json.loads only (in this process);
   b. the binary: `--dry-run --output json` as a child process: wall, user+sys CPU from
      wait4(2), peak RSS from /usr/bin/time, and the report's `requests`.
3. The fleet: 200 hubs on one fake API (bench/fake_hub.py), 2,000 users each, every page
   delayed 50 ms; `--dry-run` at --concurrency 8 (the default) and 32; wall against the
   ideal (total page delay / concurrency), CPU and peak RSS of the binary, CPU of the fake,
   and the same requests by a minimal asyncio client (what this machine and fake allow).
   Also, for information: a skewed fleet (every 10th hub 5x slower), and one hub whose
   page maximum is raised to 10,000 (a single 2.4 MB page).
4. The status quo: stopping (SIGTERM until exit) and starting (until GET /hub/api/
   answers) the 10,000-user hub, against a `--once` that grants one admin there.
5. The audit trail (part `audit`): a `--once` that creates 300 declared admins on a real
   hub of 1,000 users, with and without `--audit-log` (a file on this disk, growing run
   after run), in AUDIT_PAIRS interleaved pairs, the hub's database put back before each
   run; and the cost of reading a long trail when the lock is taken (a chained file of
   100,000 lines), with `audit verify` on it.
6. The goals, each beside its figure, PASS or MISS.

Everything listens on 127.0.0.1. Every child (hubs, fake API) is stopped on exit, and
also dies by itself if this process dies (its stdin is a pipe from here).
Results: OUT/results.json; the table on stdout.
"""

import argparse
import atexit
import hashlib
import http.client
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import local
from local import free_port, request

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy/local"))
import hub as hub_launcher  # noqa: E402 (the JupyterHub launcher the tests and the demo share)

PAGINATION = "application/jupyterhub-pagination+json"
MIB = 1024 * 1024

CHILDREN = []  # Popen objects we started and must stop


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Children and cleanup
# --------------------------------------------------------------------------------------


def stop_child(p, timeout=20.0):
    local.stop(p, timeout)


def cleanup():
    for p in list(CHILDREN):
        stop_child(p)
        if p in CHILDREN:
            CHILDREN.remove(p)
    pids = OUT / "children.pids" if OUT else None
    if pids and pids.exists():
        pids.unlink()


def record_pids():
    (OUT / "children.pids").write_text("".join(f"{p.pid}\n" for p in CHILDREN if p.poll() is None))


def on_signal(signum, _frame):
    log(f"signal {signum}: stopping children")
    cleanup()
    sys.exit(128 + signum)


OUT = None
TIME = "/usr/bin/time"


# --------------------------------------------------------------------------------------
# Machine facts
# --------------------------------------------------------------------------------------


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"') + f" (kernel {platform.release()})"
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_bytes": mem,
        "os": os_name,
        "python": platform.python_version(),
    }


class CpuBusy:
    """Whole-machine CPU use between start and stop, from /proc/stat (0..1 of all cores),
    to show how much else was running."""

    @staticmethod
    def read():
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        return sum(vals), idle

    def __init__(self):
        self.t0, self.i0 = self.read()

    def busy(self):
        t1, i1 = self.read()
        dt = t1 - self.t0
        return round(1 - (i1 - self.i0) / dt, 3) if dt > 0 else None


def proc_cpu_seconds(pid):
    """utime+stime of a live process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------
# The binary
# --------------------------------------------------------------------------------------


def run_binary(binary, args, env, log_path):
    """Runs the binary under /usr/bin/time. Wall time around spawn..reap; CPU (user+sys)
    from wait4(2) (the binary plus `time` itself, whose share is about a millisecond);
    peak RSS from `time`'s %M (KiB).

    Why not ru_maxrss straight from wait4: Linux keeps a process's RSS high-water mark
    across exec, and a child forked (or vforked) from this Python process starts with
    Python's ~20 MiB, so it would report Python's size, not the binary's. `time` is a
    small process (~2 MiB), so the figure it reports is the binary's own."""
    full_env = dict(os.environ)
    full_env.update(env)
    time_out = Path(str(log_path) + ".time")
    with open(log_path, "ab") as err:
        epoch0 = time.time()
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [TIME, "-o", str(time_out), "-f", "%e %U %S %M", str(binary), *args],
            stdout=subprocess.PIPE, stderr=err, env=full_env,
        )
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        epoch1 = time.time()
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    fields = time_out.read_text().strip().splitlines()[-1].split()
    try:
        report = json.loads(out)
    except ValueError:
        report = None
    return {
        "exit": p.returncode,
        "wall_s": wall,
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "maxrss_kib": int(fields[3]),
        "time_wall_s": float(fields[0]),
        "start_epoch": epoch0,
        "end_epoch": epoch1,
        "report": report,
    }


def summarize_report(report):
    hubs = report["hubs"] if report else []
    return {
        "hubs": len(hubs),
        "requests": sum(h.get("requests", 0) for h in hubs),
        "users": sum(h.get("users") or 0 for h in hubs),
        "statuses": sorted({h["status"] for h in hubs}),
        "errors": [h["error"] for h in hubs if h.get("error")][:3],
        "duration_s_max": max((h.get("duration_seconds", 0) for h in hubs), default=None),
        "duration_s_sum": sum(h.get("duration_seconds", 0) for h in hubs),
        "duration_s_median": median([h.get("duration_seconds", 0) for h in hubs]),
        "changes": sum(len(h.get("changes", [])) for h in hubs),
    }


# --------------------------------------------------------------------------------------
# A real hub
# --------------------------------------------------------------------------------------


class RealHub:
    def __init__(self, venv, n, admins, workdir):
        self.venv = Path(venv)
        self.n = n
        self.admins = admins
        # Many groups, as a campus hub has (one per course): 1 per 20 users, each of
        # 20 members, and `hub-admins` holding the admin role with the admins in it.
        self.groups = max(1, n // 20)
        self.dir = Path(workdir)
        self.port = free_port()
        self.token = "bench-admin-sync-" + os.urandom(12).hex()
        self.test_token = "bench-test-admin-" + os.urandom(12).hex()
        self.proc = None
        self.log = self.dir / "hub.log"
        self.version = None

    def seed(self):
        if self.dir.exists():
            for p in sorted(self.dir.rglob("*"), reverse=True):
                p.unlink() if p.is_file() or p.is_symlink() else p.rmdir()
        self.dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        subprocess.run(
            [str(self.venv / "bin/python"), str(ROOT / "bench/seed_hub.py"),
             str(self.dir / "jupyterhub.sqlite"), str(self.n), str(self.admins),
             str(self.groups)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "seed.log", "wb"),
        )
        return time.perf_counter() - t0

    def start(self, timeout=300.0):
        """Starts the hub; returns seconds from spawn until GET /hub/api/ answers 200."""
        env = hub_launcher.hub_env(
            self.dir,
            self.port,
            log_level=os.environ.get("BENCH_HUB_LOG_LEVEL", "WARN"),
            exit_on_stdin_eof=True,
        )
        env.update(
            HUB_ADMIN_SYNC_TOKEN=self.token,
            HUB_TEST_ADMIN_TOKEN=self.test_token,
            HUB_ADMIN_GROUPS="hub-admins",
        )
        logf = open(self.log, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            hub_launcher.hub_command(self.venv),
            cwd=self.dir, env=env, stdin=subprocess.PIPE, stdout=logf, stderr=logf,
        )
        CHILDREN.append(self.proc)
        record_pids()
        try:
            self.version = local.wait_for_hub(self.proc, self.port, timeout, every=0.02)
        except RuntimeError as e:
            raise RuntimeError(f"hub {e}; see {self.log}") from None
        return time.perf_counter() - t0

    def stop(self):
        """SIGTERM; returns seconds until the process exited."""
        t0 = time.perf_counter()
        local.stop(self.proc, 120)
        dt = time.perf_counter() - t0
        if self.proc in CHILDREN:
            CHILDREN.remove(self.proc)
        record_pids()
        return dt

    @property
    def api_url(self):
        return f"http://127.0.0.1:{self.port}/hub/api"


def read_pages(c, headers, what, limit):
    """Every page of GET /hub/api/{what} on connection `c`: (items, requests, page limit)."""
    offset, requests, items, page_limit, total = 0, 0, [], None, None
    while True:
        c.request("GET", f"/hub/api/{what}?offset={offset}&limit={limit}", headers=headers)
        r = c.getresponse()
        body = r.read()
        requests += 1
        if r.status != 200:
            raise RuntimeError(f"floor: HTTP {r.status}: {body[:200]!r}")
        page = json.loads(body)
        items += page["items"]
        p = page["_pagination"]
        page_limit, total = p["limit"], p["total"]
        if not p["next"]:
            break
        offset = p["next"]["offset"]
    if len(items) != total:
        raise RuntimeError(f"floor: read {len(items)} {what}, the hub's total is {total}")
    return items, requests, page_limit


def floor(port, token, limit):
    """The fewest requests that read every user's name and admin flag and every group's
    members and roles: every page at the hub's page maximum, keep-alive, json.loads and
    nothing else."""
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"token {token}", "Accept": PAGINATION}
    users, requests, page_limit = read_pages(c, headers, "users", limit)
    groups, group_requests, _ = read_pages(c, headers, "groups", limit)
    c.close()
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "requests": requests + group_requests,
        "users": len(users),
        "admins": sum(1 for u in users if u["admin"]),
        "groups": len(groups),
        "page_limit": page_limit,
    }


# --------------------------------------------------------------------------------------
# Rosters
# --------------------------------------------------------------------------------------


def write_roster(path, hubs, extra_admins=(), log_file=None):
    """hubs: [(name, api_url)]. One community per hub: representatives user00000 and
    user00001, administrator user00002 (added by user00000), plus `extra_admins`; with
    `log_file`, each hub's log is that file (read to say who made each admin)."""
    lines = ["version: 1", "defaults:", "  policy: enforce", "  max_revocations: 5", "communities:"]
    for name, url in hubs:
        lines += [
            f"  - name: c-{name}",
            "    representatives:",
            "      - name: user00000",
            "      - name: user00001",
            "    administrators:",
            "      - name: user00002",
            "        added_by: user00000",
        ]
        for extra in extra_admins:
            lines += [f"      - name: {extra}", "        added_by: user00000"]
        lines += [
            "    hubs:",
            f"      - name: {name}",
            f"        api_url: {url}",
            "        token_env: BENCH_HUB_TOKEN",
        ]
        if log_file:
            lines += [f"        log: {{file: '{log_file}'}}"]
    Path(path).write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------------
# The parts
# --------------------------------------------------------------------------------------


def median(xs):
    return statistics.median(xs) if xs else None


# --------------------------------------------------------------------------------------
# The audit trail: writing ahead, synced, against no audit log
# --------------------------------------------------------------------------------------

AUDIT_CREATES = 300


def audit_roster(path, api_url):
    """The hub's three seeded admins and AUDIT_CREATES administrators it does not have."""
    extra = [f"audit-new{i:03}" for i in range(AUDIT_CREATES)]
    return write_roster(path, [("audit-hub", api_url)], extra_admins=extra)


def chained_trail(path, lines):
    """A trail of `lines` chained lines shaped like the tool's: a chain line, then intents
    and their outcomes."""
    first = {"time": "2026-12-01T00:00:00.000000Z", "event": "chain", "chain": "new",
             "result": "a new audit trail", "mode": "daemon", "run": "20261201T000000Z-00000000", "prev": None}
    text = json.dumps(first, separators=(",", ":"))
    prev = hashlib.sha256(text.encode()).hexdigest()
    with open(path, "w") as f:
        f.write(text + "\n")
        for i in range(lines - 1):
            event = "intent" if i % 2 == 0 else "applied"
            line = {
                "time": "2026-12-01T00:00:00.000000Z", "hub": "climate-prod", "community": "climate-lab",
                "user": f"user{i // 2:06}", "action": "create", "role": "administrator", "added_by": "rep-bob",
                "event": event, "mode": "daemon", "run": "20261201T000000Z-00000000",
            }
            if event == "intent":
                line["id"] = f"20261201T000000Z-00000000.{i // 2}"
            else:
                line["result"] = "ok"
                line["intent"] = f"20261201T000000Z-00000000.{i // 2}"
            line["prev"] = prev
            text = json.dumps(line, separators=(",", ":"))
            prev = hashlib.sha256(text.encode()).hexdigest()
            f.write(text + "\n")


def audit_part(a, results):
    hub = RealHub(a.venv, 1000, 3, OUT / "hub-audit")
    log("audit: seeding a hub of 1,000 users")
    hub.seed()
    pristine = OUT / "hub-audit.sqlite"
    shutil.copy2(hub.dir / "jupyterhub.sqlite", pristine)
    roster = audit_roster(OUT / "roster-audit.yaml", hub.api_url)
    trail = OUT / "audit-bench.jsonl"
    for stale in (trail, Path(str(trail) + ".lock")):
        if stale.exists():
            stale.unlink()
    env = {"BENCH_HUB_TOKEN": hub.token}

    def one(with_audit):
        shutil.copy2(pristine, hub.dir / "jupyterhub.sqlite")
        hub.start()
        args = ["--config", str(roster), "--once", "--output", "json"]
        if with_audit:
            args += ["--audit-log", str(trail)]
        run_log = OUT / "once-audit.log"
        if run_log.exists():
            run_log.unlink()
        r = run_binary(a.bin, args, {**env, "RUST_LOG": "info"}, run_log)
        hub.stop()
        s = summarize_report(r["report"])
        applied = sum(1 for h in r["report"]["hubs"] for c in h["changes"] if c["applied"]) if r["report"] else 0
        if r["exit"] != 0 or applied != AUDIT_CREATES:
            raise RuntimeError(f"audit: --once exit {r['exit']}, {applied} applied, {s}; see {run_log}")
        r["report"] = s
        # The binary's own count of the time it spent writing and syncing the run's lines.
        spent = [float(x.split("=", 1)[1]) for x in run_log.read_text().split() if x.startswith("audit_ms=")]
        if with_audit and not spent:
            raise RuntimeError(f"audit: no audit_ms in {run_log}")
        r["audit_s"] = spent[-1] / 1000 if spent else 0.0
        return r

    log("audit: warm-up (discarded): without, then with the audit log")
    one(False)
    one(True)
    orders = [i % 2 for i in range(a.audit_pairs)]
    random.Random(20261201).shuffle(orders)
    pairs = []
    for i, first in enumerate(orders):
        order = [False, True] if first == 0 else [True, False]
        got = {w: one(w) for w in order}
        pair = {"order": "-".join("audit" if w else "plain" for w in order), "plain": got[False],
                "audit": got[True], "ratio": got[True]["wall_s"] / got[False]["wall_s"]}
        pairs.append(pair)
        log(f"audit: pair {i + 1}/{a.audit_pairs} ({pair['order']}): plain {got[False]['wall_s']:.2f}s, "
            f"audit {got[True]['wall_s']:.2f}s, ratio {pair['ratio']:.3f}; "
            f"{got[True]['audit_s'] * 1000:.0f} ms of it writing and syncing lines")
    results["audit"] = {
        "creates": AUDIT_CREATES,
        "pairs": pairs,
        "ratio_median": median([p["ratio"] for p in pairs]),
        "ratio_max": max(p["ratio"] for p in pairs),
        "plain_wall_median_s": median([p["plain"]["wall_s"] for p in pairs]),
        "audit_wall_median_s": median([p["audit"]["wall_s"] for p in pairs]),
        "audit_cpu_median_s": median([p["audit"]["cpu_s"] for p in pairs]),
        "writing_median_s": median([p["audit"]["audit_s"] for p in pairs]),
        "writing_share_median": median([p["audit"]["audit_s"] / p["audit"]["wall_s"] for p in pairs]),
        "plain_cpu_median_s": median([p["plain"]["cpu_s"] for p in pairs]),
        "trail_bytes": trail.stat().st_size,
        "loadavg_after": os.getloadavg(),
    }
    results["audit"]["long_trail"] = long_trail(a)


def long_trail(a, lines=100_000, runs=3):
    """What a long trail costs: the pass over it when the lock is taken (the `read_ms` the
    binary logs), and `audit verify` on it."""
    big = OUT / "audit-long.jsonl"
    chained_trail(big, lines)
    for stale in (Path(str(big) + ".lock"),):
        if stale.exists():
            stale.unlink()
    roster = OUT / "roster-audit-none.yaml"
    roster.write_text("communities: []\n")
    reads, verifies = [], []
    for _ in range(runs):
        done = subprocess.run([str(a.bin), "--config", str(roster), "--once", "--audit-log", str(big)],
                              capture_output=True, text=True, env={**os.environ, "RUST_LOG": "info"})
        found = [int(x.split("=")[1]) for x in done.stderr.split() if x.startswith("read_ms=")]
        if not found:
            raise RuntimeError(f"audit: no read_ms in the log: {done.stderr[-500:]}")
        reads.append(found[0] / 1000)
        t0 = time.perf_counter()
        v = subprocess.run([str(a.bin), "audit", "verify", str(big)], capture_output=True, text=True)
        verifies.append(time.perf_counter() - t0)
        if v.returncode != 0:
            raise RuntimeError(f"audit verify of the long trail: {v.stdout[-300:]} {v.stderr[-300:]}")
    log(f"audit: a trail of {lines:,} lines ({big.stat().st_size / MIB:.1f} MiB): read when the lock is taken "
        f"in {median(reads) * 1000:.0f} ms, verified in {median(verifies):.2f}s")
    return {"lines": lines, "bytes": big.stat().st_size, "read_median_s": median(reads),
            "verify_median_s": median(verifies)}


def real_hub_part(a, n, results, status_quo=False):
    hub = RealHub(a.venv, n, 5, OUT / f"hub-{n}")
    log(f"N={n}: seeding the database")
    seed_s = hub.seed()
    log(f"N={n}: seeded in {seed_s:.1f}s; starting the hub")
    first_start = hub.start()
    log(f"N={n}: JupyterHub {hub.version} answered after {first_start:.1f}s on port {hub.port}")
    busy = CpuBusy()
    roster = write_roster(OUT / f"roster-{n}.yaml", [(f"bench-{n}", hub.api_url)])
    env = {"BENCH_HUB_TOKEN": hub.token}
    args = ["--config", str(roster), "--dry-run", "--output", "json"]
    dlog = OUT / f"daemon-{n}.log"

    def one_floor():
        return floor(hub.port, hub.token, 200)

    def one_daemon():
        r = run_binary(a.bin, args, env, dlog)
        s = summarize_report(r["report"])
        if r["exit"] != 2 or s["users"] != n or s["statuses"] != ["drift"] or s["changes"] != 2:
            raise RuntimeError(f"N={n}: unexpected dry run: exit {r['exit']}, {s}; see {dlog}")
        r["report"] = s
        return r

    log(f"N={n}: warm-up (discarded): floor, then binary")
    warm = {"floor": one_floor(), "daemon": one_daemon()}
    pairs = []
    # The order within each pair: half one way, half the other, shuffled (fixed seed).
    # Strict alternation (FD DF FD DF ...) repeats every 4 runs, and the hub has a costly
    # pause (300-450 ms, most likely Python's full garbage collection) about every 4 runs
    # of 1,000 users: it then always fell on the same slot, a binary run that follows a
    # floor run, and doubled the 1,000-user ratio. A shuffled order spreads it.
    orders = [i % 2 for i in range(a.pairs)]
    random.Random(20261128 + n).shuffle(orders)
    for i in range(a.pairs):
        order = ["floor", "daemon"] if orders[i] == 0 else ["daemon", "floor"]
        got = {}
        for what in order:
            got[what] = one_floor() if what == "floor" else one_daemon()
        f, d = got["floor"], got["daemon"]
        pair = {
            "order": "-".join(order),
            "floor": f,
            "daemon": d,
            "ratio": d["wall_s"] / f["wall_s"],
            "ratio_in_process": d["report"]["duration_s_max"] / f["wall_s"],
        }
        pairs.append(pair)
        log(
            f"N={n}: pair {i + 1}/{a.pairs} ({pair['order']}): floor {f['wall_s']:.3f}s/{f['requests']} req, "
            f"binary {d['wall_s']:.3f}s/{d['report']['requests']} req, cpu {d['cpu_s'] * 1000:.0f}ms, "
            f"rss {d['maxrss_kib'] / 1024:.1f}MiB, ratio {pair['ratio']:.3f}"
        )
    ds = [p["daemon"] for p in pairs]
    fs = [p["floor"] for p in pairs]
    summary = {
        "users": n,
        "jupyterhub": hub.version,
        "ratio_median": median([p["ratio"] for p in pairs]),
        "ratio_in_process_median": median([p["ratio_in_process"] for p in pairs]),
        "ratio_min": min(p["ratio"] for p in pairs),
        # Less sensitive to other load on the machine than the median of ratios.
        "ratio_of_minimums": min(d["wall_s"] for d in ds) / min(f["wall_s"] for f in fs),
        "ratio_max": max(p["ratio"] for p in pairs),
        "floor_wall_median_s": median([f["wall_s"] for f in fs]),
        "floor_requests": fs[0]["requests"],
        "floor_page_limit": fs[0]["page_limit"],
        "daemon_wall_median_s": median([d["wall_s"] for d in ds]),
        "daemon_requests": ds[0]["report"]["requests"],
        "daemon_cpu_median_s": median([d["cpu_s"] for d in ds]),
        "daemon_cpu_share_median": median([d["cpu_s"] / d["wall_s"] for d in ds]),
        "daemon_maxrss_max_kib": max(d["maxrss_kib"] for d in ds),
        "daemon_maxrss_median_kib": median([d["maxrss_kib"] for d in ds]),
        "machine_cpu_busy": busy.busy(),
        "loadavg_after": os.getloadavg(),
        "seed_s": seed_s,
        "first_start_s": first_start,
    }
    results["real_hub"][str(n)] = {"summary": summary, "warmup": warm, "pairs": pairs}
    if status_quo:
        results["log_dry_run"] = log_dry_run_part(a, hub, roster, env, mib=a.log_dry_run_mib)
        results["status_quo"] = status_quo_part(a, hub)
    log(f"N={n}: stopping the hub")
    hub.stop()


def log_dry_run_part(a, hub, plain_roster, env, mib=100, pairs=7):
    """The same dry run with and without the hub's log in the roster (`log: {file}`, a
    generated real-format log of `mib` MiB read whole, as a one-shot run reads it):
    pairs in shuffled order, the ratio of the medians."""
    n = hub.n
    log_file = OUT / "hub-log-dry-run.log"
    made = subprocess.run([str(a.parse_log), "generate", str(log_file), str(mib)], capture_output=True, text=True)
    if made.returncode != 0:
        raise SystemExit(f"bench: generating the hub log failed: {made.stderr[-500:]}")
    with_log = write_roster(OUT / f"roster-{n}-log.yaml", [(f"bench-{n}", hub.api_url)], log_file=log_file)
    dlog = OUT / f"log-dry-run-{n}.log"

    def one(roster):
        r = run_binary(a.bin, ["--config", str(roster), "--dry-run", "--output", "json"], env, dlog)
        s = summarize_report(r["report"])
        if r["exit"] != 2 or s["users"] != n:
            raise RuntimeError(f"N={n}: unexpected dry run: exit {r['exit']}, {s}; see {dlog}")
        return r

    try:
        one(with_log)  # warm-up: the log into the page cache, as a daemon's would be
        runs = {"with": [], "without": []}
        orders = [i % 2 for i in range(pairs)]
        random.Random(20261201).shuffle(orders)
        for i, first in enumerate(orders):
            for what in (["with", "without"] if first == 0 else ["without", "with"]):
                runs[what].append(one(with_log if what == "with" else plain_roster))
            log(f"N={n}: log dry run pair {i + 1}/{pairs}: with {runs['with'][-1]['wall_s']:.3f}s, "
                f"without {runs['without'][-1]['wall_s']:.3f}s")
    finally:
        log_file.unlink(missing_ok=True)
    walls = {k: median([r["wall_s"] for r in v]) for k, v in runs.items()}
    return {
        "users": n, "mib": mib, "pairs": pairs,
        "with_wall_median_s": walls["with"], "without_wall_median_s": walls["without"],
        "ratio": walls["with"] / walls["without"],
        "with_cpu_median_s": median([r["cpu_s"] for r in runs["with"]]),
        "with_maxrss_max_kib": max(r["maxrss_kib"] for r in runs["with"]),
        "without_maxrss_max_kib": max(r["maxrss_kib"] for r in runs["without"]),
    }


def status_quo_part(a, hub):
    """An admin change by restarting the hub vs. by a `--once`."""
    n = hub.n
    roster = write_roster(
        OUT / f"roster-{n}-grant.yaml", [(f"bench-{n}", hub.api_url)],
        extra_admins=("user00003", "user00004", "user00005"),
    )
    env = {"BENCH_HUB_TOKEN": hub.token}
    onces = []
    for i in range(a.status_quo_runs):
        r = run_binary(a.bin, ["--config", str(roster), "--once", "--output", "json"], env, OUT / f"once-{n}.log")
        s = summarize_report(r["report"])
        hubs = r["report"]["hubs"] if r["report"] else []
        granted = [c["user"] for h in hubs for c in h["changes"] if c["applied"] and c["action"] == "grant"]
        if r["exit"] != 0 or granted != ["user00005"]:
            raise RuntimeError(f"--once: exit {r['exit']}, granted {granted}, {s}")
        r["report"] = s
        onces.append(r)
        log(f"status quo: --once granting user00005: {r['wall_s']:.3f}s, {s['requests']} requests")
        status, body = request(hub.port, "PATCH", "/hub/api/users/user00005", hub.test_token, {"admin": False}, timeout=60)
        if status != 200:
            raise RuntimeError(f"resetting user00005: HTTP {status} {body[:200]!r}")
    restarts = []
    for i in range(a.restarts):
        stop_s = hub.stop()
        start_s = hub.start()
        restarts.append({"stop_s": stop_s, "start_s": start_s, "total_s": stop_s + start_s})
        log(f"status quo: restart {i + 1}/{a.restarts}: stop {stop_s:.2f}s + start {start_s:.2f}s")
    once_med = median([o["wall_s"] for o in onces])
    restart_med = median([r["total_s"] for r in restarts])
    return {
        "users": n,
        "once_runs": onces,
        "restarts": restarts,
        "once_wall_median_s": once_med,
        "once_requests": onces[0]["report"]["requests"],
        "restart_stop_median_s": median([r["stop_s"] for r in restarts]),
        "restart_start_median_s": median([r["start_s"] for r in restarts]),
        "restart_total_median_s": restart_med,
        "restart_over_once": restart_med / once_med,
        "loadavg_after": os.getloadavg(),
    }


class FakeFleet:
    def __init__(self, a, hubs, users, page_delay, page_max=200, slow_every=0, slow_factor=1.0):
        self.token = "bench-fake-" + os.urandom(12).hex()
        cmd = [sys.executable, str(ROOT / "bench/fake_hub.py"), "--hubs", str(hubs), "--users", str(users),
               "--admins", "5", "--page-max", str(page_max), "--page-delay", str(page_delay),
               "--token", self.token]
        if slow_every:
            cmd += ["--slow-every", str(slow_every), "--slow-factor", str(slow_factor)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(OUT / "fake_hub.log", "ab"))
        CHILDREN.append(self.proc)
        record_pids()
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            raise RuntimeError(f"fake hub did not start: {line!r}; see {OUT / 'fake_hub.log'}")
        self.port = int(line.split()[1])

    def stats(self, reset=False):
        return json.loads(request(self.port, "GET", "/_stats?reset=1" if reset else "/_stats", timeout=5)[1])

    def stop(self):
        stop_child(self.proc)
        if self.proc in CHILDREN:
            CHILDREN.remove(self.proc)
        record_pids()


async def _fleet_floor(port, token, hubs, concurrency):
    import asyncio

    sem = asyncio.Semaphore(concurrency)

    async def one(i):
        async with sem:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)

            async def get(path, accept=None):
                head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: token {token}\r\n"
                if accept:
                    head += f"Accept: {accept}\r\n"
                writer.write((head + "\r\n").encode())
                answer = await reader.readuntil(b"\r\n\r\n")
                if not answer.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"fleet floor: {answer[:100]!r}")
                length = int(answer.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                return await reader.readexactly(length)

            await get(f"/h{i}/hub/api/")
            await get(f"/h{i}/hub/api/user")
            offset, requests = 0, 2
            while True:
                body = await get(f"/h{i}/hub/api/users?offset={offset}&limit=200", PAGINATION)
                requests += 1
                tail = body[body.rindex(b'"_pagination": ') + len(b'"_pagination": '):-1]
                nxt = json.loads(tail)["next"]
                if not nxt:
                    break
                offset = nxt["offset"]
            await get(f"/h{i}/hub/api/groups?offset=0&limit=200", PAGINATION)
            writer.close()
            return requests + 1

    t0 = time.perf_counter()
    counts = await asyncio.gather(*(one(i) for i in range(hubs)))
    return time.perf_counter() - t0, sum(counts)


def fleet_floor(fake, hubs, concurrency):
    """The same requests as the binary's (GET /, GET /user, every page, the groups) by a minimal
    asyncio client that keeps exactly `concurrency` hubs in flight (a semaphore), reading
    only `_pagination`: what this machine and this fake API allow."""
    import asyncio

    return asyncio.run(_fleet_floor(fake.port, fake.token, hubs, concurrency))


def fleet_run(a, fake, roster, concurrency, label, hubs, users, page_delay_total, with_floor=True):
    pages_per_hub = -(-users // 200)
    env = {"BENCH_HUB_TOKEN": fake.token}
    args = ["--config", str(roster), "--dry-run", "--output", "json", "--concurrency", str(concurrency)]
    floor_wall = floor_requests = None
    if with_floor:
        floor_wall, floor_requests = fleet_floor(fake, hubs, concurrency)
    fake.stats(reset=True)
    cpu0 = proc_cpu_seconds(fake.proc.pid)
    busy = CpuBusy()
    r = run_binary(a.bin, args, env, OUT / f"fleet-{label}.log")
    fake_cpu = proc_cpu_seconds(fake.proc.pid) - cpu0
    after = fake.stats(reset=True)
    s = summarize_report(r["report"])
    if r["exit"] != 2 or s["hubs"] != hubs or s["statuses"] != ["drift"] or s["users"] != hubs * users:
        raise RuntimeError(f"fleet {label}: exit {r['exit']}, {s}")
    r["report"] = s
    ideal = page_delay_total / concurrency
    res = {
        "label": label,
        "concurrency": concurrency,
        "hubs": hubs,
        "users_per_hub": users,
        "pages_per_hub": pages_per_hub,
        "wall_s": r["wall_s"],
        "ideal_s": ideal,
        "wall_over_ideal": r["wall_s"] / ideal,
        "cpu_s": r["cpu_s"],
        "user_s": r["user_s"],
        "sys_s": r["sys_s"],
        "maxrss_kib": r["maxrss_kib"],
        "requests": s["requests"],
        "server_requests": after["requests"],
        "server_errors": after["errors"],
        # From spawn to the first request the fake API saw: roster, clients, runtime.
        "startup_s": after["first_ts"] - r["start_epoch"],
        # From the first request to the last answer: the reading itself.
        "active_s": after["last_ts"] - after["first_ts"],
        # From the last answer to the process's exit: report, teardown.
        "teardown_s": r["end_epoch"] - after["last_ts"],
        "hub_seconds": s["duration_s_sum"],
        "hub_duration_median_s": s["duration_s_median"],
        # Hubs in flight on average while reading (the bound is `concurrency`).
        "mean_in_flight": s["duration_s_sum"] / (after["last_ts"] - after["first_ts"]),
        "floor_wall_s": floor_wall,
        "floor_requests": floor_requests,
        "wall_over_floor": r["wall_s"] / floor_wall if floor_wall else None,
        "fake_cpu_s": fake_cpu,
        "fake_cpu_share": fake_cpu / r["wall_s"],
        "machine_cpu_busy": busy.busy(),
        "loadavg_after": os.getloadavg(),
    }
    log(
        f"fleet {label}: wall {r['wall_s']:.2f}s vs ideal {ideal:.2f}s ({res['wall_over_ideal']:.2f}x)"
        + (f", minimal client {floor_wall:.2f}s" if floor_wall else "")
        + f"; startup {res['startup_s']:.2f}s, reading {res['active_s']:.2f}s with {res['mean_in_flight']:.1f} hubs "
        f"in flight, teardown {res['teardown_s']:.2f}s; cpu {r['cpu_s']:.2f}s, rss {r['maxrss_kib'] / 1024:.1f}MiB, "
        f"{s['requests']} requests, fake api cpu {fake_cpu:.2f}s ({res['fake_cpu_share'] * 100:.0f}% of a core)"
    )
    return res


def fleet_part(a, results):
    hubs, users, delay = a.fleet_hubs, a.fleet_users, 0.05
    pages = -(-users // 200)
    fake = FakeFleet(a, hubs, users, delay)
    try:
        roster = write_roster(
            OUT / "roster-fleet.yaml",
            [(f"h{i}", f"http://127.0.0.1:{fake.port}/h{i}/hub/api") for i in range(hubs)],
        )
        total_delay = hubs * pages * delay
        runs = {}
        for c in a.fleet_concurrency:
            runs[str(c)] = [fleet_run(a, fake, roster, c, f"c{c}-run{k + 1}", hubs, users, total_delay)
                            for k in range(a.fleet_runs)]
        results["fleet"] = {
            "hubs": hubs, "users_per_hub": users, "page_delay_s": delay, "page_max": 200,
            "total_page_delay_s": total_delay, "runs": runs,
            "summary": {
                c: {
                    "wall_median_s": median([x["wall_s"] for x in rs]),
                    "ideal_s": rs[0]["ideal_s"],
                    "whole_hub_bound_s": -(-hubs // int(c)) * pages * delay,
                    "wall_over_ideal_median": median([x["wall_over_ideal"] for x in rs]),
                    "cpu_median_s": median([x["cpu_s"] for x in rs]),
                    "maxrss_max_kib": max(x["maxrss_kib"] for x in rs),
                    "requests": rs[0]["requests"],
                    "fake_cpu_share_max": max(x["fake_cpu_share"] for x in rs),
                    "floor_wall_median_s": median([x["floor_wall_s"] for x in rs]),
                    "startup_median_s": median([x["startup_s"] for x in rs]),
                    "active_median_s": median([x["active_s"] for x in rs]),
                    "mean_in_flight_median": median([x["mean_in_flight"] for x in rs]),
                    "hub_duration_median_s": median([x["hub_duration_median_s"] for x in rs]),
                }
                for c, rs in runs.items()
            },
        }
    finally:
        fake.stop()

    if a.skewed:
        # For information: every 10th hub answers 5x slower (a big or busy hub).
        slow_every, factor = 10, 5.0
        fake = FakeFleet(a, hubs, users, delay, slow_every=slow_every, slow_factor=factor)
        try:
            roster = write_roster(
                OUT / "roster-fleet-skewed.yaml",
                [(f"h{i}", f"http://127.0.0.1:{fake.port}/h{i}/hub/api") for i in range(hubs)],
            )
            n_slow = len([i for i in range(hubs) if i % slow_every == 0])
            total_delay = (hubs - n_slow) * pages * delay + n_slow * pages * delay * factor
            c = 8
            run = fleet_run(a, fake, roster, c, "skewed-c8", hubs, users, total_delay)
            run["slow_every"], run["slow_factor"] = slow_every, factor
            # The best any schedule can do: total/c, but never less than the slowest hub.
            run["lower_bound_s"] = max(total_delay / c, pages * delay * factor)
            results["fleet_skewed"] = run
        finally:
            fake.stop()

    if a.big_page:
        # For information: one hub whose page maximum is raised to 10,000 (one 2.4 MB page),
        # and the same hub at page max 200, for comparison.
        rs = big_page_runs(a, 10000)
        results["big_page"] = {"page_max": 10000, "users": 10000, "runs": rs,
                               "maxrss_max_kib": max(x["maxrss_kib"] for x in rs)}
        rs = big_page_runs(a, 200)
        results["big_page"]["page_max_200"] = {"runs": rs, "maxrss_max_kib": max(x["maxrss_kib"] for x in rs)}
        log(f"big page: rss {results['big_page']['maxrss_max_kib'] / 1024:.1f}MiB at page max 10,000, "
            f"{results['big_page']['page_max_200']['maxrss_max_kib'] / 1024:.1f}MiB at 200 (fake API, 10,000 users)")


def big_page_runs(a, page_max, runs=3):
    """`--dry-run` of one fake hub of 10,000 users served `page_max` a page, `runs` times."""
    fake = FakeFleet(a, 1, 10000, 0.0, page_max=page_max)
    try:
        roster = write_roster(OUT / f"roster-page-max-{page_max}.yaml",
                              [("h0", f"http://127.0.0.1:{fake.port}/h0/hub/api")])
        rs = []
        for _ in range(runs):
            r = run_binary(a.bin, ["--config", str(roster), "--dry-run", "--output", "json"],
                           {"BENCH_HUB_TOKEN": fake.token}, OUT / "bigpage.log")
            rs.append({"wall_s": r["wall_s"], "cpu_s": r["cpu_s"], "maxrss_kib": r["maxrss_kib"],
                       "requests": summarize_report(r["report"])["requests"], "exit": r["exit"]})
        return rs
    finally:
        fake.stop()


# --------------------------------------------------------------------------------------
# Goals and the table
# --------------------------------------------------------------------------------------


def roster_part(a, results, runs=15):
    """`--validate` of the 171-hub fleet fixture (a roster directory), wall time per run."""
    fixture = ROOT / "tests" / "fixtures" / "fleet" / "roster"
    env = dict(os.environ, FLEET_TOKEN="fleet-fixture-token-0123")
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run([str(a.bin), "--validate", "--config", str(fixture)], env=env,
                              capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"bench: --validate of the fleet fixture failed: {done.stderr[-500:]}")
    results["roster"] = {"fixture": "tests/fixtures/fleet/roster", "hubs": 171, "runs": runs,
                         "validate_wall_median_s": median(walls), "validate_wall_max_s": max(walls),
                         "summary": done.stdout.strip()}
    log(f"fleet roster --validate: median {median(walls) * 1000:.1f} ms over {runs} runs")


def hub_log_part(a, results, runs=3, mib=1024):
    """The hub's log read as evidence (src/evidence): `examples/parse_log.rs` writes a
    real-format log of `mib` MiB (ordinary request lines, admin changes every 5,000
    lines) and reads it as the daemon would; the same process on an empty log is the
    baseline of its peak RSS. The log is deleted afterwards."""
    log_file, empty = OUT / "hub-log-bench.log", OUT / "hub-log-empty.log"
    made = subprocess.run([str(a.parse_log), "generate", str(log_file), str(mib)], capture_output=True, text=True)
    if made.returncode != 0:
        raise SystemExit(f"bench: generating the hub log failed: {made.stderr[-500:]}")
    written = json.loads(made.stdout)
    empty.write_text("")
    try:
        reads = [run_binary(a.parse_log, ["parse", str(log_file)], {}, OUT / "hub-log.stderr") for _ in range(runs)]
        bases = [run_binary(a.parse_log, ["parse", str(empty)], {}, OUT / "hub-log.stderr") for _ in range(runs)]
    finally:
        log_file.unlink(missing_ok=True)
        empty.unlink(missing_ok=True)
    for r in reads:
        if r["exit"] != 0 or not r["report"] or r["report"]["events"] != written["events"]:
            raise SystemExit(f"bench: reading the hub log went wrong: {r['report']} (wrote {written})")
    speeds = [r["report"]["mib_per_s"] for r in reads]
    results["hub_log"] = {
        "mib": written["bytes"] / 2**20, "events": written["events"], "runs": runs,
        "mib_per_s_median": median(speeds), "mib_per_s_min": min(speeds),
        "maxrss_max_kib": max(r["maxrss_kib"] for r in reads),
        "baseline_maxrss_max_kib": max(r["maxrss_kib"] for r in bases),
        "lines": reads[0]["report"]["lines"], "unknown": reads[0]["report"]["unknown"],
    }
    h = results["hub_log"]
    log(f"hub log: {h['mib']:.0f} MiB at {h['mib_per_s_median']:.0f} MiB/s (median of {runs}), peak RSS "
        f"{h['maxrss_max_kib'] / 1024:.1f} MiB vs {h['baseline_maxrss_max_kib'] / 1024:.1f} MiB without a log")


def goals(results):
    g = []

    def add(name, figure, target, ok):
        g.append({"goal": name, "figure": figure, "target": target, "pass": bool(ok)})

    rh = results["real_hub"]
    big = max(rh, key=int) if rh else None
    small = min(rh, key=int) if rh else None
    if big:
        s = rh[big]["summary"]
        n = f"{int(big):,}"
        add(f"binary/floor wall ratio, {n} users (median)", f"{s['ratio_median']:.3f}", "<= 1.10",
            s["ratio_median"] <= 1.10)
        rss = s["daemon_maxrss_max_kib"] / 1024
        add(f"peak RSS, {n} users (max of runs)", f"{rss:.1f} MiB", "<= 25 MiB", rss <= 25)
        if small and small != big:
            rss_small = rh[small]["summary"]["daemon_maxrss_max_kib"] / 1024
            grow = rss / rss_small - 1
            add(f"peak RSS growth, {int(small):,} -> {n} users", f"{grow * 100:+.1f}% ({rss_small:.1f} -> {rss:.1f} MiB)",
                "<= +20%", grow <= 0.20)
        add(f"binary/floor wall ratio, {n} users, groups read too (median; issue 18)", f"{s['ratio_median']:.3f}",
            "<= 1.05", s["ratio_median"] <= 1.05)
        share = s["daemon_cpu_share_median"]
        add(f"binary CPU / wall, {n} users (median)", f"{share * 100:.2f}%", "<= 5%", share <= 0.05)
    if "log_dry_run" in results:
        r = results["log_dry_run"]
        add(f"dry run of {r['users']:,} users reading a {r['mib']} MiB hub log / without (medians)",
            f"{r['ratio']:.3f} ({r['with_wall_median_s']:.2f}s vs {r['without_wall_median_s']:.2f}s)", "<= 1.10",
            r["ratio"] <= 1.10)
    if "roster" in results:
        r = results["roster"]
        ms = r["validate_wall_median_s"] * 1000
        add(f"--validate of the {r['hubs']}-hub fleet roster (whole process, median)", f"{ms:.1f} ms", "< 100 ms",
            ms < 100)
    if "hub_log" in results:
        h = results["hub_log"]
        add(f"hub log of {h['mib']:,.0f} MiB read (median)", f"{h['mib_per_s_median']:.0f} MiB/s", ">= 100 MiB/s",
            h["mib_per_s_median"] >= 100)
        grow = (h["maxrss_max_kib"] - h["baseline_maxrss_max_kib"]) / 1024
        add("hub log peak RSS above the same process without a log", f"{grow:+.1f} MiB", "<= 16 MiB", grow <= 16)
    if "audit" in results:
        r = results["audit"]
        add(f"--once of {r['creates']} changes, audit log on / off (median of pairs)", f"{r['ratio_median']:.3f}",
            "<= 1.10", r["ratio_median"] <= 1.10)
    fl = results.get("fleet", {}).get("summary", {})
    for c, s in fl.items():
        add(f"fleet wall / ideal, {results['fleet']['hubs']} hubs, --concurrency {c}",
            f"{s['wall_over_ideal_median']:.3f} ({s['wall_median_s']:.2f}s vs {s['ideal_s']:.2f}s)", "<= 1.25",
            s["wall_over_ideal_median"] <= 1.25)
        rss = s["maxrss_max_kib"] / 1024
        add(f"fleet peak RSS, {results['fleet']['hubs']} hubs, --concurrency {c}", f"{rss:.1f} MiB", "<= 50 MiB",
            rss <= 50)
    return g


def real_hub_table(results, w):
    w("Real hub, --dry-run vs the floor (medians of %d pairs, half each order, shuffled)" % results["pairs"])
    w(f"{'users':>7} {'floor s':>8} {'floor req':>9} {'binary s':>9} {'binary req':>10} {'ratio':>6} "
      f"{'ratio range':>13} {'min/min':>7} {'cpu ms':>7} {'cpu/wall':>8} {'peak RSS':>9} {'busy':>5}")
    for n, r in sorted(results["real_hub"].items(), key=lambda kv: int(kv[0])):
        s = r["summary"]
        w(f"{int(n):>7,} {s['floor_wall_median_s']:>8.3f} {s['floor_requests']:>9} {s['daemon_wall_median_s']:>9.3f} "
          f"{s['daemon_requests']:>10} {s['ratio_median']:>6.3f} {s['ratio_min']:>6.3f}-{s['ratio_max']:<6.3f} "
          f"{s['ratio_of_minimums']:>7.3f} {s['daemon_cpu_median_s'] * 1000:>7.0f} "
          f"{s['daemon_cpu_share_median'] * 100:>7.2f}% {s['daemon_maxrss_max_kib'] / 1024:>5.1f}MiB "
          f"{s['machine_cpu_busy'] * 100:>4.0f}%")
    w("  (min/min: fastest binary run / fastest floor run; busy: whole-machine CPU use meanwhile)")


def status_quo_line(s):
    return (f"Status quo, {s['users']:,} users: restart the hub = stop {s['restart_stop_median_s']:.2f}s + start "
            f"{s['restart_start_median_s']:.2f}s = {s['restart_total_median_s']:.2f}s; "
            f"--once granting one admin = {s['once_wall_median_s']:.2f}s ({s['once_requests']} requests); "
            f"restart/once = {s['restart_over_once']:.1f}x")


def hub_log_line(h):
    return (f"Hub log: {h['mib']:,.0f} MiB generated ({h['lines']:,} lines, {h['events']:,} admin changes) read at "
            f"{h['mib_per_s_median']:.0f} MiB/s (median of {h['runs']}, slowest {h['mib_per_s_min']:.0f}); peak RSS "
            f"{h['maxrss_max_kib'] / 1024:.1f} MiB, {h['baseline_maxrss_max_kib'] / 1024:.1f} MiB on an empty log")


def roster_line(r):
    return (f"Roster: --validate of {r['fixture']} ({r['hubs']} hubs), whole process: median "
            f"{r['validate_wall_median_s'] * 1000:.1f} ms, max {r['validate_wall_max_s'] * 1000:.1f} ms "
            f"over {r['runs']} runs")


def table(results):
    out = []
    w = out.append
    m = results["machine"]
    w(f"machine: {m['nproc']} cpus, {m['cpu']}, {m['memory_bytes'] / 2**30:.1f} GiB, {m['os']}")
    w(f"JupyterHub {results.get('jupyterhub_version')}, binary {results['binary']['path']} "
      f"(sha256 {results['binary']['sha256'][:12]}, git {results.get('git_head', '?')[:10]}"
      f"{', src modified' if results.get('git_dirty') else ''})")
    w("")
    if results["real_hub"]:
        real_hub_table(results, w)
    if "fleet" in results:
        f = results["fleet"]
        w("")
        w(f"Fleet: {f['hubs']} hubs x {f['users_per_hub']:,} users on a fake API, {f['page_delay_s'] * 1000:.0f} ms "
          f"per page, page max {f['page_max']} (median of {len(next(iter(f['runs'].values())))} runs)")
        w(f"{'conc':>5} {'wall s':>7} {'ideal s':>8} {'wall/ideal':>10} {'whole hubs s':>12} {'min client s':>12} "
          f"{'startup s':>9} {'in flight':>9} {'cpu s':>6} {'peak RSS':>9} {'requests':>8} {'fake cpu':>8}")
        for c, s in f["summary"].items():
            w(f"{c:>5} {s['wall_median_s']:>7.2f} {s['ideal_s']:>8.2f} {s['wall_over_ideal_median']:>10.3f} "
              f"{s['whole_hub_bound_s']:>12.2f} {s['floor_wall_median_s']:>12.2f} {s['startup_median_s']:>9.2f} "
              f"{s['mean_in_flight_median']:>9.1f} {s['cpu_median_s']:>6.2f} {s['maxrss_max_kib'] / 1024:>5.1f}MiB "
              f"{s['requests']:>8} {s['fake_cpu_share_max'] * 100:>7.0f}%")
        w("  (whole hubs: ceil(hubs/conc) x pages x delay; min client: the same requests by a minimal asyncio")
        w("   client with a semaphore; startup: spawn to first request; in flight: mean hubs being read)")
    if "fleet_skewed" in results:
        s = results["fleet_skewed"]
        w(f"  (info) skewed fleet, every {s['slow_every']}th hub {s['slow_factor']:.0f}x slower, --concurrency 8: "
          f"{s['wall_s']:.2f}s vs ideal {s['ideal_s']:.2f}s ({s['wall_over_ideal']:.2f}x), minimal client "
          f"{s['floor_wall_s']:.2f}s, {s['mean_in_flight']:.1f} hubs in flight")
    if "big_page" in results:
        b = results["big_page"]
        w(f"  (info) one hub of 10,000 users with page max 10,000 (fake API): peak RSS "
          f"{b['maxrss_max_kib'] / 1024:.1f} MiB vs {b['page_max_200']['maxrss_max_kib'] / 1024:.1f} MiB at page max 200")
    if "audit" in results:
        r = results["audit"]
        t = r["long_trail"]
        w("")
        w(f"Audit trail: --once creating {r['creates']} admins on a real hub, median of {len(r['pairs'])} pairs: "
          f"{r['plain_wall_median_s']:.2f}s without, {r['audit_wall_median_s']:.2f}s with --audit-log "
          f"(ratio {r['ratio_median']:.3f}, max {r['ratio_max']:.3f}); CPU {r['plain_cpu_median_s'] * 1000:.0f} / "
          f"{r['audit_cpu_median_s'] * 1000:.0f} ms")
        w(f"  time the audited run spent writing and syncing its {2 * r['creates']} lines (its own count): "
          f"{r['writing_median_s'] * 1000:.0f} ms, {r['writing_share_median'] * 100:.1f}% of its wall time")
        w(f"  a trail of {t['lines']:,} lines ({t['bytes'] / MIB:.1f} MiB): read when the lock is taken in "
          f"{t['read_median_s'] * 1000:.0f} ms; audit verify {t['verify_median_s']:.2f}s")
    for part, line in (("status_quo", status_quo_line), ("roster", roster_line), ("hub_log", hub_log_line)):
        if part in results:
            w("")
            w(line(results[part]))
    w("")
    w("Goals")
    for g in results["goals"]:
        w(f"  {'PASS' if g['pass'] else 'MISS'}  {g['goal']}: {g['figure']} (goal {g['target']})")
    return "\n".join(out)


def main():
    global OUT
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--venv", required=True)
    p.add_argument("--out", default=str(ROOT / "target/bench"))
    p.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1000,10000"))
    p.add_argument("--pairs", type=int, default=int(os.environ.get("BENCH_PAIRS", "9")))
    p.add_argument("--restarts", type=int, default=int(os.environ.get("BENCH_RESTARTS", "2")))
    p.add_argument("--status-quo-runs", type=int, default=3)
    p.add_argument("--fleet-hubs", type=int, default=int(os.environ.get("BENCH_FLEET_HUBS", "200")))
    p.add_argument("--fleet-users", type=int, default=2000)
    p.add_argument("--fleet-runs", type=int, default=int(os.environ.get("BENCH_FLEET_RUNS", "2")))
    p.add_argument("--fleet-concurrency", default="8,32")
    p.add_argument("--no-skewed", dest="skewed", action="store_false")
    p.add_argument("--no-big-page", dest="big_page", action="store_false")
    p.add_argument("--parse-log", default=str(ROOT / "target/release/examples/parse_log"))
    p.add_argument("--hub-log-mib", type=int, default=int(os.environ.get("BENCH_HUB_LOG_MIB", "1024")))
    p.add_argument("--log-dry-run-mib", type=int, default=int(os.environ.get("BENCH_LOG_DRY_RUN_MIB", "100")))
    p.add_argument("--parts", default=os.environ.get("BENCH_PARTS", "hubs,fleet,roster,hublog,audit"))
    p.add_argument("--audit-pairs", type=int, default=int(os.environ.get("BENCH_AUDIT_PAIRS", "7")))
    a = p.parse_args()
    a.bin = Path(a.bin).resolve()
    a.venv = Path(a.venv).resolve()
    a.parse_log = Path(a.parse_log).resolve()
    a.fleet_concurrency = [int(c) for c in a.fleet_concurrency.split(",")]
    OUT = Path(a.out).resolve()
    OUT.mkdir(parents=True, exist_ok=True)
    # Measure a private copy: a concurrent `cargo build --release` must not swap the
    # binary in the middle of the run.
    copy = OUT / "jupyterhub-admin-sync"
    shutil.copy2(a.bin, copy)
    results_bin = {"path": str(a.bin), "sha256": hashlib.sha256(copy.read_bytes()).hexdigest()}
    a.bin = copy
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    started = time.time()
    results = {
        "machine": machine(),
        "binary": results_bin,
        "pairs": a.pairs,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "loadavg_start": os.getloadavg(),
        "real_hub": {},
    }
    try:
        results["git_head"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                                             text=True).stdout.strip()
        results["git_dirty"] = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
            capture_output=True, text=True).stdout.splitlines()
    except OSError:
        pass
    results["jupyterhub_version"] = subprocess.run(
        [str(Path(a.venv) / "bin/jupyterhub"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    parts = a.parts.split(",")
    if "hubs" in parts:
        sizes = [int(s) for s in a.sizes.split(",")]
        for n in sizes:
            real_hub_part(a, n, results, status_quo=(n == max(sizes) and a.restarts > 0))
    if "fleet" in parts:
        fleet_part(a, results)
    if "roster" in parts:
        roster_part(a, results)
    if "hublog" in parts:
        hub_log_part(a, results, mib=a.hub_log_mib)
    if "audit" in parts:
        audit_part(a, results)
    results["goals"] = goals(results)
    results["duration_s"] = time.time() - started
    results["loadavg_end"] = os.getloadavg()
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\n(total {results['duration_s']:.0f}s; machine-readable: {OUT / 'results.json'})")
    missed = [g for g in results["goals"] if not g["pass"]]
    if missed and os.environ.get("BENCH_STRICT") == "1":
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
