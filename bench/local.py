"""What bench.py and same_outputs.py share: a free port on 127.0.0.1, one HTTP request
to a server there (a hub, the daemon's probes, the fake hub API), and waiting for a
JupyterHub process to answer or to stop."""

import http.client
import json
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, token=None, body=None, accept=None, timeout=30.0):
    """One request to 127.0.0.1:PORT, BODY sent as JSON when given: (status, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {}
        if token:
            headers["Authorization"] = f"token {token}"
        if accept:
            headers["Accept"] = accept
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_for_hub(proc, port, timeout, every):
    """Waits until the JupyterHub process PROC answers GET /hub/api/ on PORT with 200, and
    returns its version. RuntimeError when it exits first or is not up within TIMEOUT s."""
    t0 = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"exited ({proc.returncode})")
        try:
            status, body = request(port, "GET", "/hub/api/", timeout=2)
            if status == 200:
                return json.loads(body)["version"]
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"did not answer within {timeout}s")
        time.sleep(every)


def stop(proc, timeout):
    """SIGTERM, and SIGKILL when PROC has not exited TIMEOUT seconds later."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass
