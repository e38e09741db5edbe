# Remote state in S3 (created once by infra/aws/bootstrap), encrypted with its KMS key, locked
# with its DynamoDB table. Partial configuration: each environment's bucket, key, table and key
# come from envs/<env>.s3.tfbackend:
#   tofu init -backend-config=envs/dev.s3.tfbackend
# (With OpenTofu >= 1.10 you may replace dynamodb_table by `use_lockfile = true` in the
# .s3.tfbackend file; the bootstrap's table is then unused.)
terraform {
  backend "s3" {}
}
