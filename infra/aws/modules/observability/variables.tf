variable "name_prefix" {
  type        = string
  description = "Prefix of every AWS name (e.g. `agent-runtime-dev`)."
}

variable "environment" {
  type        = string
  description = "Environment name (dev, staging, prod): the CloudWatch metric namespace is `AgentRuntime/<environment>`."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every CloudWatch log group, in days (a value CloudWatch accepts)."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs supports (1, 3, 5, 7, 14, 30, 60, 90, ..., 3653)."
  }
}

variable "log_groups" {
  type        = list(string)
  description = "Services that get a log group `/<name_prefix>/<service>`."
  default     = ["api", "worker", "kong", "migrate", "keycloak", "temporal", "temporal-ui", "vpc-flow-logs", "emf", "ecs-exec"]
}

variable "access_log_retention_days" {
  type        = number
  description = "Days ALB and S3 access logs are kept in the logs bucket."
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}

variable "otlp_endpoint" {
  type        = string
  description = "OTLP/HTTP endpoint the ADOT collectors export traces to (Langfuse: https://cloud.langfuse.com/api/public/otel, or any collector). Empty: no tracing."
  default     = ""

  validation {
    condition     = var.otlp_endpoint == "" || can(regex("^https://", var.otlp_endpoint))
    error_message = "otlp_endpoint must be empty or an https:// URL."
  }
}

variable "otlp_auth_header" {
  type        = bool
  description = "The OTLP endpoint needs an Authorization header, read from the secret `otlp_authorization` (e.g. `Basic <base64 pk:sk>` for Langfuse)."
  default     = false
}

variable "amp_workspace_enabled" {
  type        = bool
  description = "Create an Amazon Managed Prometheus workspace; the collectors remote-write the API's and workers' Prometheus metrics to it."
  default     = false
}

variable "metrics_scrape_interval" {
  type        = string
  description = "Prometheus scrape interval of the collectors (e.g. `30s`); the backlog metric's resolution for autoscaling."
  default     = "30s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.metrics_scrape_interval))
    error_message = "metrics_scrape_interval is seconds, e.g. `30s`."
  }
}

variable "alarms_enabled" {
  type        = bool
  description = "Create CloudWatch alarms (ALB 5xx, RDS CPU, worker task-queue backlog)."
  default     = false
}

variable "alarm_actions" {
  type        = list(string)
  description = "ARNs (e.g. an SNS topic) notified when an alarm fires or recovers."
  default     = []
}

variable "alb_arn_suffix" {
  type        = string
  description = "ARN suffix of the ALB (CloudWatch dimension) for the 5xx alarm."
  default     = ""
}

variable "rds_instance_id" {
  type        = string
  description = "Identifier of the RDS instance for the CPU alarm."
  default     = ""
}

variable "task_queue" {
  type        = string
  description = "Temporal task queue whose backlog the backlog alarm watches."
  default     = "agent-runtime"
}

variable "backlog_alarm_threshold" {
  type        = number
  description = "Backlog (workflow + activity tasks) above which the backlog alarm fires."
  default     = 500
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
