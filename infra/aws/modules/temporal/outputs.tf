output "app_environment" {
  description = "Plain Temporal settings of the API and workers (AGENT_RUNTIME_TEMPORAL_ADDRESS, _NAMESPACE, _TLS)."
  value       = local.app_environment
}

output "app_secrets" {
  description = "Temporal Cloud credentials of the API and workers: env var → valueFrom (empty when self-hosted)."
  value       = local.app_secrets
}

output "address" {
  description = "host:port of the Temporal frontend the platform uses."
  value       = local.app_environment.AGENT_RUNTIME_TEMPORAL_ADDRESS
}

output "namespace" {
  description = "Temporal namespace of the platform."
  value       = var.namespace
}

output "cloud_secret_arn" {
  description = "Secret to put the Temporal Cloud API key (or JSON {tls_client_cert, tls_client_key}) into; null when self-hosted."
  value       = try(aws_secretsmanager_secret.cloud[0].arn, null)
}

output "ui_url" {
  description = "URL of the Temporal Web UI (null without it)."
  value       = local.ui ? "https://${var.ui_hostname}" : null
}

output "search_attributes_command_args" {
  description = "Arguments of `temporal operator search-attribute create` registering the platform's search attributes (TenantId, AgentId, RunStatus: Keyword)."
  value = [
    "temporal", "operator", "search-attribute", "create",
    "--address", local.app_environment.AGENT_RUNTIME_TEMPORAL_ADDRESS,
    "--namespace", var.namespace,
    "--name", "TenantId", "--type", "Keyword",
    "--name", "AgentId", "--type", "Keyword",
    "--name", "RunStatus", "--type", "Keyword",
  ]
}
