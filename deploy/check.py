"""The checks of deploy/check.sh that are more than a command line, one subcommand each.

    python deploy/check.py SUBCOMMAND ARGS...

Each exits 0 when its check passes and prints what it checked. deploy/check.sh runs
them with the tool venvs' Python (`helm-lint` needs the Helm venv's helm-sdkpy, the
others PyYAML and promql-parser), so every import is inside the subcommand that needs
it. Paths are relative to the repository root, where deploy/check.sh runs.
"""

import sys

sys.dont_write_bytecode = True


def helm_lint(argv):
    import asyncio
    import os
    import shutil

    import yaml
    from render import merge
    chart, work = argv[0], argv[1]
    os.environ["HELM_CACHE_HOME"] = os.environ["HELM_CONFIG_HOME"] = os.environ["HELM_DATA_HOME"] = work
    import helm_sdkpy
    config = helm_sdkpy.Configuration(namespace="default", kubeconfig="apiVersion: v1\nkind: Config\n")
    severity = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
    failed = False
    for example in [None, "deploy/examples/central.yaml", "deploy/examples/alongside-z2jh.yaml"]:
        target = chart
        if example:
            target = os.path.join(work, os.path.basename(example).removesuffix(".yaml"), os.path.basename(chart))
            shutil.copytree(chart, target)
            values = merge(yaml.safe_load(open(os.path.join(chart, "values.yaml"))), yaml.safe_load(open(example)))
            yaml.safe_dump(values, open(os.path.join(target, "values.yaml"), "w"))
        result = asyncio.run(helm_sdkpy.Lint(config).run(target))
        for message in result.get("Messages") or []:
            level = message.get("Severity", 0)
            print(f"{example or 'defaults'}: [{severity.get(level, level)}] {message.get('Path')}")
            failed |= level >= 2  # helm lint --strict fails on warnings too
        failed |= bool(result.get("Errors"))
        print(f"{example or 'defaults'}: linted")
    sys.exit(1 if failed else 0)


def options(argv):
    import yaml
    work = argv[0]
    def load(name):
        return {d["kind"] + "/" + d["metadata"]["name"]: d
                for d in yaml.safe_load_all(open(f"{work}/{name}")) if d}
    def pod(docs):
        return next(d for d in docs.values() if d["kind"] == "Deployment")["spec"]["template"]
    problems = []
    def expect(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            problems.append(what)

    opt = load("opt.yaml")
    spec = pod(opt)["spec"]
    c = spec["containers"][0]
    expect("--interval=2m" in c["args"], "--interval from `interval`")
    expect("--hub=hub-a" in c["args"], "--hub from `hubs`")
    expect(c["args"][-1] == "--concurrency=2", "extraArgs appended")
    expect({"secretRef": {"name": "opt-jupyterhub-admin-sync-tokens"}} in c.get("envFrom", []), "tokens Secret via envFrom")
    webhook = [e for e in c["env"] if e["name"] == "JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL"]
    expect(webhook and webhook[0]["valueFrom"]["secretKeyRef"] == {"name": "opt-jupyterhub-admin-sync-alert-webhook", "key": "url"},
           "webhook URL from its Secret")
    expect({"name": "JUPYTERHUB_ADMIN_SYNC_ALERT_FORMAT", "value": "alertmanager"} in c["env"],
           "alert format from `alertWebhook.format`")
    audit = next(v for v in spec["volumes"] if v["name"] == "audit")
    expect(audit.get("persistentVolumeClaim") == {"claimName": "audit-claim"}, "audit on existingClaim")
    expect(not any(k.startswith("PersistentVolumeClaim/") for k in opt), "no PVC created with existingClaim")
    expect("ServiceMonitor/opt-jupyterhub-admin-sync" in opt, "ServiceMonitor rendered")
    rules = {r["alert"]: r for r in opt["PrometheusRule/opt-jupyterhub-admin-sync"]["spec"]["groups"][0]["rules"]}
    expect(rules["JupyterHubAdminSyncHubStale"]["expr"].endswith("> 360"), "stale threshold = 3 x 2m")
    expect(rules["JupyterHubAdminSyncHubNeverSynced"]["for"] == "360s", "never-synced for = 3 x 2m")
    expect(rules["JupyterHubAdminSyncAbsent"]["expr"] == 'absent(jupyterhub_admin_sync_build_info{job="shard-a"})', "absentSelector")
    expect(all(r["labels"].get("team") == "hub-engineers" and r["labels"].get("severity") for r in rules.values()),
           "additionalRuleLabels on every rule, severity kept")
    expect(spec["automountServiceAccountToken"] is False and spec["securityContext"]["runAsNonRoot"] is True
           and c["securityContext"]["readOnlyRootFilesystem"] is True, "hardening kept with options")

    def checksum(name):
        return pod(load(name))["metadata"]["annotations"]["checksum/config"]

    expect(not any(k.startswith(("Role/", "RoleBinding/")) for k in opt), "no Role or RoleBinding without hubLogs")
    logs = [d for d in yaml.safe_load_all(open(f"{work}/logs.yaml")) if d]
    expect(pod({d["kind"] + "/": d for d in logs})["spec"]["automountServiceAccountToken"] is True,
           "a service-account token in the pod with hubLogs.kubernetes.namespaces")
    roles = {d["metadata"]["namespace"]: d for d in logs if d["kind"] == "Role"}
    bindings = {d["metadata"]["namespace"]: d for d in logs if d["kind"] == "RoleBinding"}
    read_logs = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
                 {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]
    expect(sorted(roles) == sorted(bindings) == ["climate-prod", "ocean-prod"], "a Role and RoleBinding per namespace")
    expect(all(r["rules"] == read_logs for r in roles.values()), "each Role: exactly pods list and pods/log get")
    expect(all(b["subjects"] == [{"kind": "ServiceAccount", "name": "reader", "namespace": "ns"}]
               and b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                    "name": roles[n]["metadata"]["name"]}
               for n, b in bindings.items()), "each RoleBinding: the Role, to the daemon's service account")
    expect(checksum("opt.yaml") != checksum("opt-token.yaml"), "checksum/config changes with a token")
    expect(checksum("opt.yaml") != checksum("opt-roster.yaml"), "checksum/config changes with the roster (restartOnRosterChange)")
    default = {d["kind"]: d for d in yaml.safe_load_all(open("deploy/rendered/default.yaml")) if d}
    expect(pod({"d": default["Deployment"]})["metadata"]["annotations"]["checksum/config"]
           == pod(load("plain-roster.yaml"))["metadata"]["annotations"]["checksum/config"],
           "checksum/config ignores the roster by default (the daemon reloads it)")
    sys.exit(1 if problems else 0)


def split_docs(argv):
    import os

    import yaml
    out, files = argv[0], argv[1:]
    os.makedirs(out, exist_ok=True)
    for path in files:
        for i, doc in enumerate(d for d in yaml.safe_load_all(open(path)) if d):
            base = os.path.basename(path).removesuffix(".yaml")
            with open(f"{out}/{base}-{i:02d}-{doc['kind']}.yaml", "w") as f:
                yaml.safe_dump(doc, f, sort_keys=False)


def sidecar_pod(argv):
    import yaml
    values = yaml.safe_load(open("deploy/examples/z2jh-sidecar-values.yaml"))["hub"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hub"},
           "spec": {"containers": values["extraContainers"], "volumes": values["extraVolumes"]}}
    yaml.safe_dump(pod, open(argv[0], "w"), sort_keys=False)


def schema_refs(argv):
    import json
    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)
    bad = [(path, ref) for path in argv for ref in refs(json.load(open(path))) if not ref.startswith("#")]
    for path, ref in bad:
        print(f"{path}: remote $ref {ref}: keep schemas self-contained (offline)")
    print("schemas: only local $refs" if not bad else "")
    sys.exit(1 if bad else 0)


def rules(argv):
    import promql_parser
    import yaml
    problems = []
    standalone = yaml.safe_load(open("deploy/prometheus/alerts.yaml"))["groups"]
    for group in standalone:
        for rule in group["rules"]:
            try:
                promql_parser.parse(rule["expr"])
            except Exception as e:
                problems.append(f"alerts.yaml {rule['alert']}: not PromQL: {e}")
            print(f"{rule['alert']}: parses")
    central = [d for d in yaml.safe_load_all(open("deploy/rendered/central.yaml")) if d and d["kind"] == "PrometheusRule"]
    if len(central) != 1:
        problems.append("deploy/rendered/central.yaml should hold one PrometheusRule")
    elif central[0]["spec"]["groups"] != standalone:
        problems.append("the chart's PrometheusRule (deploy/rendered/central.yaml, interval 5m) differs from "
                        "deploy/prometheus/alerts.yaml: change both the same way")
    else:
        print("the chart's PrometheusRule = deploy/prometheus/alerts.yaml")
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


def roster_env(argv):
    import os

    import yaml
    path, work = argv[0], argv[1]
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    name = os.path.basename(path).removesuffix(".yaml")
    configmaps = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-roster")]
    if len(configmaps) != 1:
        sys.exit(f"{path}: expected one roster ConfigMap")
    # The ConfigMap as the pod sees it: a directory of its keys (one roster file, or one
    # per community), which the daemon reads as one roster.
    roster_dir = f"{work}/{name}-roster"
    os.makedirs(roster_dir, exist_ok=True)
    needed = set()
    for key, text in configmaps[0]["data"].items():
        open(f"{roster_dir}/{key}", "w").write(text)
        roster = yaml.safe_load(text) or {}
        needed |= {h["token_env"] for c in roster.get("communities", []) for h in c.get("hubs", []) if "token_env" in h}
    needed = sorted(needed)
    # What the container is given.
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    provided = {e["name"] for e in container.get("env", [])}
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    external = []
    for source in container.get("envFrom", []):
        ref = source["secretRef"]["name"]
        if ref in secrets:
            provided |= set(secrets[ref].get("data", {}))
        else:
            external.append(ref)
    missing = [n for n in needed if n not in provided]
    if missing and not external:
        print(f"echo '{path}: token_env {', '.join(missing)} not provided to the container (tokens, existingSecret, extraEnv)'")
        print("TOKENS_MISSING=1")
    elif missing:
        print(f"echo '{path}: token_env {', '.join(missing)} expected in Secret {', '.join(external)} (envFrom)'")
    print(f"ROSTER={roster_dir}")
    print("NEEDED='" + " ".join(needed) + "'")


def dockerfile(argv):
    import re
    import tomllib
    cargo = tomllib.load(open("Cargo.toml", "rb"))["package"]
    docker = open("Dockerfile").read()
    problems = []
    minimum = tuple(int(x) for x in cargo["rust-version"].split("."))
    pinned = re.search(r"^ARG RUST_VERSION=(\d+)\.(\d+)", docker, re.M)
    if not pinned or tuple(map(int, pinned.groups())) < minimum[:2]:
        problems.append(f"ARG RUST_VERSION must be >= Cargo.toml's rust-version {cargo['rust-version']}")
    binary = cargo["name"]
    for needle in (f"target/release/{binary}", f'ENTRYPOINT ["/usr/local/bin/{binary}"]', "USER 65532:65532",
                   "FROM gcr.io/distroless/cc-debian12:nonroot"):
        if needle not in docker:
            problems.append(f"Dockerfile lacks {needle!r}")
    ignore = [line.strip() for line in open(".dockerignore") if line.strip() and not line.startswith("#")]
    if ignore[:1] != ["*"] or not {"!Cargo.toml", "!Cargo.lock", "!src/"} <= set(ignore):
        problems.append(".dockerignore should exclude everything but Cargo.toml, Cargo.lock and src/")
    print("\n".join(problems) or f"Dockerfile: rust {pinned.group(1)}.{pinned.group(2)} >= {cargo['rust-version']}, binary {binary}, non-root, distroless")
    sys.exit(1 if problems else 0)


def example_roster_values(argv):
    import json

    import yaml
    json.dump({"roster": yaml.safe_load(open("config/roster.example.yaml"))}, open(argv[0], "w"))


def log_namespaces(argv):
    """Every namespace a roster names under log.kubernetes is in the chart's hubLogs list.

    Checked where both are known: each chart values file (argv, or the chart's defaults
    and examples) with its own roster, and config/'s example rosters with
    deploy/examples/central.yaml, the central deployment of that same fleet.
    """
    import glob

    import yaml
    from render import merge
    defaults = yaml.safe_load(open("deploy/helm/jupyterhub-admin-sync/values.yaml"))

    def chart(path):
        values = merge(defaults, yaml.safe_load(open(path)) or {}) if path else defaults
        return values.get("roster") or {}, set(values["hubLogs"]["kubernetes"]["namespaces"] or [])

    def documents(roster):
        files = roster and all(k.endswith((".yaml", ".yml")) for k in roster)
        return list(roster.values()) if files else [roster]

    pairs = []
    for path in argv or [None, "deploy/examples/central.yaml", "deploy/examples/alongside-z2jh.yaml"]:
        roster, listed = chart(path)
        pairs += [(path or "the chart's values.yaml", doc, listed) for doc in documents(roster)]
    if not argv:
        listed = chart("deploy/examples/central.yaml")[1]
        for path in ["config/roster.example.yaml", *sorted(glob.glob("config/roster.d/*.yaml"))]:
            pairs.append((f"{path} (with deploy/examples/central.yaml)", yaml.safe_load(open(path)) or {}, listed))
    problems, named = [], 0
    for where, doc, listed in pairs:
        for community in (doc or {}).get("communities") or []:
            for hub in community.get("hubs") or []:
                namespace = ((hub.get("log") or {}).get("kubernetes") or {}).get("namespace")
                named += namespace is not None
                if namespace is not None and namespace not in listed:
                    problems.append(f"{where}: hub {hub['name']} reads its log in namespace {namespace}, "
                                    f"which hubLogs.kubernetes.namespaces does not list ({sorted(listed)})")
    print("\n".join(problems) or f"{named} log.kubernetes namespaces named, each listed in its chart's hubLogs")
    sys.exit(1 if problems else 0)


COMMANDS = {
    "helm-lint": helm_lint,  # CHART WORK: Helm's lint, strict, defaults and examples
    "options": options,  # WORK: the chart's options render as documented
    "split-docs": split_docs,  # OUT FILES...: one file per rendered object
    "sidecar-pod": sidecar_pod,  # OUT: the z2jh sidecar example as a Pod
    "schema-refs": schema_refs,  # SCHEMAS...: only local $refs (offline)
    "example-roster-values": example_roster_values,  # OUT: the example roster as values
    "rules": rules,  # the alert rules parse; the chart's PrometheusRule equals them
    "roster-env": roster_env,  # RENDERED WORK: a rendered roster and its tokens, as shell
    "dockerfile": dockerfile,  # the Dockerfile agrees with Cargo.toml and .dockerignore
    "log-namespaces": log_namespaces,  # [VALUES...]: roster log.kubernetes namespaces are in hubLogs
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: deploy/check.py {{{'|'.join(COMMANDS)}}} ARGS...")
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))


if __name__ == "__main__":
    main()
