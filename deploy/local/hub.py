"""One JupyterHub launcher for the tests, the local demo and the benchmark.

    python3 deploy/local/hub.py venv VENV
        Makes (once) a venv with JupyterHub from deploy/local/requirements.txt;
        JUPYTERHUB_VERSION=X.Y.Z (unset or "latest": the newest) picks the version.
        VENV/.ready holds the installed version and is written last, so a half-made
        venv is made again. Prints the version.

    VENV/bin/python deploy/local/hub.py run --dir DIR --port PORT [--page-max N]
            [--log-level LEVEL] [--exit-on-stdin-eof]
        Becomes (exec, same pid) a hub on 127.0.0.1:PORT with deploy/local/
        jupyterhub_config.py, its database and files in DIR. The tokens come from the
        environment (HUB_ADMIN_SYNC_TOKEN, HUB_AUDITOR_TOKEN, HUB_TEST_ADMIN_TOKEN), never
        from the command line.

The benchmark imports this module (hub_command, hub_env) to start its hubs itself.
"""

import argparse
import os
import subprocess
import sys
import venv as venv_module
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "jupyterhub_config.py"
REQUIREMENTS = HERE / "requirements.txt"
# JupyterHub 2.x predates SQLAlchemy 2 and newer alembic.
PINS_FOR_2X = ["sqlalchemy<2", "alembic<1.14"]


def requested_version():
    """The JupyterHub version asked for by JUPYTERHUB_VERSION; None means the newest."""
    version = os.environ.get("JUPYTERHUB_VERSION", "").strip()
    return None if version in ("", "latest") else version


def requirements(version):
    """The pip requirements for `version` (None: the newest)."""
    lines = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    packages = [line for line in lines if line]
    if version is None:
        return packages
    packages = [p for p in packages if p != "jupyterhub"] + [f"jupyterhub=={version}"]
    if version.startswith("2."):
        packages += PINS_FOR_2X
    return packages


def installed_version(venv):
    """The version in VENV/.ready if the venv is complete, else None."""
    ready = Path(venv) / ".ready"
    if ready.is_file() and (Path(venv) / "bin/jupyterhub").exists():
        return ready.read_text().strip()
    return None


def ensure_venv(venv, log=sys.stderr):
    """Makes the venv unless it is complete; returns the installed JupyterHub version."""
    venv = Path(venv)
    version = installed_version(venv)
    if version is not None:
        return version
    packages = requirements(requested_version())
    print(f"hub.py: installing {' '.join(packages)} into {venv}", file=log, flush=True)
    if venv.exists():
        subprocess.run(["rm", "-rf", str(venv)], check=True)
    venv_module.EnvBuilder(with_pip=True).create(venv)
    subprocess.run(
        [str(venv / "bin/pip"), "install", "--disable-pip-version-check", "--no-input", *packages],
        check=True,
        stdout=log,
        stderr=log,
    )
    version = subprocess.run(
        [str(venv / "bin/jupyterhub"), "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    (venv / ".ready").write_text(version + "\n")
    return version


def hub_command(venv):
    """The command line of a hub run from `venv` with the shared config."""
    return [str(Path(venv) / "bin/jupyterhub"), "-f", str(CONFIG)]


def hub_env(directory, port, page_max=None, log_level="WARN", exit_on_stdin_eof=False, base=None):
    """The environment of a hub: `base` (default: ours) with the config's variables set.

    Tokens are read by the config from HUB_*_TOKEN, which `base` must carry.
    """
    env = dict(os.environ if base is None else base)
    env.update(
        HUB_PORT=str(port),
        HUB_DIR=str(directory),
        HUB_LOG_LEVEL=log_level,
        PYTHONUNBUFFERED="1",
    )
    if page_max is None:
        env.pop("HUB_PAGE_MAX", None)  # JupyterHub's default maximum (200)
    else:
        env["HUB_PAGE_MAX"] = str(page_max)
    if exit_on_stdin_eof:
        env["HUB_EXIT_ON_STDIN_EOF"] = "1"
    else:
        env.pop("HUB_EXIT_ON_STDIN_EOF", None)
    return env


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("venv", help="make (once) the JupyterHub venv")
    make.add_argument("venv")
    run = commands.add_parser("run", help="become a hub (exec)")
    run.add_argument("--venv", default=str(Path(sys.prefix)))
    run.add_argument("--dir", required=True)
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--page-max", type=int)
    run.add_argument("--log-level", default=os.environ.get("HUB_LOG_LEVEL", "WARN"))
    run.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "venv":
        try:
            print(ensure_venv(args.venv))
        except (OSError, subprocess.CalledProcessError) as e:
            sys.exit(f"hub.py: making the venv {args.venv} failed: {e}")
        return
    os.makedirs(args.dir, exist_ok=True)
    os.chdir(args.dir)
    env = hub_env(args.dir, args.port, args.page_max, args.log_level, args.exit_on_stdin_eof)
    command = hub_command(args.venv)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
