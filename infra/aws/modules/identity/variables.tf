variable "name_prefix" {
  type        = string
  description = "Prefix of every AWS name (e.g. `agent-runtime-dev`)."
}

variable "identity_mode" {
  type        = string
  description = "`keycloak`: Keycloak on ECS with the repository's realm, behind the ALB on `keycloak_hostname`. `external`: an existing OpenID provider (oidc_issuer / oidc_audience / oidc_jwks_url)."

  validation {
    condition     = contains(["keycloak", "external"], var.identity_mode)
    error_message = "identity_mode is `keycloak` or `external`."
  }
}

variable "oidc_issuer" {
  type        = string
  description = "external: issuer URL of the OpenID provider (AGENT_RUNTIME_OIDC_ISSUER). Empty: bearer JWTs are refused, API keys only."
  default     = ""

  validation {
    condition     = var.oidc_issuer == "" || can(regex("^https://", var.oidc_issuer))
    error_message = "oidc_issuer must be an https:// URL (or empty)."
  }
}

variable "oidc_audience" {
  type        = string
  description = "Audience access tokens must carry (AGENT_RUNTIME_OIDC_AUDIENCE); keycloak mode: the realm's `agent-runtime-api`."
  default     = "agent-runtime-api"
}

variable "oidc_jwks_url" {
  type        = string
  description = "external: JWKS URL when it is not the discovery document's jwks_uri (AGENT_RUNTIME_OIDC_JWKS_URL). Empty: discovery."
  default     = ""
}

variable "console_oidc_client_id" {
  type        = string
  description = "Public client the web console signs in with (AGENT_RUNTIME_CONSOLE_OIDC_CLIENT_ID); keycloak mode: `agent-runtime-console`. Empty: API-key sign-in only."
  default     = ""
}

variable "api_hostname" {
  type        = string
  description = "Public host of the API (the console's redirect URI https://<api_hostname>/console/ is written into the imported realm)."
}

variable "keycloak_hostname" {
  type        = string
  description = "keycloak: public host of Keycloak on the ALB (e.g. sso.dev.example.com; covered by the ALB's certificate)."
  default     = ""
}

variable "keycloak_image" {
  type        = string
  description = "Keycloak image (26.x, the version docker/compose.yaml runs)."
  default     = "quay.io/keycloak/keycloak:26.4"

  validation {
    condition     = can(regex("keycloak:26\\.", var.keycloak_image))
    error_message = "The realm export targets Keycloak 26.x."
  }
}

variable "realm_path" {
  type        = string
  description = "Path of the realm export imported on Keycloak's first start (auth/realm-agent-runtime.json)."
}

variable "import_demo_users" {
  type        = bool
  description = "Import the realm's demo users (development-only passwords!) and keep the CLI's password grant. Never outside a throwaway dev environment."
  default     = false
}

variable "keycloak_admin_allowed_cidrs" {
  type        = list(string)
  description = "Source CIDRs that may reach Keycloak's admin console and admin REST API (/admin/*) through the ALB; empty: nobody from outside."
  default     = []

  validation {
    condition     = alltrue([for c in var.keycloak_admin_allowed_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "keycloak_admin_allowed_cidrs must be valid CIDRs, and not 0.0.0.0/0."
  }
}

variable "keycloak_cpu" {
  type        = number
  description = "CPU units of a Keycloak task."
  default     = 1024
}

variable "keycloak_memory" {
  type        = number
  description = "Memory (MiB) of a Keycloak task."
  default     = 2048
}

variable "keycloak_count" {
  type        = number
  description = "Keycloak tasks (they form one Infinispan cluster through the database)."
  default     = 1

  validation {
    condition     = var.keycloak_count >= 1 && var.keycloak_count <= 10
    error_message = "keycloak_count must be 1-10."
  }
}

variable "region" {
  type        = string
  description = "AWS region (awslogs)."
}

variable "cluster_arn" {
  type        = string
  description = "ECS cluster of Keycloak."
}

variable "service_discovery_namespace_id" {
  type        = string
  description = "Cloud Map namespace; Keycloak registers as `keycloak.<namespace>` (the API fetches JWKS there)."
}

variable "service_discovery_namespace_name" {
  type        = string
  description = "DNS name of the Cloud Map namespace."
}

variable "vpc_id" {
  type        = string
  description = "VPC of Keycloak's target group."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets of the Keycloak tasks."
}

variable "security_group_ids" {
  type        = map(string)
  description = "Security group id per service (network module): keycloak is used."
}

variable "log_group_names" {
  type        = map(string)
  description = "Log group name per service (observability module): keycloak is used."
}

variable "log_group_arns" {
  type        = map(string)
  description = "Log group ARN per service (observability module)."
}

variable "https_listener_arn" {
  type        = string
  description = "HTTPS listener of the ALB (Keycloak's host rules)."
}

variable "db_address" {
  type        = string
  description = "Host of the RDS instance (Keycloak's `keycloak` database is created there on first start)."
}

variable "db_port" {
  type        = number
  description = "Port of the RDS instance."
  default     = 5432
}

variable "db_name" {
  type        = string
  description = "The platform's database, which the init container connects to in order to create `keycloak`."
}

variable "db_username" {
  type        = string
  description = "Database user of Keycloak (the RDS master user)."
}

variable "db_master_secret_arn" {
  type        = string
  description = "RDS-managed secret; its `password` key is Keycloak's database password."
}

variable "db_kms_key_arn" {
  type        = string
  description = "KMS key of the RDS-managed secret."
}

variable "secrets_kms_key_arn" {
  type        = string
  description = "KMS key of the Keycloak admin password secret."
}

variable "postgres_client_image" {
  type        = string
  description = "Image with psql for the init container that creates the `keycloak` database."
  default     = "public.ecr.aws/docker/library/postgres:17-alpine"
}

variable "recovery_window_days" {
  type        = number
  description = "Days a deleted admin secret can be restored (0 or 7-30)."
  default     = 7
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
