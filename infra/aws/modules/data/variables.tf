variable "name_prefix" {
  type        = string
  description = "Prefix of every AWS name (e.g. `agent-runtime-dev`)."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets of the database and cache subnet groups (2+ AZs)."

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "RDS and ElastiCache subnet groups need subnets in at least two AZs."
  }
}

variable "rds_security_group_id" {
  type        = string
  description = "Security group of the RDS instance."
}

variable "redis_security_group_id" {
  type        = string
  description = "Security group of the ElastiCache replication group."
}

variable "logs_bucket_id" {
  type        = string
  description = "Bucket receiving the artifacts bucket's S3 server access logs (prefix s3/)."
}

variable "db_engine_version" {
  type        = string
  description = "PostgreSQL major (or major.minor) version; minor upgrades are applied automatically."
  default     = "17"

  validation {
    condition     = can(regex("^17(\\.[0-9]+)?$", var.db_engine_version))
    error_message = "The platform targets PostgreSQL 17 (e.g. `17` or `17.6`)."
  }
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class (e.g. db.t4g.micro in dev, db.m7g.large in prod)."

  validation {
    condition     = can(regex("^db\\.", var.db_instance_class))
    error_message = "db_instance_class must be an RDS class such as db.t4g.small."
  }
}

variable "db_allocated_storage" {
  type        = number
  description = "Initial gp3 storage in GiB."
  default     = 20

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 65536
    error_message = "db_allocated_storage must be 20-65536 GiB."
  }
}

variable "db_max_allocated_storage" {
  type        = number
  description = "Storage autoscaling ceiling in GiB (>= db_allocated_storage)."
  default     = 100
}

variable "db_multi_az" {
  type        = bool
  description = "Standby replica in another AZ with automatic failover (true outside dev)."
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days automated backups (and point-in-time recovery) are kept."

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be 1-35 (0 would disable backups)."
  }
}

variable "db_deletion_protection" {
  type        = bool
  description = "Refuse to delete the database (and take a final snapshot when it is deleted)."
}

variable "db_username" {
  type        = string
  description = "Master user of the RDS instance; its password is generated and kept by RDS in Secrets Manager."
  default     = "agent_runtime"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.db_username))
    error_message = "db_username: 1-16 lowercase letters, digits or '_', starting with a letter."
  }
}

variable "db_name" {
  type        = string
  description = "Database of the platform (Temporal and Keycloak get databases of their own on the same instance)."
  default     = "agent_runtime"
}

variable "db_performance_insights_retention_days" {
  type        = number
  description = "Performance Insights retention (7 is free; otherwise a multiple of 31, up to 731)."
  default     = 7

  validation {
    condition     = var.db_performance_insights_retention_days == 7 || var.db_performance_insights_retention_days == 731 || (var.db_performance_insights_retention_days % 31 == 0 && var.db_performance_insights_retention_days <= 713)
    error_message = "db_performance_insights_retention_days must be 7, 731, or a multiple of 31."
  }
}

variable "db_monitoring_interval" {
  type        = number
  description = "Enhanced Monitoring interval in seconds (0 disables it)."
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.db_monitoring_interval)
    error_message = "db_monitoring_interval is one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "redis_engine" {
  type        = string
  description = "ElastiCache engine: valkey (cheaper, compatible) or redis."
  default     = "valkey"

  validation {
    condition     = contains(["valkey", "redis"], var.redis_engine)
    error_message = "redis_engine is valkey or redis."
  }
}

variable "redis_engine_version" {
  type        = string
  description = "Engine version (e.g. `8.0` for Valkey, `7.1` for Redis OSS)."
  default     = "8.0"
}

variable "redis_node_type" {
  type        = string
  description = "Cache node type (e.g. cache.t4g.micro in dev)."

  validation {
    condition     = can(regex("^cache\\.", var.redis_node_type))
    error_message = "redis_node_type must be an ElastiCache node type such as cache.t4g.micro."
  }
}

variable "redis_num_cache_clusters" {
  type        = number
  description = "Nodes in the replication group: 1 (dev, no failover) or 2+ (primary and replicas with automatic failover, multi-AZ)."

  validation {
    condition     = var.redis_num_cache_clusters >= 1 && var.redis_num_cache_clusters <= 6
    error_message = "redis_num_cache_clusters must be 1-6."
  }
}

variable "redis_snapshot_retention_days" {
  type        = number
  description = "Days of daily cache snapshots (0: none; the cache holds live events and rate-limit counters only)."
  default     = 1
}

variable "artifact_noncurrent_version_days" {
  type        = number
  description = "Days an overwritten or deleted object version of the artifacts bucket is kept."
  default     = 30

  validation {
    condition     = var.artifact_noncurrent_version_days >= 1
    error_message = "artifact_noncurrent_version_days must be at least 1."
  }
}

variable "payload_expiration_days" {
  type        = number
  description = "Expire offloaded Temporal payloads (prefix v0/) after this many days: longer than the longest run plus the namespace's retention. 0: never (the application never deletes them)."
  default     = 0

  validation {
    condition     = var.payload_expiration_days == 0 || var.payload_expiration_days >= 30
    error_message = "payload_expiration_days must be 0 (never) or at least 30."
  }
}

variable "force_destroy_bucket" {
  type        = bool
  description = "Let `tofu destroy` delete the artifacts bucket with its objects (dev only)."
  default     = false
}

variable "logs_kms_key_arn" {
  type        = string
  description = "KMS key of the log groups the database exports its logs to."
}

variable "log_retention_days" {
  type        = number
  description = "Retention (days) of the database's exported logs (slow statements may contain prompts)."
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
