variable "name_prefix" {
  type        = string
  description = "Prefix of every AWS name; secrets are named `<name_prefix>/<secret>`."
}

variable "model_providers" {
  type        = list(string)
  description = "Model providers whose API key secret is created and injected into the API and workers (`openai`, `anthropic`). Each is created with a placeholder: put the real key with `aws secretsmanager put-secret-value`."
  default     = []

  validation {
    condition     = alltrue([for p in var.model_providers : contains(["openai", "anthropic"], p)])
    error_message = "model_providers may contain `openai` and `anthropic`."
  }
}

variable "redis_host" {
  type        = string
  description = "Primary endpoint host of the Valkey/Redis replication group."
}

variable "redis_port" {
  type        = number
  description = "Port of the Valkey/Redis replication group."
}

variable "redis_auth_token" {
  type        = string
  description = "AUTH token of the replication group, put into the rediss:// URL secret."
  sensitive   = true
}

variable "temporal_payload_key_ids" {
  type        = list(string)
  description = "Ids of the Temporal payload encryption keys (AES-256, generated). Add an id to rotate, keep retired ids while histories written with them exist."
  default     = ["k1"]

  validation {
    condition     = length(var.temporal_payload_key_ids) >= 1 && alltrue([for k in var.temporal_payload_key_ids : can(regex("^[A-Za-z0-9_.-]{1,100}$", k))])
    error_message = "temporal_payload_key_ids: at least one id of 1-100 letters, digits, '_', '.' or '-'."
  }
}

variable "temporal_payload_active_key_id" {
  type        = string
  description = "The payload key new payloads are encrypted with (one of temporal_payload_key_ids)."
  default     = "k1"
}

variable "secrets_key_ids" {
  type        = list(string)
  description = "Ids of the key-encryption keys of tenants' tool secrets (AES-256, generated). Add an id to rotate; keep retired ids until every secret was re-wrapped."
  default     = ["k1"]

  validation {
    condition     = length(var.secrets_key_ids) >= 1 && alltrue([for k in var.secrets_key_ids : can(regex("^[A-Za-z0-9_.-]{1,100}$", k))])
    error_message = "secrets_key_ids: at least one id of 1-100 letters, digits, '_', '.' or '-'."
  }
}

variable "secrets_active_key_id" {
  type        = string
  description = "The tool-secret key new secrets are wrapped with (one of secrets_key_ids)."
  default     = "k1"
}

variable "otlp_auth_header" {
  type        = bool
  description = "Create the `otlp-authorization` secret (Authorization header of the OTLP endpoint, e.g. Langfuse's `Basic <base64 pk:sk>`), injected into the ADOT collectors."
  default     = false
}

variable "recovery_window_days" {
  type        = number
  description = "Days a deleted secret can still be restored (0 deletes at once; 7-30 otherwise)."
  default     = 7

  validation {
    condition     = var.recovery_window_days == 0 || (var.recovery_window_days >= 7 && var.recovery_window_days <= 30)
    error_message = "recovery_window_days is 0 or 7-30."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
