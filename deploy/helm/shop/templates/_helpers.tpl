{{/*
The shop's services, as lib/config.ts names them (test/integration/helm-chart.test.ts keeps the
three lists equal to SERVICE_NAMES, DB_SERVICES and EVENT_SERVICES).
*/}}
{{- define "shop.serviceNames" -}}api users products baskets orders payments notifications{{- end -}}
{{- define "shop.dbServices" -}}users products orders payments notifications{{- end -}}
{{- define "shop.eventServices" -}}products baskets orders payments notifications{{- end -}}

{{- define "shop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "shop.fullname" -}}
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

{{- define "shop.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "shop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "shop.labels" -}}
helm.sh/chart: {{ include "shop.chart" . }}
{{ include "shop.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: moleculer-shop
{{- end }}

{{/* Labels of one Deployment's pods: call with (dict "root" $ "name" $name). */}}
{{- define "shop.componentSelectorLabels" -}}
{{ include "shop.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "shop.componentLabels" -}}
{{ include "shop.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "shop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shop.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "shop.secretName" -}}
{{- default (printf "%s-secrets" (include "shop.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "shop.configMapName" -}}
{{- printf "%s-config" (include "shop.fullname" .) }}
{{- end }}

{{- define "shop.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Deep merge of two maps where the second one wins, false, 0 and "" included (sprig's
mergeOverwrite keeps the first map's value when the second one's is empty). Lists are replaced,
not merged. Returns JSON: call with (dict "base" $a "over" $b).
*/}}
{{- define "shop.merge" -}}
{{- $out := deepCopy .base -}}
{{- range $key, $value := .over -}}
{{- $current := get $out $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $current) -}}
{{- $_ := set $out $key (include "shop.merge" (dict "base" $current "over" $value) | fromJson) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The enabled Deployments, each merged over deploymentDefaults and given the facts the templates
need, as JSON: {name: {...values, name, isGateway, dbServices, eventServices, needsDataDir}}.
*/}}
{{- define "shop.deployments" -}}
{{- $root := . -}}
{{- $out := dict -}}
{{- $db := splitList " " (include "shop.dbServices" .) -}}
{{- $ev := splitList " " (include "shop.eventServices" .) -}}
{{- range $name, $values := .Values.deployments -}}
{{- if $values -}}
{{- $d := include "shop.merge" (dict "base" $root.Values.deploymentDefaults "over" $values) | fromJson -}}
{{- if $d.enabled -}}
{{- $services := $d.services | default list -}}
{{- $dbHere := list -}}
{{- range $db }}{{ if has . $services }}{{ $dbHere = append $dbHere . }}{{ end }}{{ end -}}
{{- $evHere := list -}}
{{- range $ev }}{{ if has . $services }}{{ $evHere = append $evHere . }}{{ end }}{{ end -}}
{{- $_ := set $d "name" $name -}}
{{- $_ := set $d "isGateway" (has "api" $services) -}}
{{- $_ := set $d "dbServices" $dbHere -}}
{{- $_ := set $d "eventServices" $evHere -}}
{{- $_ := set $d "needsDataDir" (and (gt (len $dbHere) 0) (not $root.Values.servers.databases.enabled)) -}}
{{- $_ := set $out $name $d -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The values that cannot be checked by values.schema.json alone, because they relate several
values to each other; the same rules lib/config.ts applies at start, so that a bad layout fails
at `helm install`, not in a crash loop.
*/}}
{{- define "shop.validate" -}}
{{- $deployments := include "shop.deployments" . | fromJson -}}
{{- $all := splitList " " (include "shop.serviceNames" .) -}}
{{- $ev := splitList " " (include "shop.eventServices" .) -}}
{{- if eq (len $deployments) 0 -}}
{{- fail "deployments: no Deployment is enabled" -}}
{{- end -}}
{{- $deployed := list -}}
{{- $gateways := list -}}
{{- range $name, $d := $deployments -}}
{{- $deployed = concat $deployed $d.services -}}
{{- if $d.isGateway }}{{ $gateways = append $gateways $name }}{{ end -}}
{{- if and (not $.Values.servers.databases.enabled) (gt (len $d.dbServices) 0) (or (gt (int $d.replicas) 1) $d.autoscaling.enabled) -}}
{{- fail (printf "deployments.%s runs %s on SQLite (servers.databases.enabled is false): one replica only, without autoscaling" $name (join ", " $d.dbServices)) -}}
{{- end -}}
{{- if and $d.autoscaling.enabled (gt (int $d.autoscaling.minReplicas) (int $d.autoscaling.maxReplicas)) -}}
{{- fail (printf "deployments.%s.autoscaling: minReplicas (%d) is above maxReplicas (%d)" $name (int $d.autoscaling.minReplicas) (int $d.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- /* SIGTERM: preStop sleep, then the broker lets in-flight requests finish (SHUTDOWN_TIMEOUT_MS, 10 s by default) and disconnects. */ -}}
{{- $drain := div (add (int (default "10000" (index (merge (dict) $d.env $.Values.config.env) "SHUTDOWN_TIMEOUT_MS"))) 999) 1000 -}}
{{- if le (int $d.terminationGracePeriodSeconds) (add (int $d.preStopSleepSeconds) $drain) -}}
{{- fail (printf "deployments.%s: terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds (%d) + %d s of draining (SHUTDOWN_TIMEOUT_MS)" $name (int $d.terminationGracePeriodSeconds) (int $d.preStopSleepSeconds) $drain) -}}
{{- end -}}
{{- if and $.Values.servers.nats.enabled (not $.Values.servers.kafka.enabled) (gt (len $d.eventServices) 0) (lt (len $d.eventServices) (len $ev)) -}}
{{- $elsewhere := list -}}
{{- range $ev }}{{ if not (has . $d.eventServices) }}{{ $elsewhere = append $elsewhere . }}{{ end }}{{ end -}}
{{- fail (printf "servers.kafka.enabled is false, but deployments.%s runs %s without %s: integration events between nodes travel only through Kafka" $name (join ", " $d.eventServices) (join ", " $elsewhere)) -}}
{{- end -}}
{{- end -}}
{{- if not .Values.servers.databases.enabled -}}
{{- $owners := dict -}}
{{- range $name, $d := $deployments -}}
{{- range $d.dbServices -}}
{{- if hasKey $owners . -}}
{{- fail (printf "servers.databases.enabled is false: the %s SQLite file belongs to one Deployment, but deployments.%s and deployments.%s both run %s" . (get $owners .) $name .) -}}
{{- end -}}
{{- $_ := set $owners . $name -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $all -}}
{{- if not (has . $deployed) -}}
{{- fail (printf "deployments: no enabled Deployment runs the %q service" .) -}}
{{- end -}}
{{- end -}}
{{- if eq (int .Values.ports.http) (int .Values.ports.metrics) -}}
{{- fail "ports.http and ports.metrics must differ" -}}
{{- end -}}
{{- if ne (len $gateways) 1 -}}
{{- fail (printf "deployments: exactly one enabled Deployment must run \"api\" (the gateway), found %d: %s" (len $gateways) (join ", " $gateways)) -}}
{{- end -}}
{{- if not .Values.servers.nats.enabled -}}
{{- $only := first (values $deployments) -}}
{{- if or (gt (len $deployments) 1) (gt (int $only.replicas) 1) $only.autoscaling.enabled -}}
{{- fail "servers.nats.enabled is false (embedded: every service in one process): exactly one Deployment, one replica, no autoscaling" -}}
{{- end -}}
{{- end -}}
{{- if not .Values.secrets.existingSecret -}}
{{- if and .Values.secrets.jwtSecret (lt (len .Values.secrets.jwtSecret) 32) -}}
{{- fail "secrets.jwtSecret must be at least 32 characters" -}}
{{- end -}}
{{- if ne (empty .Values.secrets.adminEmail) (empty .Values.secrets.adminPassword) -}}
{{- fail "secrets.adminEmail and secrets.adminPassword go together" -}}
{{- end -}}
{{- if and (eq .Values.payments.provider "stripe") (not .Values.secrets.stripeSecretKey) -}}
{{- fail "payments.provider is stripe: set secrets.stripeSecretKey (or secrets.existingSecret)" -}}
{{- end -}}
{{- if and .Values.servers.nats.enabled (not .Values.servers.nats.url) -}}
{{- fail "servers.nats.url is empty" -}}
{{- end -}}
{{- if and .Values.servers.redis.enabled (not .Values.servers.redis.url) -}}
{{- fail "servers.redis.url is empty" -}}
{{- end -}}
{{- if .Values.servers.databases.enabled -}}
{{- range $service := splitList " " (include "shop.dbServices" .) -}}
{{- if not (get (get $.Values.servers.databases $service | default dict) "url") -}}
{{- fail (printf "servers.databases.%s.url is empty" $service) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.servers.kafka.enabled (not .Values.servers.kafka.brokers) -}}
{{- fail "servers.kafka.brokers is empty" -}}
{{- end -}}
{{- end -}}

{{/* The pod's port that answers probes and scrapes: the gateway's HTTP port, or the metrics port. */}}
{{- define "shop.probePort" -}}
{{- if .isGateway }}http{{ else }}metrics{{ end -}}
{{- end -}}

{{/* A secretKeyRef env entry: call with (dict "root" $ "name" "JWT_SECRET" "optional" true). */}}
{{- define "shop.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "shop.secretName" .root }}
      key: {{ .name }}
      optional: {{ .optional }}
{{- end -}}

{{/* NetworkPolicy egress rules for {to, ports}. */}}
{{- define "shop.egressRule" -}}
- ports:
    {{- toYaml .ports | nindent 4 }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
JWT_SECRET, base64: the one given, else the one this release's Secret already holds (upgrades keep
it), else one generated once per render (remembered so that the Secret and its checksum agree).
*/}}
{{- define "shop.jwtSecretB64" -}}
{{- if .Values.secrets.jwtSecret -}}
{{- .Values.secrets.jwtSecret | b64enc -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "shop.secretName" .) -}}
{{- if and $existing $existing.data (hasKey $existing.data "JWT_SECRET") -}}
{{- index $existing.data "JWT_SECRET" -}}
{{- else -}}
{{- if not (hasKey .Values.secrets "_generatedJwtSecret") -}}
{{- $_ := set .Values.secrets "_generatedJwtSecret" (randAlphaNum 64) -}}
{{- end -}}
{{- get .Values.secrets "_generatedJwtSecret" | b64enc -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The data of the chart's Secret (keys named like the variables, values base64). */}}
{{- define "shop.secretData" -}}
JWT_SECRET: {{ include "shop.jwtSecretB64" . | quote }}
{{- if .Values.servers.nats.enabled }}
TRANSPORTER: {{ .Values.servers.nats.url | b64enc | quote }}
{{- end }}
{{- if .Values.servers.redis.enabled }}
REDIS_URL: {{ .Values.servers.redis.url | b64enc | quote }}
{{- end }}
{{- if .Values.servers.databases.enabled }}
{{- range $service := splitList " " (include "shop.dbServices" .) }}
{{ upper $service }}_DB_URL: {{ (get $.Values.servers.databases $service).url | b64enc | quote }}
{{- end }}
{{- end }}
{{- with .Values.secrets.adminEmail }}
ADMIN_EMAIL: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.adminPassword }}
ADMIN_PASSWORD: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.stripeSecretKey }}
STRIPE_SECRET_KEY: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.stripeWebhookSecret }}
STRIPE_WEBHOOK_SECRET: {{ . | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* The data of the ConfigMap: settings every node reads. */}}
{{- define "shop.configData" -}}
NAMESPACE: {{ .Values.config.namespace | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
LOG_FORMAT: {{ .Values.config.logFormat | quote }}
PAYMENT_PROVIDER: {{ .Values.payments.provider | quote }}
{{- with .Values.payments.stripe.apiBase }}
STRIPE_API_BASE: {{ . | quote }}
{{- end }}
{{- if .Values.servers.kafka.enabled }}
KAFKA_BROKERS: {{ .Values.servers.kafka.brokers | quote }}
{{- end }}
{{- with .Values.tracing }}{{ if .otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .otlpEndpoint | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: {{ .protocol | quote }}
OTEL_TRACES_SAMPLER: {{ .sampler | quote }}
OTEL_TRACES_SAMPLER_ARG: {{ toString .samplerArg | quote }}
{{- end }}{{ end }}
{{- range $name, $value := .Values.config.env }}
{{ $name }}: {{ toString $value | quote }}
{{- end }}
{{- end -}}
