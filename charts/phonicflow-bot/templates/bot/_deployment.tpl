{{- /*
The bot's Deployments: the same image and settings in two roles (BOT_ROLE). "bot" is the one
poller (long-polls Telegram, appends each update to the Redis stream; exactly one, Recreate:
two pollers on one token get 409 Conflict). "worker" handles updates from the stream: as many
replicas as the load needs (HPA), a PDB, rolling updates. "webhook" (bot.intake.mode=webhook,
instead of the poller) receives Telegram's webhook calls and appends them: any number of
replicas, rolling, its secret token mounted as a file.
include "phonicflow.botDeployment" (list . "bot" "poller")
*/ -}}
{{- define "phonicflow.botDeployment" -}}
{{- $component := index . 1 -}}
{{- $role := index . 2 -}}
{{- $worker := eq $role "worker" -}}
{{- $webhook := eq $role "webhook" -}}
{{- with index . 0 -}}
{{- $redisSecret := include "phonicflow.redisPasswordSecretName" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "phonicflow.componentName" (list . $component) }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "phonicflow.componentLabels" (list . $component) | nindent 4 }}
spec:
  {{- if or $worker $webhook }}
  {{- if $webhook }}
  replicas: {{ .Values.webhook.replicaCount }}
  {{- else if not .Values.worker.autoscaling.enabled }}
  replicas: {{ .Values.worker.replicaCount }}
  {{- end }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  {{- else }}
  # One getUpdates consumer per token: a second poller gets 409 Conflict, so exactly one replica,
  # and Recreate so the old pod is gone before the new one starts polling.
  replicas: {{ .Values.bot.replicaCount }}
  strategy:
    type: Recreate
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "phonicflow.selectorLabels" (list . $component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "phonicflow.selectorLabels" (list . $component) | nindent 8 }}
        {{- with .Values.bot.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include (print .Template.BasePath "/bot/configmap.yaml") . | sha256sum }}
        checksum/secret: {{ include "phonicflow.secretChecksum" (concat (list . "telegram-token" "bot-private-key" "redis-password") (ternary (list "webhook-secret") list $webhook)) }}
        {{- include "phonicflow.scrapeAnnotations" (list . .Values.bot.healthPort) | nindent 8 }}
        {{- with .Values.bot.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "phonicflow.podCommon" (list . $component) | nindent 6 }}
      terminationGracePeriodSeconds: {{ .Values.bot.terminationGracePeriodSeconds }}
      containers:
        - name: bot
          image: {{ include "phonicflow.image" (list . .Values.bot.image) }}
          imagePullPolicy: {{ .Values.bot.image.pullPolicy }}
          securityContext:
            {{- include "phonicflow.containerSecurityContext" (list . $component) | nindent 12 }}
          ports:
            - name: http
              containerPort: {{ .Values.bot.healthPort }}
              protocol: TCP
            {{- if $webhook }}
            - name: webhook
              containerPort: {{ .Values.webhook.port }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "phonicflow.componentName" (list . "bot") }}
          env:
            - name: BOT_ROLE
              value: {{ $role }}
            # Secrets as files: nothing secret in the pod spec or `kubectl describe`
            - name: TELEGRAM_BOT_TOKEN_FILE
              value: /var/run/secrets/phonicflow/telegram/token
            - name: BOT_PRIVATE_KEY_FILE
              value: /var/run/secrets/phonicflow/bot-key/key
            {{- if $webhook }}
            # setWebhook registers this URL; its path is the one the receiver serves
            - name: BOT_WEBHOOK_URL
              value: {{ .Values.webhook.publicUrl | quote }}
            - name: BOT_WEBHOOK_PORT
              value: {{ .Values.webhook.port | quote }}
            - name: BOT_WEBHOOK_SECRET_FILE
              value: /var/run/secrets/phonicflow/webhook/secret
            {{- end }}
            {{- if $redisSecret }}
            # The bot reads only REDIS_URL; the kubelet splices the password in from the Secret
            - name: REDIS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $redisSecret }}
                  key: {{ include "phonicflow.redisPasswordSecretKey" . }}
            - name: REDIS_URL
              value: {{ regexReplaceAll "^(rediss?://)" (include "phonicflow.redisUrl" .) "${1}:$(REDIS_PASSWORD)@" | quote }}
            {{- else }}
            - name: REDIS_URL
              value: {{ include "phonicflow.redisUrl" . | quote }}
            {{- end }}
            {{- include "phonicflow.otelEnv" (list . "phonicflow-bot") | nindent 12 }}
            {{- with .Values.bot.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 20
            timeoutSeconds: 5
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          resources:
            {{- toYaml (index .Values (ternary "worker" (ternary "webhook" "bot" $webhook) $worker)).resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: telegram-token
              mountPath: /var/run/secrets/phonicflow/telegram
              readOnly: true
            - name: bot-key
              mountPath: /var/run/secrets/phonicflow/bot-key
              readOnly: true
            {{- if $webhook }}
            - name: webhook-secret
              mountPath: /var/run/secrets/phonicflow/webhook
              readOnly: true
            {{- end }}
      volumes:
        {{- include "phonicflow.tmpVolume" . | nindent 8 }}
        - name: telegram-token
          secret:
            secretName: {{ include "phonicflow.telegramSecretName" . }}
            defaultMode: 0440
            items:
              - key: {{ include "phonicflow.telegramSecretKey" . }}
                path: token
        - name: bot-key
          secret:
            secretName: {{ include "phonicflow.botKeySecretName" . }}
            defaultMode: 0440
            items:
              - key: {{ include "phonicflow.botKeySecretKey" . }}
                path: key
        {{- if $webhook }}
        - name: webhook-secret
          secret:
            secretName: {{ include "phonicflow.webhookSecretName" . }}
            defaultMode: 0440
            items:
              - key: {{ include "phonicflow.webhookSecretKey" . }}
                path: secret
        {{- end }}
{{- end }}
{{- end -}}
