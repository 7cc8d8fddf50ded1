"""A fast fake JupyterHub API for many hubs on ONE loopback port (stdlib asyncio only).

    python fake_hub.py --hubs 200 --users 2000 --admins 5 --page-max 200 \
        --page-delay 0.05 --token TOKEN [--port 0] [--slow-every K --slow-factor F]

Hub i lives under /h{i}/hub/api/:
  GET /                 {"version": "6.1.1"}, at once, no token needed
  GET /user             the token's owner (service admin-sync, admin), at once
  GET /users?offset&limit  with Accept: application/jupyterhub-pagination+json: one page
                        of at most --page-max users (a larger limit is clamped, as
                        JupyterHub does), answered after --page-delay seconds
                        (times --slow-factor on hubs 0, K, 2K, .. with --slow-every K)
Users are user00000.. (the first --admins are admins), shaped like JupyterHub 6.1's
user model as an admin token sees it (about 240 bytes each). Page bodies are built once
per (offset, limit) and shared by every hub; only `next.url` differs per hub.

Also: GET /_stats[?reset=1] -> {"requests": n, "pages": n, "errors": n, "first_ts": t,
"last_ts": t} (wall-clock times of the first request received and the last answer sent;
reset=1 starts counting afresh after answering).
Prints "READY <port>" on stdout once listening. Exits on SIGTERM/SIGINT, and when its
stdin reaches EOF (so it dies with the process that started it).
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from urllib.parse import parse_qs, urlsplit

PAGINATION = "application/jupyterhub-pagination+json"


class FakeFleet:
    def __init__(self, args):
        self.args = args
        self.token = args.token
        self.stats = {"requests": 0, "pages": 0, "errors": 0, "first_ts": None, "last_ts": None}
        width = max(5, len(str(args.users - 1)))
        self.users = [
            json.dumps(
                {
                    "kind": "user",
                    "last_activity": None,
                    "created": "2026-11-28T00:00:00.000000Z",
                    "auth_state": None,
                    "name": f"user{i:0{width}d}",
                    "groups": [],
                    "roles": ["user", "admin"] if i < args.admins else ["user"],
                    "pending": None,
                    "server": None,
                    "admin": i < args.admins,
                    "servers": {},
                    "user_info": None,
                }
            ).encode()
            for i in range(args.users)
        ]
        self.items_cache = {}
        self.version = json.dumps({"version": "6.1.1"}).encode()
        self.me = json.dumps(
            {
                "kind": "service",
                "admin": True,
                "name": "admin-sync",
                "roles": ["admin"],
                "scopes": ["admin:users", "list:users"],
            }
        ).encode()

    def items(self, offset, limit):
        key = (offset, limit)
        body = self.items_cache.get(key)
        if body is None:
            body = b"[" + b", ".join(self.users[offset : offset + limit]) + b"]"
            self.items_cache[key] = body
        return body

    def page(self, hub, host, offset, limit):
        total = len(self.users)
        offset = max(0, offset)
        limit = max(1, min(limit, self.args.page_max))
        nxt = None
        if offset + limit < total:
            nxt = {
                "offset": offset + limit,
                "limit": limit,
                "url": f"http://{host}/h{hub}/hub/api/users?offset={offset + limit}&limit={limit}",
            }
        pagination = json.dumps(
            {"offset": offset, "limit": limit, "total": total, "next": nxt}
        ).encode()
        return b'{"items": ' + self.items(offset, limit) + b', "_pagination": ' + pagination + b"}"

    async def handle(self, reader, writer):
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                status, body = await self.route(method, target, headers)
                if not target.startswith("/_stats"):
                    self.stats["last_ts"] = time.time()
                keep_alive = headers.get("connection", "").lower() != "close"
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
                    % (
                        status,
                        b"OK" if status == 200 else b"Error",
                        len(body),
                        b"" if keep_alive else b"Connection: close\r\n",
                    )
                    + body
                )
                await writer.drain()
                if not keep_alive:
                    return
        except Exception as e:  # a bench tool: say what broke, keep serving others
            self.stats["errors"] += 1
            print(f"fake_hub: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        finally:
            writer.close()

    async def route(self, method, target, headers):
        url = urlsplit(target)
        if url.path == "/_stats":
            body = json.dumps(self.stats).encode()
            if "reset=1" in url.query:
                self.stats.update(requests=0, pages=0, errors=0, first_ts=None, last_ts=None)
            return 200, body
        self.stats["requests"] += 1
        if self.stats["first_ts"] is None:
            self.stats["first_ts"] = time.time()
        parts = url.path.split("/", 2)  # ["", "h17", "hub/api/users"]
        if len(parts) < 3 or not parts[1].startswith("h") or not parts[1][1:].isdigit():
            return 404, b'{"status": 404, "message": "Not Found"}'
        hub = int(parts[1][1:])
        rest = "/" + parts[2]
        if hub >= self.args.hubs or method != "GET":
            return 404, b'{"status": 404, "message": "Not Found"}'
        if rest in ("/hub/api", "/hub/api/"):
            return 200, self.version
        if headers.get("authorization", "") not in (f"token {self.token}", f"Bearer {self.token}"):
            self.stats["errors"] += 1
            return 403, b'{"status": 403, "message": "Missing or invalid credentials."}'
        if rest == "/hub/api/user":
            return 200, self.me
        if rest == "/hub/api/groups":
            # No groups: one empty page (the binary reads groups on every run).
            body = {"items": [], "_pagination": {"offset": 0, "limit": 200, "total": 0, "next": None}}
            return 200, json.dumps(body).encode()
        if rest == "/hub/api/users":
            if headers.get("accept", "") != PAGINATION:
                self.stats["errors"] += 1
                return 400, b'{"status": 400, "message": "bench fake: pagination Accept required"}'
            q = parse_qs(url.query)
            offset = int(q.get("offset", ["0"])[0])
            limit = int(q.get("limit", ["50"])[0])
            self.stats["pages"] += 1
            delay = self.args.page_delay
            if self.args.slow_every and hub % self.args.slow_every == 0:
                delay *= self.args.slow_factor
            if delay > 0:
                await asyncio.sleep(delay)
            return 200, self.page(hub, headers.get("host", "127.0.0.1"), offset, limit)
        return 404, b'{"status": 404, "message": "Not Found"}'


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--hubs", type=int, required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--admins", type=int, default=5)
    p.add_argument("--page-max", type=int, default=200)
    p.add_argument("--page-delay", type=float, default=0.05)
    p.add_argument("--token", required=True)
    p.add_argument("--slow-every", type=int, default=0, help="every K-th hub (0, K, 2K..) is slower")
    p.add_argument("--slow-factor", type=float, default=1.0, help="...by this factor on each page")
    args = p.parse_args()
    fleet = FakeFleet(args)
    # Warm the page cache so the first hub does not pay for building bodies.
    for offset in range(0, args.users, args.page_max):
        fleet.items(offset, args.page_max)
    server = await asyncio.start_server(fleet.handle, "127.0.0.1", args.port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def on_stdin():
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            stop.set()

    try:
        loop.add_reader(0, on_stdin)
    except (OSError, ValueError, PermissionError):
        pass  # stdin is not pollable (e.g. a regular file): rely on signals
    print(f"READY {port}", flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
