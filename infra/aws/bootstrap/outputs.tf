output "state_bucket" {
  description = "S3 bucket of the OpenTofu state: `bucket` in envs/<env>.s3.tfbackend."
  value       = aws_s3_bucket.state.id
}

output "lock_table" {
  description = "DynamoDB lock table: `dynamodb_table` in envs/<env>.s3.tfbackend."
  value       = aws_dynamodb_table.lock.name
}

output "kms_key_arn" {
  description = "KMS key encrypting the state: `kms_key_id` in envs/<env>.s3.tfbackend."
  value       = aws_kms_key.state.arn
}

output "region" {
  description = "Region of the state bucket: `region` in envs/<env>.s3.tfbackend."
  value       = var.aws_region
}
