# Temporal for the platform, either
# - cloud: Temporal Cloud. The API and workers get the namespace endpoint, TLS on, and the
#   credentials (API key, or mTLS client certificate and key) from a Secrets Manager secret; or
# - self_hosted: a Temporal server on ECS (temporalio/auto-setup: creates and updates its schema
#   in the `temporal` and `temporal_visibility` databases of the platform's RDS instance, and the
#   namespace), reachable on 7233 from the API, worker and UI security groups only, registered as
#   temporal.<cloud map namespace>; optionally the Temporal Web UI behind the ALB.

locals {
  cloud       = var.temporal_mode == "cloud"
  self_hosted = var.temporal_mode == "self_hosted"

  self_hosted_address = "temporal.${var.service_discovery_namespace_name}:7233"

  app_environment = {
    AGENT_RUNTIME_TEMPORAL_ADDRESS   = local.cloud ? var.cloud_address : local.self_hosted_address
    AGENT_RUNTIME_TEMPORAL_NAMESPACE = var.namespace
    AGENT_RUNTIME_TEMPORAL_TLS       = local.cloud ? "true" : "false"
  }

  app_secrets = !local.cloud ? {} : (
    var.cloud_auth == "api_key" ? {
      AGENT_RUNTIME_TEMPORAL_API_KEY = aws_secretsmanager_secret.cloud[0].arn
      } : {
      AGENT_RUNTIME_TEMPORAL_TLS_CLIENT_CERT = "${aws_secretsmanager_secret.cloud[0].arn}:tls_client_cert::"
      AGENT_RUNTIME_TEMPORAL_TLS_CLIENT_KEY  = "${aws_secretsmanager_secret.cloud[0].arn}:tls_client_key::"
    }
  )

  placeholder = "REPLACE_ME"
}

# ---------------------------------------------------------------------------------------------
# Temporal Cloud credentials (set by hand: tofu creates a placeholder and never overwrites it).

resource "aws_secretsmanager_secret" "cloud" {
  # checkov:skip=CKV2_AWS_57: Temporal Cloud API keys and client certificates are issued by Temporal Cloud (tcld / the web console); rotate them there and put the new value
  count = local.cloud ? 1 : 0

  name                    = "${var.name_prefix}/temporal-cloud"
  description             = var.cloud_auth == "api_key" ? "Temporal Cloud API key (AGENT_RUNTIME_TEMPORAL_API_KEY)." : "Temporal Cloud mTLS client: JSON keys tls_client_cert and tls_client_key (PEM)."
  kms_key_id              = var.secrets_kms_key_arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "cloud" {
  count = local.cloud ? 1 : 0

  secret_id = aws_secretsmanager_secret.cloud[0].id
  secret_string = var.cloud_auth == "api_key" ? local.placeholder : jsonencode({
    tls_client_cert = local.placeholder
    tls_client_key  = local.placeholder
  })

  lifecycle {
    ignore_changes = [secret_string]

    precondition {
      condition     = var.cloud_address != "" && var.namespace != "default"
      error_message = "temporal_mode = cloud needs temporal_cloud_address and temporal_namespace (<name>.<account id>)."
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Self-hosted server

module "server" {
  source = "../ecs-service"
  count  = local.self_hosted ? 1 : 0

  name        = "temporal"
  name_prefix = var.name_prefix
  region      = var.region
  cluster_arn = var.cluster_arn
  image       = var.server_image
  cpu         = var.server_cpu
  memory      = var.server_memory

  environment = {
    DB                                = "postgres12"
    DB_PORT                           = tostring(var.db_port)
    POSTGRES_SEEDS                    = var.db_address
    POSTGRES_USER                     = var.db_username
    DBNAME                            = "temporal"
    VISIBILITY_DBNAME                 = "temporal_visibility"
    DEFAULT_NAMESPACE                 = var.namespace
    DEFAULT_NAMESPACE_RETENTION       = var.namespace_retention
    SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES = "true"
    # rds.force_ssl = 1: the schema tool and the server both connect with TLS. Host verification
    # is off because the image carries no RDS CA bundle; the traffic is still encrypted.
    POSTGRES_TLS_ENABLED                   = "true"
    POSTGRES_TLS_DISABLE_HOST_VERIFICATION = "true"
    SQL_TLS_ENABLED                        = "true"
    SQL_HOST_VERIFICATION                  = "false"
  }
  secrets = {
    POSTGRES_PWD = "${var.db_master_secret_arn}:password::"
  }

  port_mappings = [{ container_port = 7233, name = "grpc" }]
  health_check_command = [
    "CMD-SHELL",
    "temporal operator cluster health --address \"$(getent hosts \"$(hostname)\" | awk '{print $1; exit}'):7233\" | grep -q SERVING",
  ]
  health_check_start_period = 120
  # The image renders its configuration into /etc/temporal/config at start; it runs as its own
  # non-root user (temporal), so `user` stays the image's.
  readonly_root_filesystem = false
  stop_timeout             = 60

  log_group_name = var.log_group_names["temporal"]
  log_group_arn  = var.log_group_arns["temporal"]
  kms_key_arns   = [var.db_kms_key_arn]

  subnet_ids         = var.private_subnet_ids
  security_group_ids = [var.security_group_ids["temporal"]]
  service_discovery  = { namespace_id = var.service_discovery_namespace_id }
  # One server task: auto-setup runs every Temporal service in one process. Replace, don't overlap.
  desired_count                      = 1
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  autoscaling                        = { min_capacity = 1, max_capacity = 1 }

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# Temporal Web UI (self-hosted, optional): ALB host rule limited to allowed source CIDRs.

locals {
  ui = local.self_hosted && var.ui_enabled
}

module "ui" {
  source = "../ecs-service"
  count  = local.ui ? 1 : 0

  name        = "temporal-ui"
  name_prefix = var.name_prefix
  region      = var.region
  cluster_arn = var.cluster_arn
  image       = var.ui_image
  cpu         = 256
  memory      = 512

  environment = merge(
    {
      TEMPORAL_ADDRESS           = local.self_hosted_address
      TEMPORAL_UI_PORT           = "8080"
      TEMPORAL_DEFAULT_NAMESPACE = var.namespace
    },
    var.codec_endpoint == "" ? {} : {
      TEMPORAL_CODEC_ENDPOINT = var.codec_endpoint
    },
  )

  port_mappings             = [{ container_port = 8080, name = "http" }]
  health_check_command      = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1"]
  health_check_start_period = 30
  # The image renders its configuration file at start, as its own non-root user.
  readonly_root_filesystem = false

  log_group_name = var.log_group_names["temporal-ui"]
  log_group_arn  = var.log_group_arns["temporal-ui"]

  subnet_ids                = var.private_subnet_ids
  security_group_ids        = [var.security_group_ids["temporal_ui"]]
  load_balancers            = [{ target_group_arn = aws_lb_target_group.ui[0].arn, container_port = 8080 }]
  health_check_grace_period = 60
  desired_count             = 1
  autoscaling               = { min_capacity = 1, max_capacity = 1 }

  tags = var.tags
}

resource "aws_lb_target_group" "ui" {
  # checkov:skip=CKV_AWS_378: TLS ends at the ALB; the hop to the UI stays inside the VPC's private subnets, allowed by security groups only
  count = local.ui ? 1 : 0

  name        = "${substr(var.name_prefix, 0, 23)}-tmprl-ui"
  port        = 8080
  protocol    = "HTTP"
  vpc_id      = var.vpc_id
  target_type = "ip"

  health_check {
    enabled  = true
    path     = "/healthz"
    matcher  = "200"
    interval = 30
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "ui" {
  count = local.ui ? 1 : 0

  listener_arn = var.https_listener_arn
  priority     = 20

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.ui[0].arn
  }

  condition {
    host_header {
      values = [var.ui_hostname]
    }
  }

  condition {
    source_ip {
      values = var.ui_allowed_cidrs
    }
  }

  lifecycle {
    precondition {
      condition     = var.ui_hostname != "" && length(var.ui_allowed_cidrs) > 0
      error_message = "The Temporal UI needs temporal_ui_hostname and temporal_ui_allowed_cidrs (it has no sign-in of its own)."
    }
  }

  tags = var.tags
}
