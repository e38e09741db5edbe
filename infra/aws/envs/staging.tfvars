# Staging: shaped like prod (NAT per AZ, multi-AZ database, Valkey failover, WAF, deletion
# protection, Temporal Cloud, Keycloak), smaller and with shorter retention.
project     = "agent-runtime"
environment = "staging"
aws_region  = "us-east-1"

vpc_cidr           = "10.41.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b"]
single_nat_gateway = false

api_hostname            = "agents.staging.example.com"
certificate_arn         = "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000001"
alb_deletion_protection = true
waf_enabled             = true

image_tag        = "replace-with-git-sha"
cpu_architecture = "X86_64"

api    = { cpu = 1024, memory = 2048, min_count = 2, max_count = 4 }
worker = { cpu = 1024, memory = 2048, min_count = 2, max_count = 8, backlog_per_task_target = 20 }
kong   = { cpu = 512, memory = 1024, min_count = 2, max_count = 4 }

model_providers        = ["openai", "anthropic"]
enable_execute_command = false

db_instance_class        = "db.t4g.medium"
db_allocated_storage     = 50
db_max_allocated_storage = 200
db_multi_az              = true
db_backup_retention_days = 14
db_deletion_protection   = true

redis_node_type          = "cache.t4g.small"
redis_num_cache_clusters = 2

temporal_mode          = "cloud"
temporal_namespace     = "agent-runtime-staging.a1b2c"
temporal_cloud_address = "us-east-1.aws.api.temporal.io:7233"
temporal_cloud_auth    = "api_key"

identity_mode                = "keycloak"
keycloak_hostname            = "sso.staging.example.com"
keycloak_size                = { cpu = 1024, memory = 2048, count = 1 }
keycloak_admin_allowed_cidrs = ["203.0.113.0/24"]

log_retention_days    = 30
otlp_endpoint         = ""
amp_workspace_enabled = false
alarms_enabled        = true
alarm_actions         = []

extra_environment = {
  AGENT_RUNTIME_RETENTION_RUNS_DAYS = "90"
}
