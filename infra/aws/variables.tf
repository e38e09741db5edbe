# Every environment is this root module with its envs/<env>.tfvars: environments differ only
# through these variables.

# --- Identity of the deployment ---------------------------------------------------------------

variable "project" {
  type        = string
  description = "Project name: the first part of every AWS name (`<project>-<environment>-...`)."
  default     = "agent-runtime"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project))
    error_message = "project: 2-16 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "environment" {
  type        = string
  description = "Environment name: dev, staging or prod."

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment is dev, staging or prod."
  }
}

variable "aws_region" {
  type        = string
  description = "AWS region of the environment (e.g. us-east-1)."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region name such as us-east-1."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags of every resource (Project, Environment and ManagedBy are always set)."
  default     = {}
}

# --- Network ----------------------------------------------------------------------------------

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC (/16 to /20)."
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones of the environment, 2 or 3 names in aws_region (e.g. [\"us-east-1a\", \"us-east-1b\"])."
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for the whole VPC (dev) instead of one per AZ (staging/prod)."
}

variable "interface_endpoints" {
  type        = list(string)
  description = "Interface VPC endpoints (ECR, logs, Secrets Manager by default): ~$7.30 a month per endpoint per AZ, saving NAT traffic and keeping AWS calls private."
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager"]
}

# --- Edge -------------------------------------------------------------------------------------

variable "api_hostname" {
  type        = string
  description = "Public host name of the platform (Kong, the API, the console), e.g. agents.example.com; point it at the ALB."

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.api_hostname))
    error_message = "api_hostname must be a DNS name such as agents.example.com."
  }
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate (same region) covering api_hostname, and keycloak_hostname / temporal_ui_hostname when used (e.g. a wildcard)."
}

variable "alb_deletion_protection" {
  type        = bool
  description = "Refuse to delete the ALB (staging/prod)."
}

variable "waf_enabled" {
  type        = bool
  description = "WAFv2 web ACL (AWS managed rule groups, per-IP rate limit) on the ALB."
}

# --- Images and services ----------------------------------------------------------------------

variable "image_tag" {
  type        = string
  description = "Tag of the agent-runtime image in this environment's ECR repository (push it before apply; one immutable tag per build, e.g. the git SHA)."
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture the agent-runtime image was built for: X86_64, or ARM64 (Graviton, cheaper; build with --platform linux/arm64)."
  default     = "X86_64"
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
  description = "API tasks: cpu units, memory MiB, count bounds, CPU target % and ALB requests per task per minute."
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
  description = "Worker tasks: cpu units, memory MiB, count bounds, Temporal backlog per task and CPU target % to scale on."
}

variable "kong" {
  type = object({
    cpu                     = number
    memory                  = number
    min_count               = number
    max_count               = number
    requests_per_target_min = optional(number, 6000)
  })
  description = "Kong tasks: cpu units, memory MiB, count bounds and ALB requests per task per minute."
}

variable "extra_environment" {
  type        = map(string)
  description = "More plain AGENT_RUNTIME_* settings for the API, workers and migrate (e.g. AGENT_RUNTIME_RETENTION_RUNS_DAYS). Never secrets: names with PASSWORD, SECRET, TOKEN, API_KEY or _KEYS are refused."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : length(regexall("(?i)(PASSWORD|SECRET|TOKEN|API_KEY|_KEYS)", k)) == 0])
    error_message = "extra_environment must not carry secrets."
  }
}

variable "model_providers" {
  type        = list(string)
  description = "Model providers whose API key secret is created (openai, anthropic); fill each with `aws secretsmanager put-secret-value`."
  default     = []
}

variable "enable_execute_command" {
  type        = bool
  description = "Allow `aws ecs execute-command` into API and worker tasks (debugging; audited in the ecs-exec log group). Their root filesystem is writable while it is on (ECS Exec needs it): turn it on temporarily."
  default     = false
}

# --- Data -------------------------------------------------------------------------------------

variable "db_instance_class" {
  type        = string
  description = "RDS PostgreSQL instance class."
}

variable "db_allocated_storage" {
  type        = number
  description = "Initial database storage (GiB, gp3)."
  default     = 20
}

variable "db_max_allocated_storage" {
  type        = number
  description = "Storage autoscaling ceiling (GiB)."
  default     = 100
}

variable "db_multi_az" {
  type        = bool
  description = "Multi-AZ standby (true outside dev)."
}

variable "db_backup_retention_days" {
  type        = number
  description = "Automated backup / point-in-time recovery retention (days, 1-35)."
}

variable "db_deletion_protection" {
  type        = bool
  description = "Deletion protection and a final snapshot on delete (true outside dev)."
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type."
}

variable "redis_num_cache_clusters" {
  type        = number
  description = "Valkey nodes: 1 in dev, 2+ (automatic failover, multi-AZ) elsewhere."
}

variable "force_destroy_bucket" {
  type        = bool
  description = "Let `tofu destroy` empty and delete the artifacts bucket (dev only)."
  default     = false
}

variable "payload_expiration_days" {
  type        = number
  description = "Expire offloaded Temporal payloads after this many days (0: never); longer than the longest run plus the namespace's retention."
  default     = 0
}

# --- Temporal ---------------------------------------------------------------------------------

variable "temporal_mode" {
  type        = string
  description = "`cloud` (Temporal Cloud) or `self_hosted` (Temporal server on ECS, databases on the RDS instance)."
}

variable "temporal_namespace" {
  type        = string
  description = "Temporal namespace (Temporal Cloud: `<name>.<account id>`)."
  default     = "default"
}

variable "temporal_cloud_address" {
  type        = string
  description = "Temporal Cloud endpoint host:port (cloud mode)."
  default     = ""
}

variable "temporal_cloud_auth" {
  type        = string
  description = "Temporal Cloud authentication: `api_key` or `mtls`."
  default     = "api_key"
}

variable "temporal_server_size" {
  type = object({
    cpu    = number
    memory = number
  })
  description = "Self-hosted Temporal server task: cpu units and memory MiB."
  default     = { cpu = 1024, memory = 2048 }
}

variable "temporal_ui_enabled" {
  type        = bool
  description = "Self-hosted: run the Temporal Web UI behind the ALB on temporal_ui_hostname, for temporal_ui_allowed_cidrs only."
  default     = false
}

variable "temporal_ui_hostname" {
  type        = string
  description = "Host name of the Temporal UI (self-hosted, with temporal_ui_enabled)."
  default     = ""
}

variable "temporal_ui_allowed_cidrs" {
  type        = list(string)
  description = "Source CIDRs allowed to reach the Temporal UI."
  default     = []
}

# --- Identity ---------------------------------------------------------------------------------

variable "identity_mode" {
  type        = string
  description = "`keycloak` (Keycloak on ECS with the repository's realm) or `external` (an existing OpenID provider)."
}

variable "keycloak_hostname" {
  type        = string
  description = "Host name of Keycloak on the ALB (keycloak mode)."
  default     = ""
}

variable "keycloak_size" {
  type = object({
    cpu    = number
    memory = number
    count  = number
  })
  description = "Keycloak tasks (keycloak mode): cpu units, memory MiB, task count."
  default     = { cpu = 1024, memory = 2048, count = 1 }
}

variable "keycloak_admin_allowed_cidrs" {
  type        = list(string)
  description = "Source CIDRs allowed to reach Keycloak's /admin/* (keycloak mode); empty: none from outside."
  default     = []
}

variable "keycloak_import_demo_users" {
  type        = bool
  description = "Import the realm's demo users and password grant (throwaway dev only)."
  default     = false
}

variable "oidc_issuer" {
  type        = string
  description = "Issuer URL of the external OpenID provider (external mode; empty: API keys only)."
  default     = ""
}

variable "oidc_audience" {
  type        = string
  description = "Audience of access tokens for the API."
  default     = "agent-runtime-api"
}

variable "oidc_jwks_url" {
  type        = string
  description = "JWKS URL of the external provider when not from discovery (external mode)."
  default     = ""
}

variable "console_oidc_client_id" {
  type        = string
  description = "Public OIDC client of the web console (external mode; keycloak mode uses the realm's agent-runtime-console)."
  default     = ""
}

# --- Observability ----------------------------------------------------------------------------

variable "log_retention_days" {
  type        = number
  description = "CloudWatch Logs retention of every log group (days)."
}

variable "otlp_endpoint" {
  type        = string
  description = "OTLP/HTTP trace endpoint the ADOT collectors export to (e.g. https://cloud.langfuse.com/api/public/otel); empty: no tracing."
  default     = ""
}

variable "otlp_auth_header" {
  type        = bool
  description = "The OTLP endpoint needs an Authorization header (secret `<prefix>/otlp-authorization`, set by hand)."
  default     = false
}

variable "amp_workspace_enabled" {
  type        = bool
  description = "Create an Amazon Managed Prometheus workspace and remote-write the API's and workers' metrics to it."
  default     = false
}

variable "alarms_enabled" {
  type        = bool
  description = "Create CloudWatch alarms (ALB 5xx, RDS CPU, task-queue backlog)."
  default     = false
}

variable "alarm_actions" {
  type        = list(string)
  description = "ARNs notified by the alarms (e.g. an SNS topic)."
  default     = []
}
