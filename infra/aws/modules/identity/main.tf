# Who signs users in:
# - keycloak: Keycloak 26 on ECS (`start --import-realm`) with auth/realm-agent-runtime.json,
#   its own `keycloak` database on the platform's RDS instance, the bootstrap admin password in
#   Secrets Manager, routed by the ALB on its host name (admin paths only from allowed CIDRs);
# - external: the API just gets the provider's issuer / audience / JWKS URL.

locals {
  keycloak = var.identity_mode == "keycloak"

  issuer = local.keycloak ? "https://${var.keycloak_hostname}/realms/agent-runtime" : var.oidc_issuer

  api_environment = merge(
    local.issuer == "" ? {} : {
      AGENT_RUNTIME_OIDC_ISSUER   = local.issuer
      AGENT_RUNTIME_OIDC_AUDIENCE = var.oidc_audience
    },
    # Keycloak: the API fetches signing keys over the VPC (the issuer in tokens stays public).
    local.keycloak ? {
      AGENT_RUNTIME_OIDC_JWKS_URL          = "http://keycloak.${var.service_discovery_namespace_name}:8080/realms/agent-runtime/protocol/openid-connect/certs"
      AGENT_RUNTIME_CONSOLE_OIDC_CLIENT_ID = coalesce(var.console_oidc_client_id, "agent-runtime-console")
    } : {},
    !local.keycloak && var.oidc_jwks_url != "" ? { AGENT_RUNTIME_OIDC_JWKS_URL = var.oidc_jwks_url } : {},
    !local.keycloak && var.console_oidc_client_id != "" ? { AGENT_RUNTIME_CONSOLE_OIDC_CLIENT_ID = var.console_oidc_client_id } : {},
  )
}

# ---------------------------------------------------------------------------------------------
# The realm, as auth/README.md says real deployments should have it: without the demo users and
# without the password grant (unless import_demo_users), and with the console's redirect URI on
# the API's public host.

locals {
  realm = jsondecode(file(var.realm_path))

  console_overrides = {
    redirectUris = ["https://${var.api_hostname}/console/"]
    webOrigins   = ["https://${var.api_hostname}"]
  }

  realm_for_import = merge(local.realm, {
    # The export's display name announces its demo users: not true of this import.
    displayName = var.import_demo_users ? local.realm.displayName : "Agent Runtime"
    users       = slice(local.realm.users, 0, var.import_demo_users ? length(local.realm.users) : 0)
    clients = [
      for c in local.realm.clients : merge(
        c,
        { for k, v in local.console_overrides : k => v if c.clientId == "agent-runtime-console" },
        { directAccessGrantsEnabled = var.import_demo_users && try(c.directAccessGrantsEnabled, false) },
      )
    ]
  })

  create_database_script = join(" ", [
    "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'keycloak'\" | grep -q 1",
    "|| psql -c 'CREATE DATABASE keycloak'",
  ])

  # The image has a shell: write the realm from the environment, then start Keycloak with it.
  keycloak_start_script = join(" && ", [
    "mkdir -p /opt/keycloak/data/import",
    "printf '%s' \"$KC_REALM_IMPORT_JSON\" > /opt/keycloak/data/import/agent-runtime.json",
    "exec /opt/keycloak/bin/kc.sh start --import-realm",
  ])
}

resource "random_password" "admin" {
  count = local.keycloak ? 1 : 0

  length  = 32
  special = false
}

resource "aws_secretsmanager_secret" "admin" {
  # checkov:skip=CKV2_AWS_57: the bootstrap admin is temporary in Keycloak 26; replace it with a permanent admin (and rotate that in Keycloak), not with a rotation Lambda
  count = local.keycloak ? 1 : 0

  name                    = "${var.name_prefix}/keycloak-admin"
  description             = "Keycloak bootstrap admin password (user `admin`, master realm)."
  kms_key_id              = var.secrets_kms_key_arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "admin" {
  count = local.keycloak ? 1 : 0

  secret_id     = aws_secretsmanager_secret.admin[0].id
  secret_string = random_password.admin[0].result
}

module "keycloak" {
  source = "../ecs-service"
  count  = local.keycloak ? 1 : 0

  name        = "keycloak"
  name_prefix = var.name_prefix
  region      = var.region
  cluster_arn = var.cluster_arn
  image       = var.keycloak_image
  entry_point = ["/bin/sh", "-c"]
  command     = [local.keycloak_start_script]
  cpu         = var.keycloak_cpu
  memory      = var.keycloak_memory

  environment = {
    KC_DB                           = "postgres"
    KC_DB_URL                       = "jdbc:postgresql://${var.db_address}:${var.db_port}/keycloak?sslmode=require"
    KC_DB_USERNAME                  = var.db_username
    KC_HOSTNAME                     = "https://${var.keycloak_hostname}"
    KC_HOSTNAME_BACKCHANNEL_DYNAMIC = "true"
    KC_PROXY_HEADERS                = "xforwarded"
    KC_HTTP_ENABLED                 = "true"
    KC_HTTP_PORT                    = "8080"
    KC_HEALTH_ENABLED               = "true"
    KC_METRICS_ENABLED              = "true"
    KC_BOOTSTRAP_ADMIN_USERNAME     = "admin"
    KC_REALM_IMPORT_JSON            = jsonencode(local.realm_for_import)
  }
  secrets = {
    KC_DB_PASSWORD              = "${var.db_master_secret_arn}:password::"
    KC_BOOTSTRAP_ADMIN_PASSWORD = aws_secretsmanager_secret.admin[0].arn
  }

  init_containers = [{
    name    = "create-database"
    image   = var.postgres_client_image
    command = ["sh", "-c", local.create_database_script]
    user    = "70:70"
    environment = {
      PGHOST     = var.db_address
      PGPORT     = tostring(var.db_port)
      PGUSER     = var.db_username
      PGDATABASE = var.db_name
      PGSSLMODE  = "require"
    }
    secrets = {
      PGPASSWORD = "${var.db_master_secret_arn}:password::"
    }
  }]

  port_mappings = [
    { container_port = 8080, name = "http" },
    { container_port = 9000, name = "management" },
    { container_port = 7800, name = "jgroups" },
  ]
  # The image has no curl: ask the management port over bash's /dev/tcp (as docker/compose.yaml).
  health_check_command = [
    "CMD-SHELL",
    "exec 3<>/dev/tcp/127.0.0.1/9000 && printf 'GET /health/ready HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '\"UP\"' <&3",
  ]
  health_check_start_period = 180
  # Keycloak builds its runtime (and writes the realm file) at start; it runs as its own
  # non-root user (uid 1000).
  readonly_root_filesystem = false
  user                     = "1000:0"
  stop_timeout             = 30

  log_group_name = var.log_group_names["keycloak"]
  log_group_arn  = var.log_group_arns["keycloak"]
  kms_key_arns   = [var.db_kms_key_arn, var.secrets_kms_key_arn]

  subnet_ids                = var.private_subnet_ids
  security_group_ids        = [var.security_group_ids["keycloak"]]
  service_discovery         = { namespace_id = var.service_discovery_namespace_id }
  load_balancers            = [{ target_group_arn = aws_lb_target_group.keycloak[0].arn, container_port = 8080 }]
  health_check_grace_period = 300
  desired_count             = var.keycloak_count
  autoscaling               = { min_capacity = var.keycloak_count, max_capacity = var.keycloak_count }

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# ALB routing: the Keycloak host; /admin/* only from allowed CIDRs.

resource "aws_lb_target_group" "keycloak" {
  # checkov:skip=CKV_AWS_378: TLS ends at the ALB; the hop to Keycloak stays inside the VPC's private subnets, allowed by security groups only
  count = local.keycloak ? 1 : 0

  name                 = "${substr(var.name_prefix, 0, 23)}-keycloak"
  port                 = 8080
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  target_type          = "ip"
  deregistration_delay = 30

  stickiness {
    type            = "lb_cookie"
    enabled         = true
    cookie_duration = 3600
  }

  health_check {
    enabled  = true
    port     = "9000"
    path     = "/health/ready"
    matcher  = "200"
    interval = 30
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "keycloak_admin_allowed" {
  count = local.keycloak && length(var.keycloak_admin_allowed_cidrs) > 0 ? 1 : 0

  listener_arn = var.https_listener_arn
  priority     = 9

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.keycloak[0].arn
  }

  condition {
    host_header {
      values = [var.keycloak_hostname]
    }
  }

  condition {
    path_pattern {
      values = ["/admin/*"]
    }
  }

  condition {
    source_ip {
      values = var.keycloak_admin_allowed_cidrs
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "keycloak_admin_denied" {
  count = local.keycloak ? 1 : 0

  listener_arn = var.https_listener_arn
  priority     = 10

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "Forbidden"
      status_code  = "403"
    }
  }

  condition {
    host_header {
      values = [var.keycloak_hostname]
    }
  }

  condition {
    path_pattern {
      values = ["/admin/*"]
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "keycloak" {
  count = local.keycloak ? 1 : 0

  listener_arn = var.https_listener_arn
  priority     = 11

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.keycloak[0].arn
  }

  condition {
    host_header {
      values = [var.keycloak_hostname]
    }
  }

  lifecycle {
    precondition {
      condition     = var.keycloak_hostname != ""
      error_message = "identity_mode = keycloak needs keycloak_hostname."
    }
  }

  tags = var.tags
}
