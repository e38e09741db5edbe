output "kms_key_arn" {
  description = "Customer managed KMS key of RDS, ElastiCache, the artifacts bucket and the RDS master secret."
  value       = aws_kms_key.data.arn
}

output "db_instance_id" {
  description = "Identifier of the RDS instance."
  value       = aws_db_instance.this.identifier
}

output "db_address" {
  description = "Host name of the PostgreSQL instance."
  value       = aws_db_instance.this.address
}

output "db_port" {
  description = "Port of the PostgreSQL instance."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "Database of the platform."
  value       = aws_db_instance.this.db_name
}

output "db_username" {
  description = "Master user name (its password is in `db_master_secret_arn`, key `password`)."
  value       = aws_db_instance.this.username
}

output "db_master_secret_arn" {
  description = "ARN of the RDS-managed Secrets Manager secret holding the master user's `username` and `password`."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "db_resource_id" {
  description = "Resource id of the RDS instance (for rds-db:connect IAM authentication policies)."
  value       = aws_db_instance.this.resource_id
}

output "redis_primary_endpoint" {
  description = "Primary endpoint host of the replication group."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "redis_port" {
  description = "Port of the replication group."
  value       = aws_elasticache_replication_group.this.port
}

output "redis_auth_token" {
  description = "AUTH token of the replication group (stored in Secrets Manager by the secrets module)."
  value       = random_password.redis_auth.result
  sensitive   = true
}

output "bucket_name" {
  description = "Bucket of artifacts (tenants/...) and offloaded Temporal payloads (v0/...)."
  value       = aws_s3_bucket.artifacts.id
}

output "bucket_arn" {
  description = "ARN of the artifacts/payloads bucket."
  value       = aws_s3_bucket.artifacts.arn
}
