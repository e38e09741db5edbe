variable "name_prefix" {
  type        = string
  description = "Prefix of every AWS name (e.g. `agent-runtime-dev`)."
}

variable "temporal_mode" {
  type        = string
  description = "`cloud`: Temporal Cloud (namespace endpoint + credentials in Secrets Manager). `self_hosted`: a Temporal server on ECS with its databases on the platform's RDS instance."

  validation {
    condition     = contains(["cloud", "self_hosted"], var.temporal_mode)
    error_message = "temporal_mode is `cloud` or `self_hosted`."
  }
}

variable "namespace" {
  type        = string
  description = "Temporal namespace of the platform (Temporal Cloud: `<name>.<account id>`; self-hosted: created by the server's setup, e.g. `default`)."
  default     = "default"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$", var.namespace))
    error_message = "namespace: letters, digits, '.', '_' or '-'."
  }
}

variable "cloud_address" {
  type        = string
  description = "Temporal Cloud gRPC endpoint, host:port: `<namespace>.<account>.tmprl.cloud:7233` (mTLS) or the regional API-key endpoint, e.g. `us-east-1.aws.api.temporal.io:7233`. Only with temporal_mode = cloud."
  default     = ""

  validation {
    condition     = var.cloud_address == "" || can(regex("^[A-Za-z0-9.-]+:[0-9]+$", var.cloud_address))
    error_message = "cloud_address is host:port."
  }
}

variable "cloud_auth" {
  type        = string
  description = "How the API and workers authenticate to Temporal Cloud: `api_key` or `mtls` (client certificate and key)."
  default     = "api_key"

  validation {
    condition     = contains(["api_key", "mtls"], var.cloud_auth)
    error_message = "cloud_auth is `api_key` or `mtls`."
  }
}

variable "secrets_kms_key_arn" {
  type        = string
  description = "KMS key of the Temporal Cloud credentials secret."
}

variable "recovery_window_days" {
  type        = number
  description = "Days a deleted credentials secret can be restored (0 or 7-30)."
  default     = 7
}

variable "region" {
  type        = string
  description = "AWS region (awslogs)."
}

variable "cluster_arn" {
  type        = string
  description = "ECS cluster of the self-hosted server."
}

variable "service_discovery_namespace_id" {
  type        = string
  description = "Cloud Map namespace; the server registers as `temporal.<namespace>`."
}

variable "service_discovery_namespace_name" {
  type        = string
  description = "DNS name of the Cloud Map namespace (the API and workers connect to `temporal.<name>:7233`)."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets of the server and UI tasks."
}

variable "security_group_ids" {
  type        = map(string)
  description = "Security group id per service (network module): temporal and temporal_ui are used."
}

variable "log_group_names" {
  type        = map(string)
  description = "Log group name per service (observability module): temporal and temporal-ui are used."
}

variable "log_group_arns" {
  type        = map(string)
  description = "Log group ARN per service (observability module)."
}

variable "db_address" {
  type        = string
  description = "Host of the RDS instance the server keeps its `temporal` and `temporal_visibility` databases on."
}

variable "db_port" {
  type        = number
  description = "Port of the RDS instance."
  default     = 5432
}

variable "db_username" {
  type        = string
  description = "Database user of the server (the RDS master user: it creates the two databases on first start)."
}

variable "db_master_secret_arn" {
  type        = string
  description = "RDS-managed secret; its `password` key becomes POSTGRES_PWD."
}

variable "db_kms_key_arn" {
  type        = string
  description = "KMS key of the RDS-managed secret."
}

variable "server_image" {
  type        = string
  description = "Temporal server image that creates/updates its schema and the default namespace at start (temporalio/auto-setup). Pin a version; see infra/README.md for running the server image with a separate schema task instead."
  default     = "temporalio/auto-setup:1.29.0"
}

variable "server_cpu" {
  type        = number
  description = "CPU units of the server task."
  default     = 1024
}

variable "server_memory" {
  type        = number
  description = "Memory (MiB) of the server task."
  default     = 2048
}

variable "namespace_retention" {
  type        = string
  description = "Retention of closed workflows in the self-hosted default namespace (e.g. `72h`)."
  default     = "72h"

  validation {
    condition     = can(regex("^[0-9]+h$", var.namespace_retention))
    error_message = "namespace_retention is hours, e.g. `72h`."
  }
}

variable "ui_enabled" {
  type        = bool
  description = "Run the Temporal Web UI (self-hosted only) behind the ALB on `ui_hostname`, reachable from `ui_allowed_cidrs` only (the UI has no sign-in of its own)."
  default     = false
}

variable "ui_image" {
  type        = string
  description = "Temporal Web UI image."
  default     = "temporalio/ui:2.42.1"
}

variable "ui_hostname" {
  type        = string
  description = "Host name of the Temporal UI on the ALB (e.g. temporal.dev.example.com; covered by the ALB's certificate)."
  default     = ""
}

variable "ui_allowed_cidrs" {
  type        = list(string)
  description = "Source CIDRs allowed to reach the Temporal UI through the ALB (office / VPN egress)."
  default     = []

  validation {
    condition     = alltrue([for c in var.ui_allowed_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "ui_allowed_cidrs must be valid CIDRs, and not 0.0.0.0/0."
  }
}

variable "codec_endpoint" {
  type        = string
  description = "URL of the API's codec endpoint the UI decodes payloads with (https://<api host>/v1/temporal/codec); empty: none."
  default     = ""
}

variable "vpc_id" {
  type        = string
  description = "VPC of the UI's target group."
}

variable "https_listener_arn" {
  type        = string
  description = "HTTPS listener of the ALB (the UI's host rule)."
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
