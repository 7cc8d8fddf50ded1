#!/usr/bin/env python3
"""Smoke checks of the jupyterhub-admin-sync container image (run by smoke.sh).

Each check prints PASS or FAIL with what it measured; the last line is
"N passed, M failed" and the exit code is 1 when a check failed. With
--expect-fail ID,... (smoke.sh --self-test-broken) the run passes only if those
checks (ids in brackets) reject the image.

Needs: root, podman, python3. A real JupyterHub runs on 127.0.0.1 from a venv
(the tests' venv under target/tmp, the demo's .local-hub/venv, or one made here
like deploy/local/demo.sh makes it), with deploy/local/jupyterhub_config.py.
Every container and server here talks to 127.0.0.1 only.
"""

import argparse
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_DIR = REPO / ".local-hub" / "smoke"
HUB_CONFIG = REPO / "deploy" / "local" / "jupyterhub_config.py"
MAX_IMAGE_BYTES = 40_000_000  # 40 MB
STOP_LIMIT_S = 2.0
STOP_TIMEOUT_S = (
    10  # podman stop --time: SIGKILL after this (the daemon's grace is 8 s)
)
SHELLS = {"sh", "bash", "dash", "ash", "busybox", "zsh", "ksh", "mksh", "csh", "tcsh"}
NONROOT = "65532"
REQUIRED_LABELS = ("source", "version", "revision", "licenses")


class CheckFailed(Exception):
    """A check's clear failure message."""


# --- small helpers -------------------------------------------------------------------


def podman(*args, check=True, timeout=120, env=None):
    """Runs podman; returns the completed process (stdout and stderr as text)."""
    done = subprocess.run(
        ["podman", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and done.returncode != 0:
        raise CheckFailed(
            f"podman {' '.join(args[:3])} ... exited {done.returncode}: {done.stderr.strip()[-500:]}"
        )
    return done


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, token=None, timeout=5):
    """GET url; returns (status, body text). A refused connection is status 0."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", "token " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def wait_for(what, predicate, timeout, interval=0.3):
    """Polls predicate until it is true; raises CheckFailed naming what after timeout
    (what may be a function, called then, so that it shows the state at that time)."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"{what() if callable(what) else what}: not within {timeout} s"
            )
        time.sleep(interval)


# --- a real JupyterHub on loopback ---------------------------------------------------


def find_or_make_venv():
    """The tests' venv, else the demo's, else a new one made like demo.sh makes it."""
    candidates = []
    if os.environ.get("SMOKE_VENV"):
        candidates.append(Path(os.environ["SMOKE_VENV"]))
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    candidates.append(target / "tmp" / "jupyterhub-venv-latest")
    candidates.append(REPO / ".local-hub" / "venv")
    for venv in candidates:
        if (venv / "bin" / "jupyterhub").exists():
            return venv
    venv = REPO / ".local-hub" / "venv"
    print(
        f"smoke: installing jupyterhub into {venv.relative_to(REPO)} (once)", flush=True
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "jupyterhub",
        ],
        check=True,
        timeout=600,
    )
    return venv


class Hub:
    """A JupyterHub on 127.0.0.1 with the admin-sync and test-admin services."""

    def __init__(self, venv):
        self.venv = venv
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/hub/api"
        self.sync_token = secrets.token_hex(32)
        self.admin_token = secrets.token_hex(32)
        self.dir = RUN_DIR / "hub"
        self.dir.mkdir(parents=True)
        self.log = self.dir / "hub.log"
        self.process = None

    def start(self):
        env = dict(os.environ)
        for name in ("HUB_EXIT_ON_STDIN_EOF", "HUB_AUDITOR_TOKEN", "HUB_PAGE_MAX"):
            env.pop(name, None)
        env.update(
            HUB_PORT=str(self.port),
            HUB_DIR=str(self.dir),
            HUB_ADMIN_SYNC_TOKEN=self.sync_token,
            HUB_TEST_ADMIN_TOKEN=self.admin_token,
        )
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [str(self.venv / "bin" / "jupyterhub"), "-f", str(HUB_CONFIG)],
                cwd=self.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def up():
            if self.process.poll() is not None:
                raise CheckFailed(
                    f"the hub exited at start; its log:\n{self.log.read_text()[-2000:]}"
                )
            return http_get(self.api + "/")[0] == 200

        took = wait_for("the local JupyterHub answering GET /hub/api/", up, 90)
        print(
            f"smoke: JupyterHub {self.call('GET', '/')['version']} up on {self.api} after {took:.1f} s"
        )

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def call(self, method, path, body=None):
        """One API request with the test-admin token; returns the decoded JSON."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.api + path, data=data, method=method)
        request.add_header("Authorization", "token " + self.admin_token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as e:
            raise CheckFailed(
                f"hub API {method} {path}: HTTP {e.code}: {e.read().decode()[:300]}"
            )
        return json.loads(text) if text else None

    def admins(self):
        users = self.call("GET", "/users?limit=200")
        return sorted(u["name"] for u in users if u["admin"])


class FailingHub:
    """Answers every request with 503, as a hub behind a failing proxy does; counts them."""

    def __init__(self):
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self):
                outer.requests += 1
                body = b'{"status": 503, "message": "Service Unavailable"}'
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.api = f"http://127.0.0.1:{self.server.server_address[1]}/hub/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- the roster, mounted as a Kubernetes ConfigMap is ------------------------------------


def roster_text(hub, administrators, failing=None):
    lines = [
        "# Written by deploy/image/smoke.py.",
        "version: 1",
        "engineers:",
        "  - name: eng-sam",
        "communities:",
        "  - name: smoke-lab",
        "    representatives:",
        "      - name: rep-lee",
        "    administrators:",
    ]
    for name, added_by in administrators:
        lines += [f"      - name: {name}", f"        added_by: {added_by}"]
    lines += [
        "    hubs:",
        "      - name: smoke-hub",
        f"        api_url: {hub.api}",
        "        token_env: SMOKE_HUB_TOKEN",
    ]
    if failing:
        lines += [
            "      - name: failing-hub",
            f"        api_url: {failing.api}",
            "        token_env: SMOKE_FAILING_TOKEN",
        ]
    return "\n".join(lines) + "\n"


class ConfigMapDir:
    """A directory laid out as the kubelet mounts a ConfigMap: roster.yaml -> ..data/roster.yaml,
    ..data -> ..<timestamp>; an update writes a new timestamped dir and swaps ..data atomically."""

    def __init__(self, path, text):
        self.path = path
        self.path.mkdir(parents=True)
        self.current = self._write(text)
        os.symlink(self.current, self.path / "..data")
        os.symlink("..data/roster.yaml", self.path / "roster.yaml")

    def _write(self, text):
        name = time.strftime("..%Y_%m_%d_%H_%M_%S.") + secrets.token_hex(4)
        (self.path / name).mkdir()
        (self.path / name / "roster.yaml").write_text(text)
        (self.path / name / "roster.yaml").chmod(0o644)
        return name

    def update(self, text):
        old, self.current = self.current, self._write(text)
        os.symlink(self.current, self.path / "..data_tmp")
        os.replace(self.path / "..data_tmp", self.path / "..data")  # rename(2): atomic
        shutil.rmtree(self.path / old)


# --- the daemon in a container -------------------------------------------------------


class Daemon:
    """The image's entrypoint as a daemon, on the host network, read-only, no capabilities."""

    def __init__(self, image, name, roster_dir, tokens):
        self.image = image
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, **tokens)
        podman("rm", "--force", "--ignore", name)
        podman(
            "run", "--detach", "--name", name, "--network", "host", "--read-only",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--volume", f"{roster_dir}:/etc/jupyterhub-admin-sync:ro",
            *[arg for token in tokens for arg in ("--env", token)],
            image,
            "--listen", f"127.0.0.1:{self.port}", "--interval", "2s", "--roster-poll", "1s",
            env=env,
        )  # fmt: skip

    def inspect(self, field):
        return podman(
            "inspect", "--format", "{{" + field + "}}", self.name
        ).stdout.strip()

    def running(self):
        return self.inspect(".State.Running") == "true"

    def require_running(self):
        """Raises CheckFailed at once when the container has exited."""
        if not self.running():
            raise CheckFailed(
                f"the container is not running (exit code {self.inspect('.State.ExitCode')}); "
                f"its log:\n{self.logs(12)}"
            )
        return True

    def logs(self, lines=30):
        done = podman("logs", "--tail", str(lines), self.name, check=False)
        return (done.stdout + done.stderr).strip()

    def wait_ready(self, timeout=30):
        def ready():
            return self.require_running() and http_get(self.url + "/readyz")[0] == 200

        return wait_for(
            lambda: f"GET {self.url}/readyz answering 200; log:\n{self.logs()}",
            ready,
            timeout,
        )

    def stop(self):
        """podman stop; returns (seconds it took, exit code)."""
        started = time.monotonic()
        podman(
            "stop",
            "--time",
            str(STOP_TIMEOUT_S),
            self.name,
            timeout=STOP_TIMEOUT_S + 30,
        )
        took = time.monotonic() - started
        return took, int(self.inspect(".State.ExitCode"))

    def remove(self):
        podman("rm", "--force", "--ignore", self.name, check=False)


# --- the checks ----------------------------------------------------------------------


def check_labels_and_size(args):
    info = json.loads(podman("image", "inspect", args.image).stdout)[0]
    labels = info.get("Labels") or {}
    size = int(info["Size"])
    oci = {
        k: v
        for k, v in sorted(labels.items())
        if k.startswith("org.opencontainers.image.")
    }
    for key, value in oci.items():
        print(f"    {key} = {value}")
    print(f"    size: {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB, {size} bytes)")
    problems = [
        f"label {key} missing or empty"
        for key in REQUIRED_LABELS
        if not oci.get(f"org.opencontainers.image.{key}")
    ]
    expected = {
        "version": args.version,
        "revision": args.revision,
        "source": args.source,
    }
    for key, want in expected.items():
        got = oci.get(f"org.opencontainers.image.{key}")
        if got and got != want:
            problems.append(f"label {key} is {got!r}, the build said {want!r}")
    if size > MAX_IMAGE_BYTES:
        problems.append(
            f"the image is {size / 1e6:.1f} MB, more than {MAX_IMAGE_BYTES / 1e6:.0f} MB"
        )
    if problems:
        raise CheckFailed("; ".join(problems))
    return (
        f"{size / 1e6:.1f} MB <= 40 MB; labels source, version, revision, licenses set"
    )


def check_nonroot_and_no_shell(args):
    user = json.loads(podman("image", "inspect", args.image).stdout)[0]["Config"].get(
        "User", ""
    )
    problems = []
    if user.split(":")[0] != NONROOT:
        problems.append(f"the image's USER is {user!r}, not {NONROOT}:{NONROOT}")
    mount = podman("image", "mount", args.image).stdout.strip()
    try:
        shells = [
            os.path.relpath(os.path.join(d, f), mount)
            for d, dirs, files in os.walk(mount)
            for f in files + dirs
            if f in SHELLS
        ]
    finally:
        podman("image", "unmount", args.image, check=False)
    if shells:
        problems.append(f"shells in the image: {', '.join(sorted(shells))}")
    run = podman(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "/bin/sh",
        args.image,
        "-c",
        "true",
        check=False,
    )
    if run.returncode == 0:
        problems.append("podman run --entrypoint /bin/sh ... succeeded")
    if problems:
        raise CheckFailed("; ".join(problems))
    return f"USER {user}; no shell file in the image; /bin/sh cannot be run (exit {run.returncode})"


def check_validate(args):
    results = []
    tmp = RUN_DIR / "validate"
    tmp.mkdir(parents=True)
    rosters = sorted((REPO / "config").glob("*.yaml"))
    if not rosters:
        raise CheckFailed("no example roster in config/")
    bogus = tmp / "invalid.yaml"
    bogus.write_text("not_a_roster_key: 1\n" + rosters[0].read_text())
    bogus.chmod(0o644)
    for roster in [*rosters, bogus]:
        text = roster.read_text()
        env_names = sorted(
            set(re.findall(r"^\s*token_env:\s*(\S+)", text, re.MULTILINE))
        )
        files = sorted(set(re.findall(r"^\s*token_file:\s*(\S+)", text, re.MULTILINE)))
        opts = ["--read-only", "--network", "none", "--cap-drop", "ALL", "--rm"]
        opts += ["--volume", f"{roster}:/config/{roster.name}:ro"]
        env = dict(os.environ)
        for name in env_names:
            env[name] = "dummy-token-for-validation"
            opts += ["--env", name]
        for i, path in enumerate(files):
            token = tmp / f"token-{i}"
            token.write_text("dummy-token-for-validation\n")
            token.chmod(0o644)
            opts += ["--volume", f"{token}:{path}:ro"]
        done = podman(
            "run",
            *opts,
            args.image,
            "--config",
            f"/config/{roster.name}",
            "--validate",
            check=False,
            env=env,
        )
        want = 1 if roster is bogus else 0
        shown = (
            f"config/{roster.name}"
            if roster is not bogus
            else "an invalid roster (unknown key)"
        )
        if done.returncode != want:
            raise CheckFailed(
                f"--validate of {shown} exited {done.returncode}, expected {want}: "
                f"{(done.stdout + done.stderr).strip()[-600:]}"
            )
        results.append(f"{shown}: exit {done.returncode}")
    return "; ".join(results)


def check_reconcile(daemon, hub):
    took = daemon.wait_ready()
    # The first run: mallory (admin by hand, undeclared) revoked, amara (declared) created admin.
    want = ["amara", "eng-sam", "rep-lee"]
    wait_for(
        lambda: f"admins {want} after the first run (hub says {hub.admins()})",
        lambda: hub.admins() == want,
        15,
    )
    # Drift by hand while the daemon runs.
    hub.call("PATCH", "/users/mallory", {"admin": True})
    hub.call("PATCH", "/users/amara", {"admin": False})
    fixed = wait_for(
        "hand-made drift (mallory made admin, amara's admin taken away) fixed",
        lambda: hub.admins() == want,
        20,
    )
    status, metrics = http_get(daemon.url + "/metrics")
    if status != 200 or "jupyterhub_admin_sync_changes_total" not in metrics:
        raise CheckFailed(
            f"GET /metrics answered {status} without jupyterhub_admin_sync_changes_total"
        )
    changes = [
        line
        for line in metrics.splitlines()
        if line.startswith("jupyterhub_admin_sync_changes_total{")
    ]
    for line in changes:
        print("    " + line)
    return f"ready after {took:.1f} s; hand-made drift fixed in {fixed:.1f} s; /readyz 200, /metrics 200"


def check_process_user(daemon):
    daemon.require_running()
    pid = daemon.inspect(".State.Pid")
    status = Path(f"/proc/{pid}/status").read_text()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.MULTILINE).group(1).split()
    gids = re.search(r"^Gid:\s+(.*)$", status, re.MULTILINE).group(1).split()
    if set(uids) != {NONROOT} or set(gids) != {NONROOT}:
        raise CheckFailed(
            f"the daemon's process runs as uid {'/'.join(uids)} gid {'/'.join(gids)}, not {NONROOT}"
        )
    return f"pid {pid}: uid {uids[0]}, gid {gids[0]} (real, effective, saved, fs)"


def check_reload(daemon, hub, configmap, failing=None):
    started_at = daemon.inspect(".State.StartedAt")
    pid = daemon.inspect(".State.Pid")
    configmap.update(
        roster_text(hub, [("amara", "rep-lee"), ("nia", "amara")], failing)
    )
    want = ["amara", "eng-sam", "nia", "rep-lee"]
    took = wait_for(
        lambda: (
            f"the swapped roster (adds nia) applied by the running container (hub admins {hub.admins()})"
        ),
        lambda: daemon.require_running() and hub.admins() == want,
        20,
    )
    if (
        daemon.inspect(".State.StartedAt") != started_at
        or daemon.inspect(".State.Pid") != pid
    ):
        raise CheckFailed("the container was restarted to pick up the roster")
    return (
        f"..data swapped; nia made admin {took:.1f} s later, same process (pid {pid})"
    )


def check_stop(daemon, what):
    daemon.require_running()
    took, code = daemon.stop()
    if code != 0 or took >= STOP_LIMIT_S:
        raise CheckFailed(
            f"podman stop {what} took {took:.2f} s and the daemon exited {code} "
            f"(required: exit 0 in under {STOP_LIMIT_S:.0f} s); last log lines:\n{daemon.logs(12)}"
        )
    return f"exit 0 after {took:.2f} s"


# --- the run -------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.passed = []
        self.failed = []

    def run(self, key, name, check, *args):
        """Runs one check; key is its short id (for --expect-fail)."""
        name = f"[{key}] {name}"
        print(f"\n-- {name}", flush=True)
        try:
            detail = check(*args)
        except CheckFailed as e:
            print(f"FAIL {name}: {e}", flush=True)
            self.failed.append(key)
            return False
        except (
            subprocess.SubprocessError,
            OSError,
            ValueError,
            KeyError,
            AttributeError,
        ) as e:
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            self.failed.append(key)
            return False
        print(f"PASS {name}: {detail}", flush=True)
        self.passed.append(key)
        return True


def seed(hub):
    """Users as people left them: declared admins, ordinary users, an admin made by hand."""
    hub.call("POST", "/users", {"usernames": ["eng-sam", "rep-lee"], "admin": True})
    hub.call("POST", "/users", {"usernames": ["student-1", "mallory"], "admin": False})
    hub.call(
        "PATCH", "/users/mallory", {"admin": True}
    )  # drift made by hand via the REST API


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument(
        "--version", required=True, help="expected org.opencontainers.image.version"
    )
    parser.add_argument(
        "--revision", required=True, help="expected org.opencontainers.image.revision"
    )
    parser.add_argument(
        "--source", required=True, help="expected org.opencontainers.image.source"
    )
    parser.add_argument(
        "--expect-fail",
        metavar="ID,...",
        help="self-test of a broken image: pass only if these checks fail",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("smoke.py: run as root (podman image mount, /proc of the container)")
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    print(f"smoke: checking {args.image}")
    report = Report()
    report.run("labels", "image size and OCI labels", check_labels_and_size, args)
    report.run(
        "nonroot",
        "runs as 65532, no shell in the image",
        check_nonroot_and_no_shell,
        args,
    )
    report.run(
        "validate",
        "--validate of config/*.yaml with --read-only --network none --cap-drop ALL",
        check_validate,
        args,
    )

    hub = Hub(find_or_make_venv())
    failing = FailingHub()
    tag = f"{os.getpid()}"
    daemons = []
    try:
        hub.start()
        seed(hub)
        tokens = {"SMOKE_HUB_TOKEN": hub.sync_token}
        configmap = ConfigMapDir(
            RUN_DIR / "roster", roster_text(hub, [("amara", "rep-lee")])
        )
        daemon = Daemon(args.image, f"smoke-daemon-{tag}", configmap.path, tokens)
        daemons.append(daemon)
        report.run(
            "reconcile",
            "the daemon (host network, read-only) reconciles a real JupyterHub",
            check_reconcile,
            daemon,
            hub,
        )
        report.run(
            "process-user",
            "the daemon's process runs as 65532",
            check_process_user,
            daemon,
        )
        report.run(
            "reload",
            "a ConfigMap-style roster swap is reloaded without a restart",
            check_reload,
            daemon,
            hub,
            configmap,
        )
        report.run(
            "stop",
            "podman stop: the daemon exits 0 in under 2 s",
            check_stop,
            daemon,
            "(hub healthy)",
        )

        # A second hub entry answering 503: its requests are being retried when the stop comes.
        configmap2 = ConfigMapDir(
            RUN_DIR / "roster-failing",
            roster_text(hub, [("amara", "rep-lee"), ("nia", "amara")], failing),
        )
        tokens["SMOKE_FAILING_TOKEN"] = "failing-hub-token"
        daemon2 = Daemon(
            args.image, f"smoke-daemon-failing-{tag}", configmap2.path, tokens
        )
        daemons.append(daemon2)

        def stop_while_failing():
            wait_for(
                lambda: (
                    f"requests to the 503 hub being retried (it got {failing.requests})"
                ),
                lambda: daemon2.require_running() and failing.requests >= 3,
                30,
            )
            seen = failing.requests
            result = check_stop(daemon2, f"(while the 503 hub had got {seen} requests)")
            return f"{result}; the 503 hub had got {seen} requests (first tries and retries)"

        report.run(
            "stop-failing-hub",
            "podman stop while a hub answers 503 and is retried: exit 0 in under 2 s",
            stop_while_failing,
        )
    except CheckFailed as e:
        print(f"FAIL setup: {e}")
        report.failed.append("setup")
    finally:
        for daemon in daemons:
            daemon.remove()
        failing.stop()
        hub.stop()

    if args.expect_fail:
        expected = set(args.expect_fail.split(","))
        missed = sorted(expected - set(report.failed))
        print(
            f"\nsmoke: self-test: {args.image} failed {', '.join(report.failed) or 'no check'}"
            f" (must fail: {', '.join(sorted(expected))})"
        )
        if missed:
            print(f"smoke: self-test FAILED: {', '.join(missed)} did not reject it")
        return 1 if missed else 0
    if report.failed:
        print("\nsmoke: FAILED checks: " + ", ".join(report.failed))
    print(f"\n{len(report.passed)} passed, {len(report.failed)} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
