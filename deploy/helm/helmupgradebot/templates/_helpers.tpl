{{/*
The release's resources are named after it: "helmupgradebot" for a release
of that name, else RELEASE-helmupgradebot (or fullnameOverride).
*/}}
{{- define "helmupgradebot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "helmupgradebot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "helmupgradebot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "helmupgradebot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "helmupgradebot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "helmupgradebot.labels" -}}
helm.sh/chart: {{ include "helmupgradebot.chart" . }}
{{ include "helmupgradebot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The ServiceAccount the CronJobs run as. */}}
{{- define "helmupgradebot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "helmupgradebot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name the existing ServiceAccount to run as (serviceAccount.create is false)" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The claim holding the state and the digest cache. */}}
{{- define "helmupgradebot.claimName" -}}
{{- default (printf "%s-state" (include "helmupgradebot.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{- define "helmupgradebot.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (required "image.tag or image.digest: which image to run" .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The configuration file's text: configFile as given, else config as YAML.
Secrets in it are references only (env:NAME, file:PATH,
keyvault://VAULT/SECRET), never values.
*/}}
{{- define "helmupgradebot.configText" -}}
{{- if .Values.configFile }}
{{- .Values.configFile }}
{{- else if get .Values "config" }}
{{- toYaml .Values.config }}
{{- else }}
{{- fail "config (or configFile): the helmupgradebot configuration is empty; the README has every key" }}
{{- end }}
{{- end }}

{{/* The configuration as data (a configFile's comments dropped), as JSON. */}}
{{- define "helmupgradebot.configJSON" -}}
{{- $config := fromYaml (include "helmupgradebot.configText" .) }}
{{- if hasKey $config "Error" }}
{{- fail (printf "configFile is not a YAML mapping: %v" $config.Error) }}
{{- end }}
{{- toJson $config }}
{{- end }}

{{/*
The configuration's env:NAME references (whole values, as the program
reads them), each of which a secretEnv or extraEnv entry must set: a run
would fail on the first one missing.
*/}}
{{- define "helmupgradebot.checkEnvReferences" -}}
{{- $set := dict }}
{{- range $name, $ref := .Values.secretEnv }}
{{- if $ref }}{{ $_ := set $set $name true }}{{ end }}
{{- end }}
{{- range .Values.extraEnv }}
{{- $_ := set $set .name true }}
{{- end }}
{{- range regexFindAll "\"env:[A-Za-z_][A-Za-z0-9_]*\"" (include "helmupgradebot.configJSON" .) -1 }}
{{- $ref := trimAll "\"" . }}
{{- if not (hasKey $set (trimPrefix "env:" $ref)) }}
{{- fail (printf "the configuration reads %s, which no secretEnv (an existing Secret's key) nor extraEnv entry sets" $ref) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The registry chore's usage sources that read running pods from this
cluster (kubernetes, without a kubeconfig of their own): their namespaces,
the release's where a source names none, as a JSON list.
*/}}
{{- define "helmupgradebot.podUsageNamespaces" -}}
{{- $namespaces := list }}
{{- $config := include "helmupgradebot.configJSON" . | fromJson }}
{{- range (dig "registry" "policy" "usage" list $config) }}
{{- $kube := and (kindIs "map" .) (hasKey . "kubernetes") (get . "kubernetes") }}
{{- if and (kindIs "map" $kube) (not (get $kube "kubeconfig")) }}
{{- $namespaces = append $namespaces (default $.Release.Namespace (get $kube "namespace")) }}
{{- end }}
{{- end }}
{{- $namespaces | uniq | toJson }}
{{- end }}
