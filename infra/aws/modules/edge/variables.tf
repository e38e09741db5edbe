variable "name_prefix" {
  type        = string
  description = "Prefix of every AWS name (e.g. `agent-runtime-dev`); ALB names are cut to 32 characters."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the target groups."
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets of the ALB (2+ AZs)."

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An ALB needs subnets in at least two AZs."
  }
}

variable "alb_security_group_id" {
  type        = string
  description = "Security group of the ALB."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate of the HTTPS listener, covering the API host (and the Keycloak / Temporal UI hosts when used)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the HTTPS listener (TLS 1.3 and 1.2 with forward secrecy by default)."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-")
    error_message = "Use a TLS 1.3 capable policy (ELBSecurityPolicy-TLS13-*)."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the ALB (true in staging/prod)."
}

variable "idle_timeout" {
  type        = number
  description = "Seconds a connection may stay silent; SSE streams send a ping every 15 s, so 60+ is enough."
  default     = 120

  validation {
    condition     = var.idle_timeout >= 60 && var.idle_timeout <= 4000
    error_message = "idle_timeout must be 60-4000 seconds."
  }
}

variable "deregistration_delay" {
  type        = number
  description = "Seconds a draining Kong task keeps its connections during deploys (long SSE streams are cut after it; clients resume with Last-Event-ID)."
  default     = 60
}

variable "logs_bucket_id" {
  type        = string
  description = "Bucket of the ALB access logs (prefix alb/)."
}

variable "waf_enabled" {
  type        = bool
  description = "Create a WAFv2 web ACL with AWS managed rule groups and a per-IP rate limit, associated with the ALB."
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests per 5 minutes one IP may make before WAF blocks it (WAF rate-based rule)."
  default     = 3000

  validation {
    condition     = var.waf_rate_limit >= 100
    error_message = "waf_rate_limit must be at least 100 (WAF's minimum is 10, but lower values block NATed clients)."
  }
}

variable "waf_count_only_rules" {
  type        = list(string)
  description = "Rules of AWSManagedRulesCommonRuleSet that only count instead of blocking (by default those inspecting request bodies, which carry prompts and code)."
  default = [
    "SizeRestrictions_BODY",
    "CrossSiteScripting_BODY",
    "GenericRFI_BODY",
    "GenericLFI_BODY",
    "EC2MetaDataSSRF_BODY",
  ]
}

variable "logs_kms_key_arn" {
  type        = string
  description = "KMS key of the WAF log group."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the WAF log group, in days."
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
