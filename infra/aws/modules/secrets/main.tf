# Application secrets in Secrets Manager, encrypted with their own KMS key. The services receive
# them as ECS `secrets` (valueFrom), never as plain environment values:
#   AGENT_RUNTIME_REDIS_URL                  rediss://:<token>@<host>:<port>/0
#   AGENT_RUNTIME_TEMPORAL_PAYLOAD_KEYS      {"<id>": "<base64 32 bytes>", ...}   (JSON key `keys`)
#   AGENT_RUNTIME_TEMPORAL_PAYLOAD_ACTIVE_KEY_ID                                  (JSON key `active_key_id`)
#   AGENT_RUNTIME_SECRETS_KEYS / AGENT_RUNTIME_SECRETS_ACTIVE_KEY_ID            (the same, tool secrets)
#   AGENT_RUNTIME_OPENAI_API_KEY, AGENT_RUNTIME_ANTHROPIC_API_KEY               (placeholders, set by hand)
# Generated keys live in the (KMS-encrypted, access-controlled) state too; provider keys never do.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  provider_env = {
    openai    = "AGENT_RUNTIME_OPENAI_API_KEY"
    anthropic = "AGENT_RUNTIME_ANTHROPIC_API_KEY"
  }
  placeholder = "REPLACE_ME: aws secretsmanager put-secret-value --secret-id <this secret> --secret-string <value>"
}

resource "aws_kms_key" "secrets" {
  description             = "${var.name_prefix}: Secrets Manager secrets of the platform"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  # IAM policies (the task execution roles') grant its use; Resource "*" in a key policy means this key.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      }
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${var.name_prefix}-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

# ---------------------------------------------------------------------------------------------
# Redis URL (with the AUTH token).

resource "aws_secretsmanager_secret" "redis_url" {
  # checkov:skip=CKV2_AWS_57: the AUTH token is rotated by changing random_password in the data module (ElastiCache ROTATE strategy), not by a rotation Lambda
  name                    = "${var.name_prefix}/redis-url"
  description             = "rediss:// URL of the Valkey/Redis replication group, with its AUTH token (AGENT_RUNTIME_REDIS_URL)."
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id     = aws_secretsmanager_secret.redis_url.id
  secret_string = "rediss://:${var.redis_auth_token}@${var.redis_host}:${var.redis_port}/0"
}

# ---------------------------------------------------------------------------------------------
# Temporal payload encryption keys and tool-secret key-encryption keys (AES-256, generated).

resource "random_bytes" "payload_key" {
  for_each = toset(var.temporal_payload_key_ids)
  length   = 32
}

resource "random_bytes" "secrets_key" {
  for_each = toset(var.secrets_key_ids)
  length   = 32
}

resource "aws_secretsmanager_secret" "payload_keys" {
  # checkov:skip=CKV2_AWS_57: payload keys are rotated by adding a key id (old payloads must stay readable), not by a rotation Lambda
  name                    = "${var.name_prefix}/temporal-payload-keys"
  description             = "Temporal payload encryption keys: JSON keys `keys` (AGENT_RUNTIME_TEMPORAL_PAYLOAD_KEYS) and `active_key_id`."
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "payload_keys" {
  secret_id = aws_secretsmanager_secret.payload_keys.id
  secret_string = jsonencode({
    keys          = jsonencode({ for id, k in random_bytes.payload_key : id => k.base64 })
    active_key_id = var.temporal_payload_active_key_id
  })

  lifecycle {
    precondition {
      condition     = contains(var.temporal_payload_key_ids, var.temporal_payload_active_key_id)
      error_message = "temporal_payload_active_key_id must be one of temporal_payload_key_ids."
    }
  }
}

resource "aws_secretsmanager_secret" "secrets_keys" {
  # checkov:skip=CKV2_AWS_57: key-encryption keys are rotated by adding a key id and re-wrapping, not by a rotation Lambda
  name                    = "${var.name_prefix}/tool-secrets-keys"
  description             = "Key-encryption keys of tenants' tool secrets: JSON keys `keys` (AGENT_RUNTIME_SECRETS_KEYS) and `active_key_id`."
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "secrets_keys" {
  secret_id = aws_secretsmanager_secret.secrets_keys.id
  secret_string = jsonencode({
    keys          = jsonencode({ for id, k in random_bytes.secrets_key : id => k.base64 })
    active_key_id = var.secrets_active_key_id
  })

  lifecycle {
    precondition {
      condition     = contains(var.secrets_key_ids, var.secrets_active_key_id)
      error_message = "secrets_active_key_id must be one of secrets_key_ids."
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Values only a human has: created with a placeholder, then set out of band; tofu never reads
# or overwrites them afterwards.

resource "aws_secretsmanager_secret" "provider" {
  # checkov:skip=CKV2_AWS_57: model provider API keys are issued by the provider; rotate them there and put the new value
  for_each = toset(var.model_providers)

  name                    = "${var.name_prefix}/${each.value}-api-key"
  description             = "API key of ${each.value} (${local.provider_env[each.value]}); set it with put-secret-value."
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "provider" {
  for_each = aws_secretsmanager_secret.provider

  secret_id     = each.value.id
  secret_string = local.placeholder

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "otlp_authorization" {
  # checkov:skip=CKV2_AWS_57: the OTLP endpoint's credentials are issued by its operator (e.g. Langfuse project keys), not rotatable by a Lambda here
  count = var.otlp_auth_header ? 1 : 0

  name                    = "${var.name_prefix}/otlp-authorization"
  description             = "Authorization header value of the OTLP trace endpoint (e.g. `Basic <base64 public:secret>` for Langfuse)."
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "otlp_authorization" {
  count = var.otlp_auth_header ? 1 : 0

  secret_id     = aws_secretsmanager_secret.otlp_authorization[0].id
  secret_string = local.placeholder

  lifecycle {
    ignore_changes = [secret_string]
  }
}

locals {
  # Env var → valueFrom, as the api and worker containers receive them.
  app_secrets = merge(
    {
      AGENT_RUNTIME_REDIS_URL                      = aws_secretsmanager_secret.redis_url.arn
      AGENT_RUNTIME_TEMPORAL_PAYLOAD_KEYS          = "${aws_secretsmanager_secret.payload_keys.arn}:keys::"
      AGENT_RUNTIME_TEMPORAL_PAYLOAD_ACTIVE_KEY_ID = "${aws_secretsmanager_secret.payload_keys.arn}:active_key_id::"
      AGENT_RUNTIME_SECRETS_KEYS                   = "${aws_secretsmanager_secret.secrets_keys.arn}:keys::"
      AGENT_RUNTIME_SECRETS_ACTIVE_KEY_ID          = "${aws_secretsmanager_secret.secrets_keys.arn}:active_key_id::"
    },
    { for p, s in aws_secretsmanager_secret.provider : local.provider_env[p] => s.arn },
  )
}
