# Development: one NAT gateway, single-AZ database and cache, no WAF, no deletion protection,
# self-hosted Temporal (with its UI) and Keycloak on the cluster. Replace the example host names,
# certificate and CIDRs with yours.
project     = "agent-runtime"
environment = "dev"
aws_region  = "us-east-1"

vpc_cidr           = "10.40.0.0/16"
availability_zones = ["us-east-1a", "us-east-1b"]
single_nat_gateway = true

api_hostname            = "agents.dev.example.com"
certificate_arn         = "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
alb_deletion_protection = false
waf_enabled             = false

# The tag you pushed to the ECR repository (see infra/README.md), e.g. the git SHA.
image_tag        = "replace-with-git-sha"
cpu_architecture = "X86_64"

api    = { cpu = 512, memory = 1024, min_count = 1, max_count = 3 }
worker = { cpu = 1024, memory = 2048, min_count = 1, max_count = 4, backlog_per_task_target = 20 }
kong   = { cpu = 256, memory = 512, min_count = 1, max_count = 2 }

model_providers = ["openai"]
# ECS Exec (aws ecs execute-command) makes the API's and workers' root filesystem writable
# while on: enable it when you need a shell, then turn it off again.
enable_execute_command = false

db_instance_class        = "db.t4g.micro"
db_allocated_storage     = 20
db_max_allocated_storage = 50
db_multi_az              = false
db_backup_retention_days = 3
db_deletion_protection   = false
force_destroy_bucket     = true

redis_node_type          = "cache.t4g.micro"
redis_num_cache_clusters = 1

temporal_mode             = "self_hosted"
temporal_namespace        = "default"
temporal_server_size      = { cpu = 1024, memory = 2048 }
temporal_ui_enabled       = true
temporal_ui_hostname      = "temporal.dev.example.com"
temporal_ui_allowed_cidrs = ["203.0.113.0/24"]

identity_mode                = "keycloak"
keycloak_hostname            = "sso.dev.example.com"
keycloak_size                = { cpu = 512, memory = 1024, count = 1 }
keycloak_admin_allowed_cidrs = ["203.0.113.0/24"]
keycloak_import_demo_users   = false

log_retention_days    = 14
otlp_endpoint         = ""
amp_workspace_enabled = false
alarms_enabled        = false

extra_environment = {
  AGENT_RUNTIME_RETENTION_RUNS_DAYS = "30"
}
