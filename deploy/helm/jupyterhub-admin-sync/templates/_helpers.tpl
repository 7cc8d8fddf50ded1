{{/* The chart's name, or nameOverride. */}}
{{- define "jupyterhub-admin-sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fully qualified name: the release name, with the chart's name appended unless the
release name already contains it. Truncated to 63 characters (DNS label limit) minus
room for the longest suffix used (-alert-webhook, 14).
*/}}
{{- define "jupyterhub-admin-sync.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 49 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 49 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 49 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "jupyterhub-admin-sync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the pod: they never change across upgrades. */}}
{{- define "jupyterhub-admin-sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jupyterhub-admin-sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "jupyterhub-admin-sync.labels" -}}
helm.sh/chart: {{ include "jupyterhub-admin-sync.chart" . }}
{{ include "jupyterhub-admin-sync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: reconciler
app.kubernetes.io/part-of: jupyterhub-admin-sync
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "jupyterhub-admin-sync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jupyterhub-admin-sync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "jupyterhub-admin-sync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "jupyterhub-admin-sync.rosterConfigMapName" -}}
{{- default (printf "%s-roster" (include "jupyterhub-admin-sync.fullname" .)) .Values.existingRosterConfigMap }}
{{- end }}

{{- define "jupyterhub-admin-sync.tokensSecretName" -}}
{{- printf "%s-tokens" (include "jupyterhub-admin-sync.fullname" .) }}
{{- end }}

{{- define "jupyterhub-admin-sync.webhookSecretName" -}}
{{- printf "%s-alert-webhook" (include "jupyterhub-admin-sync.fullname" .) }}
{{- end }}

{{- define "jupyterhub-admin-sync.auditClaimName" -}}
{{- default (printf "%s-audit" (include "jupyterhub-admin-sync.fullname" .)) .Values.audit.persistence.existingClaim }}
{{- end }}

{{- define "jupyterhub-admin-sync.stateClaimName" -}}
{{- default (printf "%s-state" (include "jupyterhub-admin-sync.fullname" .)) .Values.state.persistence.existingClaim }}
{{- end }}

{{/*
Fails when the chart's roster keeps admins made in the hub (ui_grants, other than 0) at
any level while state is off: the daemon keeps those records in --state-dir and refuses
to start without it. A ConfigMap managed elsewhere cannot be read here.
*/}}
{{- define "jupyterhub-admin-sync.checkUiGrantsState" -}}
{{- if and (not .Values.existingRosterConfigMap) (not .Values.state.enabled) }}
{{- $documents := list .Values.roster }}
{{- if include "jupyterhub-admin-sync.rosterIsFiles" . }}
{{- $documents = values .Values.roster }}
{{- end }}
{{- range $document := $documents }}
{{- $levels := list (dig "defaults" dict $document) }}
{{- range $community := $document.communities | default list }}
{{- $levels = append $levels $community }}
{{- range $hub := $community.hubs | default list }}
{{- $levels = append $levels $hub }}
{{- end }}
{{- end }}
{{- range $level := $levels }}
{{- $keep := toString (dig "ui_grants" "keep_for" "0" $level) }}
{{- if ne (trim $keep) "0" }}
{{- fail "the roster uses ui_grants, whose records the daemon keeps in its state: set state.enabled (and state.persistence.enabled to keep them across pods)" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* `interval` (a whole number of s, m or h; the schema enforces it) in seconds. */}}
{{- define "jupyterhub-admin-sync.intervalSeconds" -}}
{{- $interval := toString .Values.interval }}
{{- $number := regexFind "^[0-9]+" $interval }}
{{- $unit := trimPrefix $number $interval }}
{{- $factor := get (dict "s" 1 "m" 60 "h" 3600) $unit }}
{{- if not $factor }}
{{- fail (printf "interval %q: write a whole number of s, m or h, e.g. 5m" $interval) }}
{{- end }}
{{- mul (atoi $number) $factor }}
{{- end }}

{{/*
The roster's token_env names (sorted, unique), when the chart renders the roster; a
ConfigMap managed elsewhere cannot be read here.
*/}}
{{- define "jupyterhub-admin-sync.rosterTokenEnvs" -}}
{{- $names := list }}
{{- if not .Values.existingRosterConfigMap }}
{{- $documents := list .Values.roster }}
{{- if include "jupyterhub-admin-sync.rosterIsFiles" . }}
{{- $documents = values .Values.roster }}
{{- end }}
{{- if not .Values.roster }}
{{- $names = append $names "EXAMPLE_HUB_TOKEN" }}
{{- end }}
{{- range $document := $documents }}
{{- range $community := $document.communities | default list }}
{{- range $hub := $community.hubs | default list }}
{{- if $hub.token_env }}
{{- $names = append $names $hub.token_env }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $names | uniq | sortAlpha | join " " }}
{{- end }}

{{/* Env var names this chart provides explicitly (tokens, existingSecret.keys, extraEnv). */}}
{{- define "jupyterhub-admin-sync.providedEnvs" -}}
{{- $names := keys .Values.tokens }}
{{- $names = concat $names (keys .Values.existingSecret.keys) }}
{{- range .Values.extraEnv }}
{{- $names = append $names .name }}
{{- end }}
{{- $names | uniq | sortAlpha | join " " }}
{{- end }}

{{/*
"true" when `roster` is a map of files (every key ends in .yaml or .yml) rather than
one roster document.
*/}}
{{- define "jupyterhub-admin-sync.rosterIsFiles" -}}
{{- $files := true -}}
{{- range $key, $_ := .Values.roster -}}
{{- if not (or (hasSuffix ".yaml" $key) (hasSuffix ".yml" $key)) -}}
{{- $files = false -}}
{{- end -}}
{{- end -}}
{{- if and $files (gt (len .Values.roster) 0) -}}true{{- end -}}
{{- end }}

{{/*
Fails when the chart's roster names, under a hub's log.kubernetes.namespace, a
namespace that hubLogs.kubernetes.namespaces does not list (the daemon could not read
that hub's log: no Role there). A ConfigMap managed elsewhere cannot be read here.
*/}}
{{- define "jupyterhub-admin-sync.checkLogNamespaces" -}}
{{- if not .Values.existingRosterConfigMap }}
{{- $listed := .Values.hubLogs.kubernetes.namespaces }}
{{- $documents := list .Values.roster }}
{{- if include "jupyterhub-admin-sync.rosterIsFiles" . }}
{{- $documents = values .Values.roster }}
{{- end }}
{{- range $document := $documents }}
{{- range $community := $document.communities | default list }}
{{- range $hub := $community.hubs | default list }}
{{- $kubernetes := dig "log" "kubernetes" dict $hub }}
{{- if and $kubernetes.namespace (not (has $kubernetes.namespace $listed)) }}
{{- fail (printf "roster hub %s: log.kubernetes.namespace %s is not in hubLogs.kubernetes.namespaces (%s): add it, so that the chart grants the daemon reading pod logs there" $hub.name $kubernetes.namespace (join ", " $listed | default "empty")) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
