# Production: three AZs with a NAT gateway each, multi-AZ database with 35 days of backups,
# Valkey with automatic failover, WAF, deletion protection everywhere, Temporal Cloud,
# Keycloak (two nodes), tracing and Amazon Managed Prometheus, alarms.
project     = "agent-runtime"
environment = "prod"
aws_region  = "us-east-1"

vpc_cidr           = "10.42.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
single_nat_gateway = false

api_hostname            = "agents.example.com"
certificate_arn         = "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000002"
alb_deletion_protection = true
waf_enabled             = true

image_tag        = "replace-with-git-sha"
cpu_architecture = "X86_64"

api    = { cpu = 1024, memory = 2048, min_count = 3, max_count = 12, cpu_target = 60, requests_per_task_min = 3000 }
worker = { cpu = 2048, memory = 4096, min_count = 3, max_count = 30, backlog_per_task_target = 20 }
kong   = { cpu = 1024, memory = 2048, min_count = 3, max_count = 9 }

model_providers        = ["openai", "anthropic"]
enable_execute_command = false

db_instance_class        = "db.m7g.large"
db_allocated_storage     = 100
db_max_allocated_storage = 1000
db_multi_az              = true
db_backup_retention_days = 35
db_deletion_protection   = true

redis_node_type          = "cache.m7g.large"
redis_num_cache_clusters = 3

temporal_mode          = "cloud"
temporal_namespace     = "agent-runtime-prod.a1b2c"
temporal_cloud_address = "us-east-1.aws.api.temporal.io:7233"
temporal_cloud_auth    = "api_key"

identity_mode                = "keycloak"
keycloak_hostname            = "sso.example.com"
keycloak_size                = { cpu = 1024, memory = 2048, count = 2 }
keycloak_admin_allowed_cidrs = ["203.0.113.0/24"]

log_retention_days    = 90
otlp_endpoint         = "https://cloud.langfuse.com/api/public/otel"
otlp_auth_header      = true
amp_workspace_enabled = true
alarms_enabled        = true
alarm_actions         = []

extra_environment = {
  AGENT_RUNTIME_RETENTION_RUNS_DAYS = "365"
}
