# The image registry, the ECS cluster, and the platform's own services: api, worker, kong (all
# through modules/ecs-service) plus the one-off migrate task definition; autoscaling policies.

data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.region
  namespace = "${var.name_prefix}.internal"
  image     = "${aws_ecr_repository.this.repository_url}:${var.image_tag}"

  # Kong runs the repository's gateway/kong.yaml unchanged, except its upstream host: `api:8000`
  # is the compose service name, here the API's Cloud Map record.
  kong_config = replace(file(var.kong_config_path), "http://api:8000", "http://api.${local.namespace}:8000")

  database_url = "postgresql://${var.db_username}@${var.db_address}:${var.db_port}/${var.db_name}?sslmode=require"

  # Plain settings shared by the API, workers and migrate. Secrets are in local.app_secrets.
  app_environment = merge(
    {
      AGENT_RUNTIME_DATABASE_URL          = local.database_url
      AGENT_RUNTIME_TEMPORAL_TASK_QUEUE   = var.task_queue
      AGENT_RUNTIME_S3_BUCKET             = var.bucket_name
      AGENT_RUNTIME_S3_REGION             = local.region
      AGENT_RUNTIME_S3_SSE                = "kms"
      AGENT_RUNTIME_S3_KMS_KEY_ID         = var.data_kms_key_arn
      AGENT_RUNTIME_S3_CREATE_BUCKET      = "false"
      AGENT_RUNTIME_RETENTION_SCHEDULE_ID = "agent-runtime-retention-${var.environment}"
      AGENT_RUNTIME_RECONCILE_SCHEDULE_ID = "agent-runtime-reconcile-${var.environment}"
    },
    var.temporal_environment,
    var.tracing_enabled ? { AGENT_RUNTIME_OTLP_ENDPOINT = "http://localhost:4318" } : {},
    var.extra_environment,
  )

  app_secrets = merge(
    var.app_secrets,
    var.temporal_secrets,
    { AGENT_RUNTIME_DATABASE_PASSWORD = "${var.db_master_secret_arn}:password::" },
  )

  secret_kms_key_arns = distinct(concat(var.secret_kms_key_arns, [var.data_kms_key_arn]))

  adot_secrets = var.otlp_authorization_secret_arn == null ? {} : {
    OTLP_EXPORTER_AUTHORIZATION = var.otlp_authorization_secret_arn
  }
}

# ---------------------------------------------------------------------------------------------
# Registry

resource "aws_ecr_repository" "this" {
  name                 = var.name_prefix
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.data_kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after 7 days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 7
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest ${var.ecr_image_retention_count} tagged images (rollback targets)"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_image_retention_count
        }
        action = { type = "expire" }
      },
    ]
  })
}

# ---------------------------------------------------------------------------------------------
# Cluster and service discovery (api.<ns>, temporal.<ns>, keycloak.<ns> A records).

resource "aws_ecs_cluster" "this" {
  name = var.name_prefix

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = var.logs_kms_key_arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = var.log_group_names["ecs-exec"]
      }
    }
  }

  tags = var.tags
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = local.namespace
  description = "Service discovery of ${var.name_prefix} (api, temporal, keycloak)"
  vpc         = var.vpc_id
  tags        = var.tags
}

# ---------------------------------------------------------------------------------------------
# Task role policies

data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["tenants/*", "v0/*"]
    }
  }

  statement {
    sid = "ObjectsOfOwnPrefixes"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [
      "${var.bucket_arn}/tenants/*",
      "${var.bucket_arn}/v0/*",
    ]
  }

  statement {
    sid       = "BucketKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.data_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = var.amp_workspace_arn == null ? [] : [var.amp_workspace_arn]
    content {
      sid       = "PrometheusRemoteWrite"
      actions   = ["aps:RemoteWrite"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "worker" {
  source_policy_documents = [data.aws_iam_policy_document.app.json]

  # The ADOT collector's awsemf exporter: embedded-metric-format logs become the backlog metric.
  statement {
    sid       = "EmfLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [var.emf_log_group_arn, "${var.emf_log_group_arn}:*"]
  }
}

# ---------------------------------------------------------------------------------------------
# Sidecars

locals {
  adot_api = {
    name                 = "otel-collector"
    image                = var.adot_image
    environment          = { AOT_CONFIG_CONTENT = var.adot_config_api }
    secrets              = local.adot_secrets
    health_check_command = ["CMD", "/healthcheck"]
    user                 = "10001:10001"
    cpu                  = 128
    memory_reservation   = 128
    # The application keeps running if the collector dies; ECS restarts neither, the
    # health check shows it.
    essential = false
  }

  adot_worker = merge(local.adot_api, {
    environment = { AOT_CONFIG_CONTENT = var.adot_config_worker }
    # Worker autoscaling depends on this collector: without it the task is replaced.
    essential = true
  })
}

# ---------------------------------------------------------------------------------------------
# API

module "api" {
  source = "../ecs-service"

  name        = "api"
  name_prefix = var.name_prefix
  region      = local.region
  cluster_arn = aws_ecs_cluster.this.arn
  image       = local.image
  command     = ["agent-runtime", "api", "--host", "0.0.0.0", "--port", "8000"]
  cpu         = var.api.cpu
  memory      = var.api.memory

  environment = merge(local.app_environment, {
    AGENT_RUNTIME_METRICS_ENABLED = "true"
    # Uvicorn takes X-Forwarded-* from Kong (only Kong reaches the API: its security group).
    FORWARDED_ALLOW_IPS = "*"
  }, var.oidc_environment)
  secrets = local.app_secrets

  port_mappings = [{ container_port = 8000, name = "http" }]
  # The image's probe (standard library only, ~50 ms): GET /healthz on the API's port.
  health_check_command      = ["CMD", "agent-runtime", "healthcheck", "--target", "api"]
  health_check_start_period = 60
  readonly_root_filesystem  = true
  writable_paths            = ["/tmp"]
  user                      = "10001:10001"
  stop_timeout              = 30
  sidecars                  = var.api_collector_enabled ? [local.adot_api] : []
  cpu_architecture          = var.cpu_architecture

  log_group_name     = var.log_group_names["api"]
  log_group_arn      = var.log_group_arns["api"]
  kms_key_arns       = local.secret_kms_key_arns
  ecr_repository_arn = aws_ecr_repository.this.arn
  task_role_policies = { application = data.aws_iam_policy_document.app.json }

  subnet_ids                    = var.private_subnet_ids
  security_group_ids            = [var.security_group_ids["api"]]
  service_discovery             = { namespace_id = aws_service_discovery_private_dns_namespace.this.id }
  desired_count                 = var.api.min_count
  autoscaling                   = { min_capacity = var.api.min_count, max_capacity = var.api.max_count }
  enable_execute_command        = var.enable_execute_command
  execute_command_log_group_arn = var.log_group_arns["ecs-exec"]
  execute_command_kms_key_arn   = var.logs_kms_key_arn

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# Worker

module "worker" {
  source = "../ecs-service"

  name        = "worker"
  name_prefix = var.name_prefix
  region      = local.region
  cluster_arn = aws_ecs_cluster.this.arn
  image       = local.image
  command     = ["agent-runtime", "worker"]
  cpu         = var.worker.cpu
  memory      = var.worker.memory

  environment = merge(local.app_environment, {
    AGENT_RUNTIME_WORKER_METRICS_PORT        = "9464"
    AGENT_RUNTIME_WORKER_GRACEFUL_SHUTDOWN_S = tostring(var.worker_graceful_shutdown_s)
  })
  secrets = local.app_secrets

  port_mappings = [{ container_port = 9464, name = "metrics" }]
  # The image's probe: the worker's health file (AGENT_RUNTIME_WORKER_HEALTH_FILE, set by the
  # image), touched every 5 s by the worker's event loop and removed when it stops; a wedged
  # loop fails it, where the metrics server (its own thread) would still answer.
  health_check_command      = ["CMD", "agent-runtime", "healthcheck", "--target", "worker"]
  health_check_start_period = 60
  readonly_root_filesystem  = true
  writable_paths            = ["/tmp"]
  user                      = "10001:10001"
  # SIGTERM, then up to 120 s (Fargate's maximum) for in-flight activities to finish.
  stop_timeout     = 120
  sidecars         = [local.adot_worker]
  cpu_architecture = var.cpu_architecture

  log_group_name     = var.log_group_names["worker"]
  log_group_arn      = var.log_group_arns["worker"]
  kms_key_arns       = local.secret_kms_key_arns
  ecr_repository_arn = aws_ecr_repository.this.arn
  task_role_policies = { application = data.aws_iam_policy_document.worker.json }

  subnet_ids             = var.private_subnet_ids
  security_group_ids     = [var.security_group_ids["worker"]]
  desired_count          = var.worker.min_count
  autoscaling            = { min_capacity = var.worker.min_count, max_capacity = var.worker.max_count }
  enable_execute_command = var.enable_execute_command

  execute_command_log_group_arn = var.log_group_arns["ecs-exec"]
  execute_command_kms_key_arn   = var.logs_kms_key_arn

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# Migrate (and other one-off admin commands): a task definition without a service, run with
# `aws ecs run-task` before each deploy. It needs the database only.

module "migrate" {
  source = "../ecs-service"

  name           = "migrate"
  name_prefix    = var.name_prefix
  region         = local.region
  cluster_arn    = aws_ecs_cluster.this.arn
  image          = local.image
  command        = ["agent-runtime", "migrate"]
  cpu            = 256
  memory         = 512
  create_service = false

  environment = { AGENT_RUNTIME_DATABASE_URL = local.database_url }
  secrets     = { AGENT_RUNTIME_DATABASE_PASSWORD = "${var.db_master_secret_arn}:password::" }

  # A one-off task: healthy as soon as Python runs.
  health_check_command     = ["CMD", "python", "-c", "import agent_runtime_core"]
  readonly_root_filesystem = true
  writable_paths           = ["/tmp"]
  user                     = "10001:10001"
  cpu_architecture         = var.cpu_architecture

  log_group_name     = var.log_group_names["migrate"]
  log_group_arn      = var.log_group_arns["migrate"]
  kms_key_arns       = [var.data_kms_key_arn]
  ecr_repository_arn = aws_ecr_repository.this.arn

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# Kong (DB-less, gateway/kong.yaml), the ALB's only target.

module "kong" {
  source = "../ecs-service"

  name        = "kong"
  name_prefix = var.name_prefix
  region      = local.region
  cluster_arn = aws_ecs_cluster.this.arn
  image       = var.kong_image
  cpu         = var.kong.cpu
  memory      = var.kong.memory

  environment = {
    KONG_DATABASE                  = "off"
    KONG_DECLARATIVE_CONFIG_STRING = local.kong_config
    KONG_PROXY_LISTEN              = "0.0.0.0:8000"
    # /status/ready for the ALB's health check (ready once the declarative config is loaded).
    KONG_STATUS_LISTEN = "0.0.0.0:8100"
    KONG_ADMIN_LISTEN  = "off"
    # Client IPs (rate limiting by IP) from the ALB's X-Forwarded-For.
    KONG_TRUSTED_IPS            = var.vpc_cidr
    KONG_REAL_IP_HEADER         = "X-Forwarded-For"
    KONG_REAL_IP_RECURSIVE      = "on"
    KONG_PROXY_ACCESS_LOG       = "/dev/stdout"
    KONG_PROXY_ERROR_LOG        = "/dev/stderr"
    KONG_NGINX_WORKER_PROCESSES = "auto"
  }

  port_mappings = [
    { container_port = 8000, name = "proxy" },
    { container_port = 8100, name = "status" },
  ]
  health_check_command      = ["CMD", "kong", "health"]
  health_check_start_period = 30
  # Kong renders nginx.conf and pid files into its prefix (/usr/local/kong, owned by the image's
  # non-root `kong` user) at start; the official image declares no volume a read-only root could
  # use (Fargate bind mounts are root-owned).
  readonly_root_filesystem = false
  user                     = "kong"
  stop_timeout             = 30

  log_group_name = var.log_group_names["kong"]
  log_group_arn  = var.log_group_arns["kong"]

  subnet_ids                = var.private_subnet_ids
  security_group_ids        = [var.security_group_ids["kong"]]
  load_balancers            = [{ target_group_arn = var.kong_target_group_arn, container_port = 8000 }]
  health_check_grace_period = 60
  desired_count             = var.kong.min_count
  autoscaling               = { min_capacity = var.kong.min_count, max_capacity = var.kong.max_count }

  tags = var.tags
}
