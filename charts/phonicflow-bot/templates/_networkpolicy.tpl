{{/* Rule snippets of templates/networkpolicy.yaml */}}

{{- define "phonicflow.np.dns" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dnsNamespaceSelector | nindent 8 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}
{{- define "phonicflow.np.otel" -}}
{{- $root := index . 0 -}}
{{- if index . 1 }}
- to:
    {{- range $root.Values.networkPolicy.otelEgressCidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    - port: {{ index . 1 }}
      protocol: TCP
{{- end }}
{{- end -}}
{{- define "phonicflow.np.fromComponent" -}}
- podSelector:
    matchLabels:
      {{- include "phonicflow.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/*
The bot's roles: the intake, the poller ("bot") or the webhook receivers ("webhook": also
ingress on their port from `networkPolicy.webhookIngressFrom`), reaching Redis and Telegram; and
the workers ("worker": also the converter and the backend). (list . component otelPort)
*/}}
{{- define "phonicflow.np.bot" -}}
{{- $component := index . 1 -}}
{{- $otelPort := index . 2 -}}
{{- $worker := eq $component "worker" -}}
{{- with index . 0 -}}
{{- $np := .Values.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "phonicflow.componentName" (list . $component) }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "phonicflow.componentLabels" (list . $component) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "phonicflow.selectorLabels" (list . $component) | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - namespaceSelector:
            {{- toYaml $np.metricsNamespaceSelector | nindent 12 }}
        {{- include "phonicflow.np.fromComponent" (list . "test") | nindent 8 }}
      ports:
        - port: {{ .Values.bot.healthPort }}
          protocol: TCP
    {{- if eq $component "webhook" }}
    # Telegram's calls, through the ingress controller (or any source when the list is empty)
    - ports:
        - port: {{ .Values.webhook.port }}
          protocol: TCP
      {{- if or $np.webhookIngressFrom .Values.emulator.enabled }}
      from:
        {{- with $np.webhookIngressFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- if .Values.emulator.enabled }}
        {{- include "phonicflow.np.fromComponent" (list . "emulator") | nindent 8 }}
        {{- end }}
      {{- end }}
    {{- end }}
  egress:
    {{- include "phonicflow.np.dns" . | nindent 4 }}
    {{- if $worker }}
    {{- if .Values.converter.enabled }}
    - to:
        {{- include "phonicflow.np.fromComponent" (list . "converter") | nindent 8 }}
      ports:
        - port: {{ .Values.converter.service.port }}
          protocol: TCP
    {{- else }}
    - ports:
        - port: {{ regexFind "[0-9]+$" .Values.converter.externalAddress | int }}
          protocol: TCP
    {{- end }}
    {{- if .Values.backend.enabled }}
    - to:
        {{- include "phonicflow.np.fromComponent" (list . "backend") | nindent 8 }}
      ports:
        - port: {{ .Values.backend.service.port }}
          protocol: TCP
    {{- else }}
    - ports:
        - port: {{ include "phonicflow.urlPort" (list .Values.backend.externalUrl "80") | int }}
          protocol: TCP
    {{- end }}
    {{- end }}
    {{- if .Values.redis.enabled }}
    - to:
        {{- include "phonicflow.np.fromComponent" (list . "redis") | nindent 8 }}
      ports:
        - port: {{ .Values.redis.service.port }}
          protocol: TCP
    {{- else }}
    - ports:
        - port: {{ include "phonicflow.urlPort" (list .Values.redis.external.url "6379") | int }}
          protocol: TCP
    {{- end }}
    {{- if .Values.emulator.enabled }}
    - to:
        {{- include "phonicflow.np.fromComponent" (list . "emulator") | nindent 8 }}
      ports:
        - port: {{ .Values.emulator.service.port }}
          protocol: TCP
    {{- else }}
    # Telegram's Bot API (or a self-hosted Bot API server on its URL's port). "Anywhere" leaves
    # out the private ranges, so the API server, the cloud metadata endpoint and other in-cluster
    # services on that port stay out of reach.
    - to:
        {{- range $np.telegramCidrs }}
        - ipBlock:
            cidr: {{ . }}
            {{- if and (eq . "0.0.0.0/0") $np.telegramExceptCidrs }}
            except:
              {{- toYaml $np.telegramExceptCidrs | nindent 14 }}
            {{- end }}
        {{- end }}
      ports:
        - port: {{ include "phonicflow.urlPort" (list .Values.telegram.apiBaseUrl "443") | int }}
          protocol: TCP
    {{- end }}
    {{- include "phonicflow.np.otel" (list . $otelPort) | nindent 4 }}
    {{- with $np.extraBotEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}
