{{/*
The chart name, or nameOverride.
*/}}
{{- define "pbx-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name that prefixes every object name: fullnameOverride, else the release name if it contains
the chart name, else "<release>-<chart name>". With the release name pbx-operator, the objects get the
same names as with config/default (kustomize's namePrefix "pbx-operator-").
*/}}
{{- define "pbx-operator.fullname" -}}
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

{{/*
The name of the manager's Deployment (and default ServiceAccount name).
*/}}
{{- define "pbx-operator.managerName" -}}
{{- printf "%s-controller-manager" (include "pbx-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of the metrics Service (a DNS label: at most 63 characters).
*/}}
{{- define "pbx-operator.metricsServiceName" -}}
{{- printf "%s-controller-manager-metrics-service" (include "pbx-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The chart name and version, for the helm.sh/chart label.
*/}}
{{- define "pbx-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels of every object.
*/}}
{{- define "pbx-operator.labels" -}}
helm.sh/chart: {{ include "pbx-operator.chart" . }}
{{ include "pbx-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: controller-manager
app.kubernetes.io/part-of: pbx-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The labels that select the manager pods.
*/}}
{{- define "pbx-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pbx-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The name of the manager's ServiceAccount.
*/}}
{{- define "pbx-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pbx-operator.managerName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The manager's image reference: repository@digest when image.digest is set, else repository:tag.
*/}}
{{- define "pbx-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Whether the chart renders the CRDs (crds.enabled): "true" or empty. The CRD templates ask it first,
so it is also where values without the crds block fail, with what to do: that is how 'helm upgrade
--reuse-values' from 0.1.0 arrives (it reuses the old chart's defaults, which lack this chart's).
*/}}
{{- define "pbx-operator.crdsEnabled" -}}
{{- if not (hasKey .Values "crds") }}
{{- fail "the values have no crds block: 'helm upgrade --reuse-values' reuses the values of the installed chart's version, which lacks this version's values; upgrade with --reset-then-reuse-values (Helm 3.14 or later) or pass your values with -f (docs/upgrading.md)" }}
{{- end }}
{{- if .Values.crds.enabled }}true{{ end }}
{{- end }}

{{/*
The ServiceAccount as an RBAC subject.
*/}}
{{- define "pbx-operator.subject" -}}
- kind: ServiceAccount
  name: {{ include "pbx-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
Checks of combinations of values that the schema cannot express; rendered (as nothing) by
deployment.yaml so that a bad combination fails the install instead of a running manager.
*/}}
{{- define "pbx-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount above 1 requires leaderElection.enabled: without it every replica reconciles and they fight over the same PBX objects" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled requires metrics.enabled" }}
{{- end }}
{{- with .Values.podDisruptionBudget }}
{{- if and .enabled (eq (toString .minAvailable) "") (eq (toString .maxUnavailable) "") }}
{{- fail "podDisruptionBudget.enabled needs podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable" }}
{{- end }}
{{- end }}
{{- if and (include "pbx-operator.chartMetricsScraper" .) (ne .Values.metrics.serviceMonitor.authorization.credentials.key "token") }}
{{- fail "metrics.serviceMonitor.authorization.credentials.key must be token when the chart makes the token Secret (credentials.name empty): Kubernetes writes the token under that key" }}
{{- end }}
{{- end }}

{{/*
The Secret with the metrics server's certificate (tls.crt, tls.key, ca.crt): metrics.tls.secretName,
or the one cert-manager issues, or, for a ServiceMonitor without either, the one the chart makes
(metrics-cert-secret.yaml), so that Prometheus always has a CA to verify against. Empty when the
manager makes a self-signed one (no ServiceMonitor: nobody verifies it).
*/}}
{{- define "pbx-operator.metricsCertSecret" -}}
{{- if .Values.metrics.tls.secretName }}
{{- .Values.metrics.tls.secretName }}
{{- else if or .Values.metrics.tls.certManager.enabled .Values.metrics.serviceMonitor.enabled }}
{{- include "pbx-operator.fullname" . }}-metrics-cert
{{- end }}
{{- end }}

{{/*
Whether the chart makes the metrics certificate itself: a ServiceMonitor, and no certificate of
the user's or of cert-manager.
*/}}
{{- define "pbx-operator.chartMetricsCert" -}}
{{- if and .Values.metrics.enabled .Values.metrics.serviceMonitor.enabled (not .Values.metrics.tls.secretName) (not .Values.metrics.tls.certManager.enabled) }}true{{ end }}
{{- end }}

{{/*
Whether the chart makes the identity Prometheus scrapes with (metrics-scraper.yaml): a
ServiceMonitor with authorization and no Secret of the user's, and no deprecated bearerTokenFile.
*/}}
{{- define "pbx-operator.chartMetricsScraper" -}}
{{- with .Values.metrics.serviceMonitor }}
{{- if and $.Values.metrics.enabled .enabled .authorization.enabled (not .bearerTokenFile) (not .authorization.credentials.name) }}true{{ end }}
{{- end }}
{{- end }}

{{/*
The name of the scraper's ServiceAccount, and of its token Secret with the suffix -token.
*/}}
{{- define "pbx-operator.metricsScraperName" -}}
{{- printf "%s-metrics-scraper" (include "pbx-operator.fullname" .) | trunc 57 | trimSuffix "-" }}
{{- end }}

{{/*
The Secret with the token the ServiceMonitor sends: the user's, or the scraper's token Secret.
*/}}
{{- define "pbx-operator.metricsTokenSecret" -}}
{{- .Values.metrics.serviceMonitor.authorization.credentials.name | default (printf "%s-token" (include "pbx-operator.metricsScraperName" .)) }}
{{- end }}
