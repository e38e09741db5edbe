output "kms_key_arn" {
  description = "KMS key encrypting the platform's secrets (the task execution role may decrypt with it)."
  value       = aws_kms_key.secrets.arn
}

output "app_secrets" {
  description = "Secret environment of the API and workers: env var name → Secrets Manager valueFrom (ARN, or ARN:jsonkey::)."
  value       = local.app_secrets
}

output "secret_arns" {
  description = "ARNs of every secret of this module (what the task execution role may read)."
  value = concat(
    [
      aws_secretsmanager_secret.redis_url.arn,
      aws_secretsmanager_secret.payload_keys.arn,
      aws_secretsmanager_secret.secrets_keys.arn,
    ],
    [for s in aws_secretsmanager_secret.provider : s.arn],
    aws_secretsmanager_secret.otlp_authorization[*].arn,
  )
}

output "provider_secret_arns" {
  description = "Model provider API key secrets (provider → ARN) to fill with `aws secretsmanager put-secret-value`."
  value       = { for p, s in aws_secretsmanager_secret.provider : p => s.arn }
}

output "otlp_authorization_secret_arn" {
  description = "Secret holding the OTLP endpoint's Authorization header (null when not used)."
  value       = try(aws_secretsmanager_secret.otlp_authorization[0].arn, null)
}
