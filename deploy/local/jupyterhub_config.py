# JupyterHub configuration for integration tests and the local demo.
#
# A real hub on loopback with no proxy and no node: the hub's own port serves
# /hub/api/, which is all jupyterhub-admin-sync talks to.
#
# Driven by environment variables:
#   HUB_PORT              (required) port the hub listens on, on 127.0.0.1
#   HUB_DIR               (required) directory for the sqlite db, cookie secret, pid file
#   HUB_ADMIN_SYNC_TOKEN  (required) api token of service `admin-sync` (built-in `admin` role)
#   HUB_AUDITOR_TOKEN     (optional) api token of service `auditor` (scope `list:users` only)
#   HUB_TEST_ADMIN_TOKEN  (optional) api token of service `test-admin` (built-in `admin` role),
#                         used by tests to arrange state
#   HUB_PAGE_MAX          (optional) c.JupyterHub.api_page_max_limit (JupyterHub default 200)
#   HUB_LOG_LEVEL         (optional) hub log level (DEBUG, INFO, WARN, ERROR), default WARN
#   HUB_EXIT_ON_STDIN_EOF (optional) "1": the hub SIGTERMs itself when its stdin reaches EOF,
#                         so it dies with the (test) process that holds the other end of the pipe
#   HUB_ADMIN_USERS       (optional) comma-separated user names for c.Authenticator.admin_users,
#                         as a hub configured from Zero to JupyterHub values has them (the
#                         `import` round-trip test); unset or empty: no admin_users
#   HUB_ADMIN_GROUPS      (optional) comma-separated groups that hold the built-in `admin`
#                         role (their members are admins while `GET /users` shows
#                         "admin": false), as a hub that keeps its admins in load_roles
#   HUB_EXTRA_ROLES       (optional) JSON list of further load_roles entries, e.g. a custom
#                         role with admin scopes held by a group or a user
#   HUB_MANAGE_GROUPS     (optional) "1": the authenticator manages groups
#                         (c.Authenticator.manage_groups), so the groups API refuses writes;
#                         a user who logs in (any password) is put in the groups of
#                         HUB_LOGIN_GROUPS (comma-separated), as an OAuthenticator puts
#                         a user in the identity provider's groups
#   HUB_LOGIN_ADMINS      (optional) comma-separated user names: the authenticator returns
#                         `admin: True` at login for these names (and no `admin` for
#                         others), as OAuthenticator's admin_groups does
#   HUB_ADD_USER_DELAY_MS (optional) the authenticator's add_user awaits this long, as one
#                         that asks another system does: requests creating users then
#                         interleave, as on such hubs (two bulk adds at once)
#   HUB_SYNC_SERVICE_COMMAND (optional) JSON list: the `command` of service `admin-sync`,
#                         which the hub then starts and stops itself (a hub-managed service,
#                         as on a single VM; docs/deployment.md); the service keeps its
#                         api_token, which the hub passes in JUPYTERHUB_API_TOKEN
#
# No c.Authenticator.admin_users unless HUB_ADMIN_USERS asks for it: with the built-in
# `admin` role in load_roles and a non-empty admin_users, the hub rewrites the admin list
# at every restart.
#
# Works with JupyterHub 2.x (with "sqlalchemy<2" "alembic<1.14"), 3.x, 4.x, 5.x and 6.x.

import json
import os
import signal
import sys
import threading

import jupyterhub
from jupyterhub.proxy import Proxy

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)


def _required(name):
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"jupyterhub_config.py: environment variable {name} is required")
    return value


def _check_token(name, value):
    # JupyterHub refuses to start with api tokens shorter than 8 characters.
    if len(value) < 8:
        sys.exit(f"jupyterhub_config.py: {name} must be at least 8 characters long")
    return value


hub_port = int(_required("HUB_PORT"))
hub_dir = os.path.abspath(_required("HUB_DIR"))
os.makedirs(hub_dir, exist_ok=True)
admin_sync_token = _check_token("HUB_ADMIN_SYNC_TOKEN", _required("HUB_ADMIN_SYNC_TOKEN"))
auditor_token = os.environ.get("HUB_AUDITOR_TOKEN", "")
test_admin_token = os.environ.get("HUB_TEST_ADMIN_TOKEN", "")
page_max = os.environ.get("HUB_PAGE_MAX", "")
log_level = os.environ.get("HUB_LOG_LEVEL", "WARN").upper()
if log_level == "WARNING":
    log_level = "WARN"  # the JupyterHub.log_level trait knows WARN, not WARNING


class NoOpProxy(Proxy):
    """A proxy that is never started and routes nothing.

    `should_start = False` alone is not enough: the hub would still talk to a
    configurable-http-proxy API. These no-ops keep the hub self-contained.
    """

    should_start = False

    async def add_route(self, routespec, target, data):
        pass

    async def delete_route(self, routespec):
        pass

    async def get_all_routes(self):
        return {}


c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = hub_port
c.JupyterHub.proxy_class = NoOpProxy
c.JupyterHub.db_url = "sqlite:///" + os.path.join(hub_dir, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(hub_dir, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(hub_dir, "jupyterhub.pid")
c.JupyterHub.log_level = log_level
if page_max:
    c.JupyterHub.api_page_max_limit = int(page_max)

login_admins = {n.strip() for n in os.environ.get("HUB_LOGIN_ADMINS", "").split(",") if n.strip()}
login_groups = [g.strip() for g in os.environ.get("HUB_LOGIN_GROUPS", "").split(",") if g.strip()]
add_user_delay = float(os.environ.get("HUB_ADD_USER_DELAY_MS", "") or 0) / 1000
manage_groups = os.environ.get("HUB_MANAGE_GROUPS") == "1"
if login_admins or add_user_delay or manage_groups:
    import asyncio

    from jupyterhub.auth import DummyAuthenticator

    class LoginAuthenticator(DummyAuthenticator):
        """Says at login who is admin (HUB_LOGIN_ADMINS), as an authenticator with
        admin groups does, and, when it manages groups, puts everyone who logs in into
        HUB_LOGIN_GROUPS, as an OAuthenticator copies the identity provider's groups."""

        async def authenticate(self, handler, data):
            name = await super().authenticate(handler, data)
            if name is None:
                return None
            model = {"name": name}
            if self.normalize_username(name) in login_admins:
                model["admin"] = True
            if self.manage_groups:
                model["groups"] = login_groups
            return model

        async def add_user(self, user):
            super().add_user(user)
            if add_user_delay:
                await asyncio.sleep(add_user_delay)

    c.JupyterHub.authenticator_class = LoginAuthenticator
else:
    # The plain DummyAuthenticator: the tests check the class the hub reports.
    c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
admin_users = {n.strip() for n in os.environ.get("HUB_ADMIN_USERS", "").split(",") if n.strip()}
if admin_users:
    c.Authenticator.admin_users = admin_users
if jupyterhub.version_info[0] >= 5:
    # JupyterHub 5 made allow_all default to False; older versions do not know the option.
    c.Authenticator.allow_all = True

admin_sync = {"name": "admin-sync", "api_token": admin_sync_token}
sync_command = json.loads(os.environ.get("HUB_SYNC_SERVICE_COMMAND", "") or "null")
if sync_command is not None:
    if not isinstance(sync_command, list) or not all(isinstance(a, str) for a in sync_command):
        sys.exit("jupyterhub_config.py: HUB_SYNC_SERVICE_COMMAND must be a JSON list of strings")
    admin_sync["command"] = sync_command
services = [admin_sync]
admin_services = ["admin-sync"]
roles = []
if test_admin_token:
    services.append(
        {"name": "test-admin", "api_token": _check_token("HUB_TEST_ADMIN_TOKEN", test_admin_token)}
    )
    admin_services.append("test-admin")
if auditor_token:
    services.append(
        {"name": "auditor", "api_token": _check_token("HUB_AUDITOR_TOKEN", auditor_token)}
    )
    roles.append(
        {
            "name": "auditor",
            "description": "Reads user names and admin flags, changes nothing",
            "scopes": ["list:users"],
            "services": ["auditor"],
        }
    )
admin_groups = [g.strip() for g in os.environ.get("HUB_ADMIN_GROUPS", "").split(",") if g.strip()]
admin_role = {"name": "admin", "services": admin_services}
if admin_groups:
    admin_role["groups"] = admin_groups
roles.append(admin_role)
extra_roles = json.loads(os.environ.get("HUB_EXTRA_ROLES", "") or "[]")
roles.extend(extra_roles)
# Every group a role names exists before the roles are assigned: JupyterHub 4.1.6 and
# 6.1.1 fail to start when the admin role names a group they have to create (app.py sets
# `admin` on None), and load_groups only ever adds members, so memberships made later
# are kept.
role_groups = set(admin_groups) | {g for r in extra_roles for g in r.get("groups", [])}
if role_groups and not manage_groups:
    # (An authenticator that manages groups refuses load_groups; it makes them at login.)
    c.JupyterHub.load_groups = {g: [] for g in sorted(role_groups)}
if manage_groups:
    c.Authenticator.manage_groups = True
c.JupyterHub.services = services
c.JupyterHub.load_roles = roles

if os.environ.get("HUB_EXIT_ON_STDIN_EOF") == "1":

    def _exit_on_stdin_eof():
        # os.read on the raw descriptor, not sys.stdin: a daemon thread blocked inside
        # sys.stdin's BufferedReader makes the interpreter abort at shutdown.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        print("jupyterhub_config.py: stdin closed, sending SIGTERM to the hub", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=_exit_on_stdin_eof, name="exit-on-stdin-eof", daemon=True).start()

# One line at startup even at log level WARNING, so a test's hub log shows what was configured.
print(
    f"jupyterhub_config.py: JupyterHub {jupyterhub.__version__} on http://127.0.0.1:{hub_port}/hub/api"
    f" dir={hub_dir} services={[s['name'] for s in services]}"
    f" page_max={page_max or 'default'} log_level={log_level}"
    f" exit_on_stdin_eof={os.environ.get('HUB_EXIT_ON_STDIN_EOF') == '1'}"
    f" admin_users={sorted(admin_users)} admin_groups={admin_groups}"
    f" extra_roles={[r.get('name') for r in extra_roles]} manage_groups={manage_groups}"
    f" login_admins={sorted(login_admins)} login_groups={login_groups}"
    f" add_user_delay={add_user_delay}s"
    f" admin_sync_command={sync_command}",
    file=sys.stderr,
    flush=True,
)
