{{/*
Names, labels, images and the pieces every workload shares. Components are "bot", "converter",
"backend", "redis", "emulator"; each gets <fullname>-<component> as its object names.
*/}}

{{- define "phonicflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "phonicflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>, e.g. include "phonicflow.componentName" (list . "bot") */}}
{{- define "phonicflow.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "phonicflow.fullname" $root | trunc 50 | trimSuffix "-") (index . 1) -}}
{{- end -}}

{{- define "phonicflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "phonicflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: phonicflow
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* selector labels of one component: include "phonicflow.selectorLabels" (list . "bot") */}}
{{- define "phonicflow.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "phonicflow.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "phonicflow.componentLabels" -}}
{{- $root := index . 0 -}}
{{ include "phonicflow.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* registry/repository:tag[@digest]; the tag defaults to the chart's appVersion */}}
{{- define "phonicflow.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- $registry := default $root.Values.global.imageRegistry $image.registry -}}
{{- $ref := $image.repository -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $image.repository }}{{ end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $ref $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (toString (default $root.Chart.AppVersion $image.tag)) -}}
{{- end -}}
{{- end -}}

{{- define "phonicflow.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod-level security: restricted Pod Security Standard. include ... (list . "bot") */}}
{{- define "phonicflow.podSecurityContext" -}}
{{- $root := index . 0 -}}
{{- $component := index $root.Values (index . 1) -}}
{{- $merged := mergeOverwrite (deepCopy $root.Values.podSecurityContext) (default dict $component.podSecurityContext) -}}
{{- toYaml $merged -}}
{{- end -}}

{{- define "phonicflow.containerSecurityContext" -}}
{{- $root := index . 0 -}}
{{- $component := index $root.Values (index . 1) -}}
{{- $merged := mergeOverwrite (deepCopy $root.Values.containerSecurityContext) (default dict $component.containerSecurityContext) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Shared pod spec fields: service account, security, scheduling. (list . "bot") */}}
{{- define "phonicflow.podCommon" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $component := index $root.Values $name -}}
serviceAccountName: {{ include "phonicflow.serviceAccountName" (list $root $name) }}
automountServiceAccountToken: false
{{- include "phonicflow.imagePullSecrets" $root }}
securityContext:
  {{- include "phonicflow.podSecurityContext" (list $root $name) | nindent 2 }}
{{- with $component.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $component.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "phonicflow.serviceAccountName" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $sa := (index $root.Values $name).serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "phonicflow.componentName" (list $root $name)) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* One ServiceAccount per component, never mounting an API token (none of them calls the API) */}}
{{- define "phonicflow.serviceAccount" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $sa := (index $root.Values $name).serviceAccount -}}
{{- if $sa.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "phonicflow.serviceAccountName" (list $root $name) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "phonicflow.componentLabels" (list $root $name) | nindent 4 }}
  {{- with $sa.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}

{{/* PodDisruptionBudget of a component, from <component>.pdb */}}
{{- define "phonicflow.pdb" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $pdb := (index $root.Values $name).pdb -}}
{{- if $pdb.create }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "phonicflow.componentName" (list $root $name) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "phonicflow.componentLabels" (list $root $name) | nindent 4 }}
spec:
  {{- if $pdb.minAvailable }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "phonicflow.selectorLabels" (list $root $name) | nindent 6 }}
{{- end }}
{{- end -}}

{{/* The emptyDir every container gets for /tmp, since the root filesystem is read-only */}}
{{- define "phonicflow.tmpVolume" -}}
- name: tmp
  emptyDir:
    medium: {{ .Values.tmpVolume.medium | quote }}
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end -}}

{{/* OpenTelemetry env of a component: (list . "phonicflow-bot") */}}
{{- define "phonicflow.otelEnv" -}}
{{- $root := index . 0 -}}
{{- $otel := $root.Values.otel -}}
- name: OTEL_SERVICE_NAME
  value: {{ index . 1 | quote }}
{{- if $otel.enabled }}
- name: OTEL_TRACES_EXPORTER
  value: "otlp"
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $otel.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $otel.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $otel.samplerArg | quote }}
{{- else }}
- name: OTEL_TRACES_EXPORTER
  value: "none"
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=%s,deployment.environment=%s,k8s.namespace.name=%s" (default "phonicflow" $otel.serviceNamespace) (default "production" $otel.environment) $root.Release.Namespace | quote }}
{{- end -}}

{{/* Scrape annotations for pods whose /metrics Prometheus should read: (list . port) */}}
{{- define "phonicflow.scrapeAnnotations" -}}
{{- $root := index . 0 -}}
{{- if and $root.Values.metrics.enabled $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ index . 1 | quote }}
prometheus.io/path: "/metrics"
{{- end }}
{{- end -}}

{{/* ---- secrets: the chart-made Secret holds whatever the user did not bring ---- */}}
{{- define "phonicflow.secretName" -}}
{{- include "phonicflow.fullname" . -}}
{{- end -}}

{{/* The chart-made Secret of the bot token (not kept by helm uninstall, unlike secretName's) */}}
{{- define "phonicflow.tokenSecretName" -}}
{{- include "phonicflow.componentName" (list . "telegram") -}}
{{- end -}}

{{- define "phonicflow.telegramSecretName" -}}
{{- if and .Values.telegram.existingSecret (not .Values.emulator.enabled) -}}
{{- .Values.telegram.existingSecret -}}
{{- else -}}
{{- include "phonicflow.tokenSecretName" . -}}
{{- end -}}
{{- end -}}

{{- define "phonicflow.telegramSecretKey" -}}
{{- if and .Values.telegram.existingSecret (not .Values.emulator.enabled) -}}
{{- .Values.telegram.existingSecretTokenKey -}}
{{- else -}}
telegram-token
{{- end -}}
{{- end -}}

{{- define "phonicflow.botKeySecretName" -}}
{{- default (include "phonicflow.secretName" .) .Values.botPrivateKey.existingSecret -}}
{{- end -}}

{{- define "phonicflow.botKeySecretKey" -}}
{{- if .Values.botPrivateKey.existingSecret -}}
{{- .Values.botPrivateKey.existingSecretKey -}}
{{- else -}}
bot-private-key
{{- end -}}
{{- end -}}

{{- define "phonicflow.webhookSecretName" -}}
{{- default (include "phonicflow.secretName" .) .Values.webhook.secretToken.existingSecret -}}
{{- end -}}

{{- define "phonicflow.webhookSecretKey" -}}
{{- if .Values.webhook.secretToken.existingSecret -}}
{{- .Values.webhook.secretToken.existingSecretKey -}}
{{- else -}}
webhook-secret
{{- end -}}
{{- end -}}

{{/* The component that takes updates in: "bot" (the poller) or "webhook" (the receivers) */}}
{{- define "phonicflow.intakeComponent" -}}
{{- ternary "webhook" "bot" (eq .Values.bot.intake.mode "webhook") -}}
{{- end -}}

{{/* Whether the bot authenticates to Redis with a password, and where that password lives */}}
{{- define "phonicflow.redisPasswordSecretName" -}}
{{- if .Values.redis.enabled -}}
{{- if .Values.redis.auth.enabled -}}
{{- default (include "phonicflow.secretName" .) .Values.redis.auth.existingSecret -}}
{{- end -}}
{{- else -}}
{{- .Values.redis.external.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "phonicflow.redisPasswordSecretKey" -}}
{{- if .Values.redis.enabled -}}
{{- if .Values.redis.auth.existingSecret -}}
{{- .Values.redis.auth.existingSecretPasswordKey -}}
{{- else -}}
redis-password
{{- end -}}
{{- else -}}
{{- .Values.redis.external.existingSecretPasswordKey -}}
{{- end -}}
{{- end -}}

{{/* The chart-made Secret's data (JSON): what secret.yaml stores and the checksums hash */}}
{{- define "phonicflow.secretData" -}}
{{- $data := dict -}}
{{- if .Values.emulator.enabled -}}
{{- $_ := set $data "telegram-token" .Values.emulator.token -}}
{{- else if not .Values.telegram.existingSecret -}}
{{- $_ := set $data "telegram-token" (required "telegram.token or telegram.existingSecret is required (or emulator.enabled=true for an end-to-end test install)" .Values.telegram.token) -}}
{{- end -}}
{{- if not .Values.botPrivateKey.existingSecret -}}
{{- $_ := set $data "bot-private-key" (default (include "phonicflow.persistentRandom" (list . "bot-private-key")) .Values.botPrivateKey.value) -}}
{{- end -}}
{{- if and (eq .Values.bot.intake.mode "webhook") (not .Values.webhook.secretToken.existingSecret) -}}
{{- $_ := set $data "webhook-secret" (default (include "phonicflow.persistentRandom" (list . "webhook-secret")) .Values.webhook.secretToken.value) -}}
{{- end -}}
{{- if and .Values.redis.enabled .Values.redis.auth.enabled (not .Values.redis.auth.existingSecret) -}}
{{- $_ := set $data "redis-password" (default (include "phonicflow.persistentRandom" (list . "redis-password")) .Values.redis.auth.password) -}}
{{- end -}}
{{- if and .Values.postgresql.enabled (not .Values.postgresql.auth.existingSecret) -}}
{{- $_ := set $data "postgres-password" (default (include "phonicflow.persistentRandom" (list . "postgres-password")) .Values.postgresql.auth.password) -}}
{{- end -}}
{{- toJson $data -}}
{{- end -}}

{{/*
checksum/secret of one pod: the hash of the chart-made Secret's keys that pod reads, only those.
With the whole Secret's hash, adding webhook-secret for an intake switch restarted the backend,
Redis and PostgreSQL (and the emulator, losing its chats and the registered webhook).
include "phonicflow.secretChecksum" (list . "bot-private-key" "postgres-password")
*/}}
{{- define "phonicflow.secretChecksum" -}}
{{- $data := include "phonicflow.secretData" (index . 0) | fromJson -}}
{{- $read := dict -}}
{{- range $key := rest . -}}
{{- if hasKey $data $key -}}
{{- $_ := set $read $key (index $data $key) -}}
{{- end -}}
{{- end -}}
{{- toJson $read | sha256sum -}}
{{- end -}}

{{/*
A value the chart generates once and keeps across upgrades (looked up in the live Secret).
Memoised per render on the root context: the Secret and every pod's checksum/secret annotation
include the Secret's data separately, and an unmemoised randAlphaNum gave each include its own value,
so on install the annotations disagreed with the stored Secret and the first no-op upgrade
restarted every pod.
*/}}
{{- define "phonicflow.persistentRandom" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- if not (hasKey $root "phonicflowGenerated") -}}
{{- $_ := set $root "phonicflowGenerated" dict -}}
{{- end -}}
{{- $memo := $root.phonicflowGenerated -}}
{{- if not (hasKey $memo $key) -}}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (include "phonicflow.secretName" $root) -}}
{{- if and $existing (index ($existing.data | default dict) $key) -}}
{{- $_ := set $memo $key (index $existing.data $key | b64dec) -}}
{{- else -}}
{{- $_ := set $memo $key (randAlphaNum 40) -}}
{{- end -}}
{{- end -}}
{{- index $memo $key -}}
{{- end -}}

{{/* ---- addresses ---- */}}
{{- define "phonicflow.backendUrl" -}}
{{- if .Values.backend.enabled -}}
{{- printf "http://%s:%d" (include "phonicflow.componentName" (list . "backend")) (int .Values.backend.service.port) -}}
{{- else -}}
{{- required "backend.externalUrl is required when backend.enabled=false" .Values.backend.externalUrl | trimSuffix "/" -}}
{{- end -}}
{{- end -}}

{{/* The bot's converter address: the headless Service, whose DNS name lists every ready pod. */}}
{{- define "phonicflow.converterBalancedAddress" -}}
{{- if .Values.converter.enabled -}}
{{- printf "dns:///%s:%d" (include "phonicflow.componentName" (list . "converter-headless")) (int .Values.converter.service.port) -}}
{{- else -}}
{{- include "phonicflow.converterAddress" . -}}
{{- end -}}
{{- end -}}

{{- define "phonicflow.converterAddress" -}}
{{- if .Values.converter.enabled -}}
{{- printf "%s:%d" (include "phonicflow.componentName" (list . "converter")) (int .Values.converter.service.port) -}}
{{- else -}}
{{- required "converter.externalAddress is required when converter.enabled=false" .Values.converter.externalAddress -}}
{{- end -}}
{{- end -}}

{{/* Redis URL without the password; the bot's env adds ":$(REDIS_PASSWORD)@" */}}
{{- define "phonicflow.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s:%d/%d" (include "phonicflow.componentName" (list . "redis")) (int .Values.redis.service.port) (int .Values.redis.database) -}}
{{- else -}}
{{- required "redis.external.url is required when redis.enabled=false" .Values.redis.external.url -}}
{{- end -}}
{{- end -}}

{{- define "phonicflow.emulatorUrl" -}}
{{- printf "http://%s:%d" (include "phonicflow.componentName" (list . "emulator")) (int .Values.emulator.service.port) -}}
{{- end -}}

{{/* The port of an http(s)/redis URL, for egress rules: (list url defaultPort) */}}
{{- define "phonicflow.urlPort" -}}
{{- $u := urlParse (index . 0) -}}
{{- $hostport := $u.host -}}
{{- if regexMatch ":[0-9]+$" $hostport -}}
{{- regexFind "[0-9]+$" $hostport -}}
{{- else if eq $u.scheme "https" -}}
443
{{- else if eq $u.scheme "http" -}}
80
{{- else -}}
{{- index . 1 -}}
{{- end -}}
{{- end -}}

{{/* The backend's DATABASE_URL: the in-chart PostgreSQL with the kubelet splicing the password
in from its Secret, or the whole URL from the user's Secret */}}
{{- define "phonicflow.databaseEnv" -}}
{{- $pg := .Values.postgresql -}}
{{- if $pg.enabled }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "phonicflow.secretName" .) $pg.auth.existingSecret }}
      key: {{ ternary $pg.auth.existingSecretPasswordKey "postgres-password" (not (empty $pg.auth.existingSecret)) }}
- name: DATABASE_URL
  value: {{ printf "postgresql+asyncpg://%s:$(POSTGRES_PASSWORD)@%s:%d/%s" $pg.username (include "phonicflow.componentName" (list . "postgresql")) (int $pg.service.port) $pg.database | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "postgresql.external.existingSecret is required when postgresql.enabled=false" $pg.external.existingSecret }}
      key: {{ $pg.external.existingSecretUrlKey }}
{{- end }}
{{- end -}}
