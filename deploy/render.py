#!/usr/bin/env python3
"""Renders the Helm chart with the real Helm engine, without a helm binary or a cluster.

No `helm` binary can be installed on the project's machines (only PyPI, crates.io, npm
and Debian packages are reachable, and none of them ships one). The PyPI package
helm-sdkpy does ship the Helm v4 Go library (compiled into a shared object), but
exposes no `helm template`: only install, upgrade, lint and the like, which talk to a
Kubernetes API server. So this script starts a stand-in API server on 127.0.0.1 that
answers only what an install needs (version, API discovery, "not found" for
every existing object, and an echo for every create), runs a real Helm install
against it (wait off, nothing stored anywhere), and prints the release manifest:
the same text `helm template` prints, rendered by Helm's own engine, with Helm's own
values.schema.json validation and `fail`/`required` handling. The stand-in server
only receives objects; it never shapes them.

Run it with deploy/check.sh's helm venv (Python >= 3.12, helm-sdkpy, PyYAML):

    render.py CHART_DIR --release NAME --namespace NS [-f VALUES.yaml]
              [--set-json '{"key": ...}'] [--notes]

Exit 0 with the manifest on stdout, or 1 with Helm's error on stderr. --notes also
prints the rendered NOTES.txt on stderr.
"""

import argparse
import asyncio
import http.server
import json
import os
import sys
import tempfile
import threading

import yaml

# What the stand-in API server says it is: .Capabilities.KubeVersion for the chart
# (Chart.yaml's kubeVersion is checked against it; the templates do not branch on it).
KUBE_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"}

# The resource kinds an install of this chart may create, by group/version:
# (plural, Kind, namespaced).
CORE = [
    ("configmaps", "ConfigMap", True),
    ("secrets", "Secret", True),
    ("services", "Service", True),
    ("serviceaccounts", "ServiceAccount", True),
    ("persistentvolumeclaims", "PersistentVolumeClaim", True),
    ("namespaces", "Namespace", False),
]
GROUPS = {
    "apps/v1": [("deployments", "Deployment", True)],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
    ],
    "monitoring.coreos.com/v1": [
        ("servicemonitors", "ServiceMonitor", True),
        ("prometheusrules", "PrometheusRule", True),
    ],
}


def resource_list(group_version, resources):
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": plural,
                "singularName": "",
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
            for plural, kind, namespaced in resources
        ],
    }


class StandInApiServer(http.server.BaseHTTPRequestHandler):
    """Discovery, 404 for every object, and creates echoed back. Stores nothing."""

    def log_message(self, *args):
        pass

    def _json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/version":
            return self._json(200, KUBE_VERSION)
        if path == "/api":
            return self._json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            groups = []
            for gv in GROUPS:
                group, version = gv.split("/")
                entry = {"groupVersion": gv, "version": version}
                groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
            return self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path == "/api/v1":
            return self._json(200, resource_list("v1", CORE))
        for gv, resources in GROUPS.items():
            if path == "/apis/" + gv:
                return self._json(200, resource_list(gv, resources))
        if path.endswith("/secrets") and "labelSelector" in query:
            # Helm's release storage looking for earlier releases: there are none.
            return self._json(200, {"kind": "SecretList", "apiVersion": "v1", "items": [], "metadata": {}})
        return self._json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                "reason": "NotFound", "code": 404, "message": "not found"})

    def do_POST(self):
        # A create: answer with the object as sent (JSON or protobuf alike).
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(201)
        self.send_header("Content-Type", self.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chart")
    parser.add_argument("--release", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("-f", "--values", help="a values file, as `helm template -f`")
    parser.add_argument("--set-json", help="values as a JSON object, merged over -f's")
    parser.add_argument("--notes", action="store_true", help="print NOTES.txt on stderr")
    args = parser.parse_args()

    values = {}
    if args.values:
        with open(args.values, encoding="utf-8") as f:
            values = yaml.safe_load(f) or {}
    if args.set_json:
        values = merge(values, json.loads(args.set_json))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandInApiServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    kubeconfig = yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "stand-in", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "stand-in", "user": {}}],
        "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "stand-in",
                                                      "namespace": args.namespace}}],
        "current-context": "stand-in",
    })

    with tempfile.TemporaryDirectory() as home:
        # Keep Helm's cache/config/data out of the user's home.
        for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            os.environ[var] = os.path.join(home, var.lower())
        os.environ.pop("KUBECONFIG", None)
        import helm_sdkpy  # after the environment is set

        config = helm_sdkpy.Configuration(namespace=args.namespace, kubeconfig=kubeconfig)
        try:
            release = asyncio.run(helm_sdkpy.Install(config).run(
                args.release, os.path.abspath(args.chart), values=values or None,
                wait=False, timeout=60,
            ))
        except helm_sdkpy.HelmError as error:
            print(f"helm: {error}", file=sys.stderr)
            return 1
        finally:
            server.shutdown()

    sys.stdout.write(release["manifest"])
    if args.notes:
        print(release.get("info", {}).get("notes", ""), file=sys.stderr)
    return 0


def merge(base, override):
    """Helm's merge of two values maps: maps merge key by key, anything else replaces."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(base.get(key), value) if key in base else value
    return out


if __name__ == "__main__":
    sys.exit(main())
