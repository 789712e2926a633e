{{/* Chart name, overridable. */}}
{{- define "aws-invite-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it contains the chart name. */}}
{{- define "aws-invite-operator.fullname" -}}
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

{{- define "aws-invite-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "aws-invite-operator.labels" -}}
helm.sh/chart: {{ include "aws-invite-operator.chart" . }}
{{ include "aws-invite-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels selecting the operator's pods. */}}
{{- define "aws-invite-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aws-invite-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "aws-invite-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aws-invite-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aws-invite-operator.leaseName" -}}
{{- default (include "aws-invite-operator.fullname" .) .Values.operator.leaderElection.leaseName }}
{{- end }}

{{- define "aws-invite-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The one namespace credentials Secrets are read from (default: the release namespace).
*/}}
{{- define "aws-invite-operator.credentialsNamespace" -}}
{{- default .Release.Namespace .Values.operator.credentialsNamespace }}
{{- end }}
