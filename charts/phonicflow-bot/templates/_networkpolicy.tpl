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
