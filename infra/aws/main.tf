# Agent Runtime on AWS: one root module for every environment (envs/<env>.tfvars).
#
#   internet ─► ALB (TLS, WAF) ─► Kong (gateway/kong.yaml) ─► API ─┬─► RDS PostgreSQL 17
#                    └─► Keycloak (host rule)                       ├─► ElastiCache Valkey
#                                                  Workers ◄─ Temporal (Cloud or self-hosted)
#                                                        └─► S3 (artifacts, payloads), model providers

data "aws_region" "current" {}

locals {
  name_prefix = "${var.project}-${var.environment}"

  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "opentofu"
  })

  repo_root = "${path.root}/../.."

  # The API links runs to the Temporal UI, and lets that UI call its codec endpoint.
  temporal_ui_environment = var.temporal_mode == "self_hosted" && var.temporal_ui_enabled ? {
    AGENT_RUNTIME_TEMPORAL_UI_URL             = "https://${var.temporal_ui_hostname}"
    AGENT_RUNTIME_TEMPORAL_CODEC_CORS_ORIGINS = "https://${var.temporal_ui_hostname}"
  } : {}
}

module "observability" {
  source = "./modules/observability"

  name_prefix           = local.name_prefix
  environment           = var.environment
  log_retention_days    = var.log_retention_days
  otlp_endpoint         = var.otlp_endpoint
  otlp_auth_header      = var.otlp_auth_header
  amp_workspace_enabled = var.amp_workspace_enabled
  alarms_enabled        = var.alarms_enabled
  alarm_actions         = var.alarm_actions
  alb_arn_suffix        = module.edge.alb_arn_suffix
  rds_instance_id       = module.data.db_instance_id
  task_queue            = "agent-runtime"
  tags                  = local.tags
}

module "network" {
  source = "./modules/network"

  name_prefix         = local.name_prefix
  vpc_cidr            = var.vpc_cidr
  availability_zones  = var.availability_zones
  single_nat_gateway  = var.single_nat_gateway
  interface_endpoints = var.interface_endpoints
  flow_log_group_arn  = module.observability.log_group_arns["vpc-flow-logs"]
  temporal_cloud      = var.temporal_mode == "cloud"
  tags                = local.tags
}

module "data" {
  source = "./modules/data"

  name_prefix              = local.name_prefix
  private_subnet_ids       = module.network.private_subnet_ids
  rds_security_group_id    = module.network.security_group_ids["rds"]
  redis_security_group_id  = module.network.security_group_ids["redis"]
  logs_bucket_id           = module.observability.logs_bucket_id
  db_instance_class        = var.db_instance_class
  db_allocated_storage     = var.db_allocated_storage
  db_max_allocated_storage = var.db_max_allocated_storage
  db_multi_az              = var.db_multi_az
  db_backup_retention_days = var.db_backup_retention_days
  db_deletion_protection   = var.db_deletion_protection
  redis_node_type          = var.redis_node_type
  redis_num_cache_clusters = var.redis_num_cache_clusters
  force_destroy_bucket     = var.force_destroy_bucket
  payload_expiration_days  = var.payload_expiration_days
  logs_kms_key_arn         = module.observability.logs_kms_key_arn
  log_retention_days       = var.log_retention_days
  tags                     = local.tags
}

module "secrets" {
  source = "./modules/secrets"

  name_prefix      = local.name_prefix
  model_providers  = var.model_providers
  redis_host       = module.data.redis_primary_endpoint
  redis_port       = module.data.redis_port
  redis_auth_token = module.data.redis_auth_token
  otlp_auth_header = var.otlp_auth_header
  tags             = local.tags
}

module "edge" {
  source = "./modules/edge"

  name_prefix           = local.name_prefix
  vpc_id                = module.network.vpc_id
  public_subnet_ids     = module.network.public_subnet_ids
  alb_security_group_id = module.network.security_group_ids["alb"]
  certificate_arn       = var.certificate_arn
  deletion_protection   = var.alb_deletion_protection
  logs_bucket_id        = module.observability.logs_bucket_id
  waf_enabled           = var.waf_enabled
  logs_kms_key_arn      = module.observability.logs_kms_key_arn
  log_retention_days    = var.log_retention_days
  tags                  = local.tags
}

module "compute" {
  source = "./modules/compute"

  name_prefix         = local.name_prefix
  environment         = var.environment
  vpc_id              = module.network.vpc_id
  vpc_cidr            = module.network.vpc_cidr
  private_subnet_ids  = module.network.private_subnet_ids
  security_group_ids  = module.network.security_group_ids
  log_group_names     = module.observability.log_group_names
  log_group_arns      = module.observability.log_group_arns
  logs_kms_key_arn    = module.observability.logs_kms_key_arn
  data_kms_key_arn    = module.data.kms_key_arn
  secret_kms_key_arns = [module.secrets.kms_key_arn]
  image_tag           = var.image_tag
  cpu_architecture    = var.cpu_architecture
  kong_config_path    = "${local.repo_root}/gateway/kong.yaml"

  db_address           = module.data.db_address
  db_port              = module.data.db_port
  db_name              = module.data.db_name
  db_username          = module.data.db_username
  db_master_secret_arn = module.data.db_master_secret_arn
  bucket_name          = module.data.bucket_name
  bucket_arn           = module.data.bucket_arn

  app_secrets          = module.secrets.app_secrets
  temporal_environment = module.temporal.app_environment
  temporal_secrets     = module.temporal.app_secrets
  oidc_environment     = module.identity.api_environment
  extra_environment    = merge(local.temporal_ui_environment, var.extra_environment)

  tracing_enabled               = module.observability.tracing_enabled
  api_collector_enabled         = module.observability.api_collector_enabled
  adot_config_api               = module.observability.adot_config_api
  adot_config_worker            = module.observability.adot_config_worker
  otlp_authorization_secret_arn = module.secrets.otlp_authorization_secret_arn
  amp_workspace_arn             = module.observability.amp_workspace_arn
  emf_log_group_arn             = module.observability.emf_log_group_arn
  emf_namespace                 = module.observability.emf_namespace

  kong_target_group_arn        = module.edge.kong_target_group_arn
  kong_target_group_arn_suffix = module.edge.kong_target_group_arn_suffix
  alb_arn_suffix               = module.edge.alb_arn_suffix

  api                    = var.api
  worker                 = var.worker
  kong                   = var.kong
  enable_execute_command = var.enable_execute_command

  tags = local.tags
}

module "temporal" {
  source = "./modules/temporal"

  name_prefix          = local.name_prefix
  temporal_mode        = var.temporal_mode
  namespace            = var.temporal_namespace
  cloud_address        = var.temporal_cloud_address
  cloud_auth           = var.temporal_cloud_auth
  secrets_kms_key_arn  = module.secrets.kms_key_arn
  region               = data.aws_region.current.region
  cluster_arn          = module.compute.cluster_arn
  private_subnet_ids   = module.network.private_subnet_ids
  security_group_ids   = module.network.security_group_ids
  log_group_names      = module.observability.log_group_names
  log_group_arns       = module.observability.log_group_arns
  db_address           = module.data.db_address
  db_port              = module.data.db_port
  db_username          = module.data.db_username
  db_master_secret_arn = module.data.db_master_secret_arn
  db_kms_key_arn       = module.data.kms_key_arn
  server_cpu           = var.temporal_server_size.cpu
  server_memory        = var.temporal_server_size.memory
  ui_enabled           = var.temporal_ui_enabled
  ui_hostname          = var.temporal_ui_hostname
  ui_allowed_cidrs     = var.temporal_ui_allowed_cidrs
  codec_endpoint       = "https://${var.api_hostname}/v1/temporal/codec"
  vpc_id               = module.network.vpc_id
  https_listener_arn   = module.edge.https_listener_arn

  service_discovery_namespace_id   = module.compute.service_discovery_namespace_id
  service_discovery_namespace_name = module.compute.service_discovery_namespace_name

  tags = local.tags
}

module "identity" {
  source = "./modules/identity"

  name_prefix                  = local.name_prefix
  identity_mode                = var.identity_mode
  oidc_issuer                  = var.oidc_issuer
  oidc_audience                = var.oidc_audience
  oidc_jwks_url                = var.oidc_jwks_url
  console_oidc_client_id       = var.console_oidc_client_id
  api_hostname                 = var.api_hostname
  keycloak_hostname            = var.keycloak_hostname
  keycloak_admin_allowed_cidrs = var.keycloak_admin_allowed_cidrs
  import_demo_users            = var.keycloak_import_demo_users
  keycloak_cpu                 = var.keycloak_size.cpu
  keycloak_memory              = var.keycloak_size.memory
  keycloak_count               = var.keycloak_size.count
  realm_path                   = "${local.repo_root}/auth/realm-agent-runtime.json"
  region                       = data.aws_region.current.region
  cluster_arn                  = module.compute.cluster_arn
  vpc_id                       = module.network.vpc_id
  private_subnet_ids           = module.network.private_subnet_ids
  security_group_ids           = module.network.security_group_ids
  log_group_names              = module.observability.log_group_names
  log_group_arns               = module.observability.log_group_arns
  https_listener_arn           = module.edge.https_listener_arn
  db_address                   = module.data.db_address
  db_port                      = module.data.db_port
  db_name                      = module.data.db_name
  db_username                  = module.data.db_username
  db_master_secret_arn         = module.data.db_master_secret_arn
  db_kms_key_arn               = module.data.kms_key_arn
  secrets_kms_key_arn          = module.secrets.kms_key_arn

  service_discovery_namespace_id   = module.compute.service_discovery_namespace_id
  service_discovery_namespace_name = module.compute.service_discovery_namespace_name

  tags = local.tags
}
