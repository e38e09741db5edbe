output "log_group_names" {
  description = "CloudWatch log group name per service (keys: api, worker, kong, migrate, keycloak, temporal, temporal-ui, vpc-flow-logs, emf)."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "log_group_arns" {
  description = "CloudWatch log group ARN per service."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.arn }
}

output "logs_kms_key_arn" {
  description = "KMS key encrypting the log groups."
  value       = aws_kms_key.logs.arn
}

output "logs_bucket_id" {
  description = "Name of the access-log bucket (ALB logs under alb/, S3 server access logs under s3/); available once its policy lets the log deliveries write."
  # Through the policy: the ALB checks it can write when access logs are enabled.
  value = aws_s3_bucket_policy.logs.bucket
}

output "emf_namespace" {
  description = "CloudWatch namespace the worker collector publishes the task-queue backlog metric in."
  value       = local.emf_namespace
}

output "emf_log_group_arn" {
  description = "Log group the awsemf exporter writes to (the worker task role may write here)."
  value       = aws_cloudwatch_log_group.this["emf"].arn
}

output "amp_workspace_arn" {
  description = "ARN of the Amazon Managed Prometheus workspace (null when disabled)."
  value       = try(aws_prometheus_workspace.this[0].arn, null)
}

output "amp_remote_write_url" {
  description = "Remote-write URL of the AMP workspace (empty when disabled)."
  value       = local.amp_remote_write_url
}

output "adot_config_api" {
  description = "Collector configuration (YAML) of the API task's ADOT sidecar."
  value       = local.adot_config_api
}

output "adot_config_worker" {
  description = "Collector configuration (YAML) of the worker task's ADOT sidecar."
  value       = local.adot_config_worker
}

output "api_collector_enabled" {
  description = "Whether the API task needs a collector (traces or AMP configured)."
  value       = var.otlp_endpoint != "" || var.amp_workspace_enabled
}

output "tracing_enabled" {
  description = "Whether traces are exported (the applications then send OTLP to their sidecar)."
  value       = var.otlp_endpoint != ""
}
