{{- define "kr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kr.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kr.labels" -}}
{{ include "kr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .Values.mode }}
app.kubernetes.io/part-of: kyverno-runtime
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "kr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kr.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "kr.commonArgs" -}}
- cluster
- --mode={{ .Values.mode }}
- --namespace={{ .Release.Namespace }}
- --report-api={{ .Values.reports.api }}
- --report-interval={{ .Values.reports.intervalSeconds }}
- --report-max-results={{ .Values.reports.maxResults }}
- --protected-namespaces={{ include "kr.protectedNamespaces" . }}
- --api-qps={{ .Values.actions.apiQps }}
- --api-burst={{ .Values.actions.apiBurst }}
- --policy-action-rate={{ .Values.actions.policyActionRate }}
- --policy-action-burst={{ .Values.actions.policyActionBurst }}
- --dedup-window={{ .Values.actions.dedupWindowSeconds }}
{{- if .Values.actions.webhookAllow }}
- --webhook-allow={{ join "," .Values.actions.webhookAllow }}
{{- end }}
- --health-probe-bind-address=:{{ .Values.health.port }}
- --metrics-bind-address=:{{ .Values.metrics.port }}
- --log-level={{ .Values.logLevel }}
{{- if not .Values.reports.enabled }}
- --no-reports
{{- end }}
{{- if .Values.actions.dryRun }}
- --dry-run
{{- end }}
{{- if include "kr.leaderElection" . }}
- --leader-elect
{{- end }}
{{- end -}}

{{/* Only replicated Deployments need a leader (policy status): a DaemonSet never polls a Lease. */}}
{{- define "kr.leaderElection" -}}
{{- if and .Values.leaderElection.enabled (eq .Values.mode "deployment") (gt (int .Values.replicaCount) 1) -}}
true
{{- end -}}
{{- end -}}

{{- define "kr.protectedNamespaces" -}}
{{- $ns := .Values.actions.protectedNamespaces -}}
{{- if and .Values.actions.protectOwnNamespace (not (has .Release.Namespace $ns)) -}}
{{- $ns = append $ns .Release.Namespace -}}
{{- end -}}
{{- join "," $ns -}}
{{- end -}}

{{- define "kr.podSecurityLevel" -}}
{{- if .Values.namespace.podSecurityEnforce -}}
{{- .Values.namespace.podSecurityEnforce -}}
{{- else if eq .Values.mode "daemonset" -}}
privileged
{{- else -}}
restricted
{{- end -}}
{{- end -}}

{{- define "kr.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: health
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: health
  periodSeconds: 5
startupProbe:
  httpGet:
    path: /healthz
    port: health
  failureThreshold: 30
  periodSeconds: 2
{{- end -}}

{{- define "kr.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- if .Values.nodeOptions }}
- name: NODE_OPTIONS
  value: {{ .Values.nodeOptions | quote }}
{{- end }}
{{- if .Values.v8Flags }}
- name: KYVERNO_RUNTIME_V8_FLAGS
  value: {{ .Values.v8Flags | quote }}
{{- end }}
{{- if .Values.mallocArenaMax }}
- name: MALLOC_ARENA_MAX
  value: {{ .Values.mallocArenaMax | quote }}
{{- end }}
{{- if .Values.mallocThresholdBytes }}
- name: MALLOC_TRIM_THRESHOLD_
  value: {{ .Values.mallocThresholdBytes | quote }}
- name: MALLOC_MMAP_THRESHOLD_
  value: {{ .Values.mallocThresholdBytes | quote }}
{{- end }}
{{- end -}}
