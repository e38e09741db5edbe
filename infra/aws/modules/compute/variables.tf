variable "name_prefix" {
  type        = string
  description = "Prefix of every AWS name (e.g. `agent-runtime-dev`)."
}

variable "environment" {
  type        = string
  description = "Environment name (dev, staging, prod)."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the Cloud Map namespace."
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR of the VPC: Kong trusts X-Forwarded-For from the ALB inside it."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets the tasks run in."
}

variable "security_group_ids" {
  type        = map(string)
  description = "Security group id per service (network module output); api, worker and kong are used here."
}

variable "log_group_names" {
  type        = map(string)
  description = "Log group name per service (observability module output)."
}

variable "log_group_arns" {
  type        = map(string)
  description = "Log group ARN per service (observability module output)."
}

variable "logs_kms_key_arn" {
  type        = string
  description = "KMS key of the log groups (ECS Exec session logs are encrypted with it)."
}

variable "data_kms_key_arn" {
  type        = string
  description = "KMS key of the artifacts bucket, the RDS master secret and ECR images."
}

variable "secret_kms_key_arns" {
  type        = list(string)
  description = "KMS keys of the secrets the API and workers read (secrets module key, Temporal credentials key)."
}

variable "image_tag" {
  type        = string
  description = "Tag of the agent-runtime image in this environment's ECR repository (immutable tags: one per build, e.g. the git SHA)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid, immutable Docker tag (not `latest`)."
  }
}

variable "kong_image" {
  type        = string
  description = "Kong image (DB-less): the Docker official image docker/compose.yaml runs (kong:3.9), from its public ECR mirror (no Docker Hub rate limits)."
  default     = "public.ecr.aws/docker/library/kong:3.9"
}

variable "adot_image" {
  type        = string
  description = "AWS Distro for OpenTelemetry collector image of the sidecars."
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture the agent-runtime image is built for (X86_64, or ARM64 for Graviton: ~20 % cheaper)."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture is X86_64 or ARM64."
  }
}

variable "kong_config_path" {
  type        = string
  description = "Path of the Kong declarative configuration (the repository's gateway/kong.yaml)."
}

variable "db_address" {
  type        = string
  description = "Host of the PostgreSQL instance."
}

variable "db_port" {
  type        = number
  description = "Port of the PostgreSQL instance."
  default     = 5432
}

variable "db_name" {
  type        = string
  description = "Database of the platform."
}

variable "db_username" {
  type        = string
  description = "Database user (in the URL; its password comes from db_master_secret_arn)."
}

variable "db_master_secret_arn" {
  type        = string
  description = "RDS-managed secret whose `password` key becomes AGENT_RUNTIME_DATABASE_PASSWORD."
}

variable "bucket_name" {
  type        = string
  description = "Bucket of artifacts and offloaded Temporal payloads."
}

variable "bucket_arn" {
  type        = string
  description = "ARN of the artifacts/payloads bucket."
}

variable "app_secrets" {
  type        = map(string)
  description = "Secret environment shared by the API and workers (secrets module): name → valueFrom."
}

variable "temporal_environment" {
  type        = map(string)
  description = "Plain Temporal settings of the API and workers (address, namespace, TLS)."
}

variable "temporal_secrets" {
  type        = map(string)
  description = "Temporal credentials of the API and workers (API key or mTLS cert/key): name → valueFrom."
  default     = {}
}

variable "oidc_environment" {
  type        = map(string)
  description = "OIDC settings of the API (issuer, audience, JWKS URL, console client)."
  default     = {}
}

variable "extra_environment" {
  type        = map(string)
  description = "More plain AGENT_RUNTIME_* settings for the API, workers and migrate (tfvars), e.g. retention days or CORS origins. Never secrets."
  default     = {}
}

variable "task_queue" {
  type        = string
  description = "Temporal task queue of the workers (AGENT_RUNTIME_TEMPORAL_TASK_QUEUE)."
  default     = "agent-runtime"
}

variable "tracing_enabled" {
  type        = bool
  description = "Send the applications' spans to their ADOT sidecar (AGENT_RUNTIME_OTLP_ENDPOINT=http://localhost:4318)."
}

variable "api_collector_enabled" {
  type        = bool
  description = "Run the ADOT sidecar in the API task (when traces or AMP are configured)."
}

variable "adot_config_api" {
  type        = string
  description = "Collector configuration of the API's sidecar (observability module)."
}

variable "adot_config_worker" {
  type        = string
  description = "Collector configuration of the worker's sidecar (observability module)."
}

variable "otlp_authorization_secret_arn" {
  type        = string
  description = "Secret with the OTLP endpoint's Authorization header (null: none)."
  default     = null
}

variable "amp_workspace_arn" {
  type        = string
  description = "Amazon Managed Prometheus workspace the collectors remote-write to (null: none)."
  default     = null
}

variable "emf_log_group_arn" {
  type        = string
  description = "Log group the worker collector's awsemf exporter writes the backlog metric to."
}

variable "emf_namespace" {
  type        = string
  description = "CloudWatch namespace of the backlog metric (AgentRuntime/<env>)."
}

variable "kong_target_group_arn" {
  type        = string
  description = "ALB target group Kong registers with."
}

variable "kong_target_group_arn_suffix" {
  type        = string
  description = "ARN suffix of Kong's target group (request-count scaling)."
}

variable "alb_arn_suffix" {
  type        = string
  description = "ARN suffix of the ALB (request-count scaling)."
}

variable "api" {
  type = object({
    cpu                   = number
    memory                = number
    min_count             = number
    max_count             = number
    cpu_target            = optional(number, 60)
    requests_per_task_min = optional(number, 3000)
  })
  description = "API service size: task cpu/memory, task count bounds, CPU target (%) and ALB requests per API task per minute to scale on."

  validation {
    condition     = var.api.min_count >= 1 && var.api.max_count >= var.api.min_count && var.api.cpu_target > 0 && var.api.cpu_target <= 100
    error_message = "api: 1 <= min_count <= max_count, 0 < cpu_target <= 100."
  }
}

variable "worker" {
  type = object({
    cpu                     = number
    memory                  = number
    min_count               = number
    max_count               = number
    backlog_per_task_target = optional(number, 20)
    cpu_target              = optional(number, 70)
  })
  description = "Worker service size: task cpu/memory, task count bounds, the Temporal backlog per worker task to scale on, and a CPU target."

  validation {
    condition     = var.worker.min_count >= 1 && var.worker.max_count >= var.worker.min_count && var.worker.backlog_per_task_target > 0
    error_message = "worker: 1 <= min_count <= max_count (the backlog metric divides by the task count), backlog_per_task_target > 0."
  }
}

variable "kong" {
  type = object({
    cpu                     = number
    memory                  = number
    min_count               = number
    max_count               = number
    requests_per_target_min = optional(number, 6000)
  })
  description = "Kong service size: task cpu/memory, task count bounds and ALB requests per Kong task per minute to scale on."

  validation {
    condition     = var.kong.min_count >= 1 && var.kong.max_count >= var.kong.min_count
    error_message = "kong: 1 <= min_count <= max_count."
  }
}

variable "worker_graceful_shutdown_s" {
  type        = number
  description = "Seconds a worker waits for in-flight activities after SIGTERM (AGENT_RUNTIME_WORKER_GRACEFUL_SHUTDOWN_S); below the task's stopTimeout of 120."
  default     = 100

  validation {
    condition     = var.worker_graceful_shutdown_s >= 0 && var.worker_graceful_shutdown_s <= 110
    error_message = "worker_graceful_shutdown_s must be 0-110 (ECS kills the task 120 s after SIGTERM)."
  }
}

variable "enable_execute_command" {
  type        = bool
  description = "Allow `aws ecs execute-command` into the API and worker tasks."
  default     = false
}

variable "ecr_image_retention_count" {
  type        = number
  description = "Tagged images the ECR lifecycle policy keeps (older ones expire; untagged after 7 days)."
  default     = 50
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
