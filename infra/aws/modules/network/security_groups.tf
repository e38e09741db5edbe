# One security group per service. Ingress always names the source security group (never a
# CIDR), except the ALB's 443/80 from the internet. Every rule says why it exists.

locals {
  security_groups = {
    alb         = "Internet-facing ALB: HTTPS (and the HTTP redirect) from clients"
    kong        = "Kong gateway tasks: proxy traffic from the ALB only"
    api         = "API tasks: requests from Kong only"
    worker      = "Temporal worker tasks (and one-off migrate / admin tasks): no inbound traffic"
    temporal    = "Self-hosted Temporal server: gRPC from the API and workers only"
    temporal_ui = "Temporal Web UI: from the ALB only"
    keycloak    = "Keycloak: from the ALB (users) and the API (JWKS)"
    rds         = "PostgreSQL: from the services that own a database only"
    redis       = "Valkey/Redis: from the API and workers only"
  }

  # source => target, port, why. Keys are stable names so rules can be added without churn.
  ingress_rules = {
    kong_from_alb           = { sg = "kong", from = "alb", port = 8000, to = 8000, why = "ALB forwards client requests to the Kong proxy" }
    kong_status_from_alb    = { sg = "kong", from = "alb", port = 8100, to = 8100, why = "ALB health checks Kong's status endpoint (/status/ready)" }
    api_from_kong           = { sg = "api", from = "kong", port = 8000, to = 8000, why = "Kong proxies /v1 and the other API routes to the API" }
    temporal_from_api       = { sg = "temporal", from = "api", port = 7233, to = 7233, why = "API starts, signals and queries workflows (Temporal frontend gRPC)" }
    temporal_from_worker    = { sg = "temporal", from = "worker", port = 7233, to = 7233, why = "Workers poll task queues (Temporal frontend gRPC)" }
    temporal_from_ui        = { sg = "temporal", from = "temporal_ui", port = 7233, to = 7233, why = "Temporal Web UI reads workflows through the frontend" }
    temporal_membership     = { sg = "temporal", from = "temporal", port = 6933, to = 6939, why = "Temporal services' membership (ringpop) between server tasks" }
    temporal_internal_grpc  = { sg = "temporal", from = "temporal", port = 7233, to = 7239, why = "Temporal services' internal gRPC between server tasks" }
    temporal_ui_from_alb    = { sg = "temporal_ui", from = "alb", port = 8080, to = 8080, why = "ALB forwards the Temporal UI host (allowed CIDRs only) to the UI" }
    keycloak_from_alb       = { sg = "keycloak", from = "alb", port = 8080, to = 8080, why = "ALB forwards the identity host to Keycloak (HTTP, TLS ends at the ALB)" }
    keycloak_mgmt_from_alb  = { sg = "keycloak", from = "alb", port = 9000, to = 9000, why = "ALB health checks Keycloak's management port (/health/ready)" }
    keycloak_from_api       = { sg = "keycloak", from = "api", port = 8080, to = 8080, why = "API fetches the realm's signing keys (JWKS) over the VPC" }
    keycloak_cluster        = { sg = "keycloak", from = "keycloak", port = 7800, to = 7800, why = "Keycloak nodes' Infinispan cluster traffic (JGroups)" }
    rds_from_api            = { sg = "rds", from = "api", port = 5432, to = 5432, why = "API reads and writes the agent_runtime database" }
    rds_from_worker         = { sg = "rds", from = "worker", port = 5432, to = 5432, why = "Workers (and migrate/admin one-off tasks) use the agent_runtime database" }
    rds_from_temporal       = { sg = "rds", from = "temporal", port = 5432, to = 5432, why = "Self-hosted Temporal keeps its temporal and temporal_visibility databases here" }
    rds_from_keycloak       = { sg = "rds", from = "keycloak", port = 5432, to = 5432, why = "Keycloak keeps its keycloak database here" }
    redis_from_api          = { sg = "redis", from = "api", port = 6379, to = 6379, why = "API: live event streams, rate limits, read cache" }
    redis_from_worker       = { sg = "redis", from = "worker", port = 6379, to = 6379, why = "Workers publish live run events" }
    endpoints_from_api      = { sg = "endpoints", from = "api", port = 443, to = 443, why = "API tasks: ECR pulls, logs, secrets through private endpoints" }
    endpoints_from_worker   = { sg = "endpoints", from = "worker", port = 443, to = 443, why = "Worker tasks: ECR pulls, logs, secrets through private endpoints" }
    endpoints_from_kong     = { sg = "endpoints", from = "kong", port = 443, to = 443, why = "Kong tasks: logs and secrets through private endpoints" }
    endpoints_from_temporal = { sg = "endpoints", from = "temporal", port = 443, to = 443, why = "Temporal tasks: logs and secrets through private endpoints" }
    endpoints_from_ui       = { sg = "endpoints", from = "temporal_ui", port = 443, to = 443, why = "Temporal UI tasks: logs through private endpoints" }
    endpoints_from_keycloak = { sg = "endpoints", from = "keycloak", port = 443, to = 443, why = "Keycloak tasks: logs and secrets through private endpoints" }
  }

  # Egress to other groups of the VPC (what each service calls).
  egress_to_groups = {
    alb_to_kong          = { sg = "alb", to_sg = "kong", port = 8000, to = 8000, why = "Forward requests to Kong" }
    alb_to_kong_status   = { sg = "alb", to_sg = "kong", port = 8100, to = 8100, why = "Health check Kong" }
    alb_to_keycloak      = { sg = "alb", to_sg = "keycloak", port = 8080, to = 8080, why = "Forward the identity host to Keycloak" }
    alb_to_keycloak_mgmt = { sg = "alb", to_sg = "keycloak", port = 9000, to = 9000, why = "Health check Keycloak" }
    alb_to_temporal_ui   = { sg = "alb", to_sg = "temporal_ui", port = 8080, to = 8080, why = "Forward the Temporal UI host" }
    kong_to_api          = { sg = "kong", to_sg = "api", port = 8000, to = 8000, why = "Proxy to the API" }
    api_to_rds           = { sg = "api", to_sg = "rds", port = 5432, to = 5432, why = "Postgres" }
    api_to_redis         = { sg = "api", to_sg = "redis", port = 6379, to = 6379, why = "Valkey/Redis" }
    api_to_temporal      = { sg = "api", to_sg = "temporal", port = 7233, to = 7233, why = "Self-hosted Temporal" }
    api_to_keycloak      = { sg = "api", to_sg = "keycloak", port = 8080, to = 8080, why = "JWKS" }
    worker_to_rds        = { sg = "worker", to_sg = "rds", port = 5432, to = 5432, why = "Postgres" }
    worker_to_redis      = { sg = "worker", to_sg = "redis", port = 6379, to = 6379, why = "Valkey/Redis" }
    worker_to_temporal   = { sg = "worker", to_sg = "temporal", port = 7233, to = 7233, why = "Self-hosted Temporal" }
    temporal_to_rds      = { sg = "temporal", to_sg = "rds", port = 5432, to = 5432, why = "Temporal's databases" }
    temporal_to_self     = { sg = "temporal", to_sg = "temporal", port = 6933, to = 7239, why = "Temporal membership and internal gRPC" }
    ui_to_temporal       = { sg = "temporal_ui", to_sg = "temporal", port = 7233, to = 7233, why = "Temporal frontend" }
    keycloak_to_rds      = { sg = "keycloak", to_sg = "rds", port = 5432, to = 5432, why = "Keycloak's database" }
    keycloak_to_self     = { sg = "keycloak", to_sg = "keycloak", port = 7800, to = 7800, why = "Keycloak cluster (JGroups)" }
  }

  # HTTPS to the internet (through NAT): public container registries (Docker Hub, quay.io,
  # public ECR), S3 (gateway endpoint prefix), STS/KMS/CloudWatch APIs.
  egress_https = ["kong", "api", "temporal", "temporal_ui", "keycloak"]
}

resource "aws_security_group" "this" {
  # checkov:skip=CKV2_AWS_5: attached outside this module (ALB, ECS services, RDS, ElastiCache) through the security_group_ids output
  for_each = local.security_groups

  # A name prefix: create_before_destroy needs the replacement to have another name.
  name_prefix = "${var.name_prefix}-${replace(each.key, "_", "-")}-"
  description = each.value
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name_prefix}-${replace(each.key, "_", "-")}" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name_prefix}-vpc-endpoints"
  description = "Interface VPC endpoints: HTTPS from the tasks"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-vpc-endpoints" })
}

locals {
  sg_ids = merge(
    { for k, sg in aws_security_group.this : k => sg.id },
    { endpoints = aws_security_group.endpoints.id },
  )
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = local.sg_ids.alb
  description       = "HTTPS from anywhere: the platform's public entry point"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  # checkov:skip=CKV_AWS_260: port 80 only answers with a 301 to HTTPS (edge module's HTTP listener); nothing is served over plain HTTP
  security_group_id = local.sg_ids.alb
  description       = "HTTP from anywhere, only to answer with a redirect to HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = local.ingress_rules

  security_group_id            = local.sg_ids[each.value.sg]
  referenced_security_group_id = local.sg_ids[each.value.from]
  description                  = each.value.why
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.to
  tags                         = var.tags
}

resource "aws_vpc_security_group_egress_rule" "to_groups" {
  for_each = local.egress_to_groups

  security_group_id            = local.sg_ids[each.value.sg]
  referenced_security_group_id = local.sg_ids[each.value.to_sg]
  description                  = each.value.why
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.to
  tags                         = var.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  for_each = toset(local.egress_https)

  security_group_id = local.sg_ids[each.value]
  description       = "HTTPS out: AWS APIs, S3 and public image registries (through NAT or endpoints)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = var.tags
}

# Workers call model providers, MCP servers and tenants' HTTP tools wherever they are, on any
# port (tools_require_https still enforces TLS at the application layer).
resource "aws_vpc_security_group_egress_rule" "worker_any_tcp" {
  security_group_id = local.sg_ids.worker
  description       = "Workers: model providers, MCP servers and HTTP tools on any public host and port"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 1
  to_port           = 65535
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "temporal_cloud" {
  for_each = var.temporal_cloud ? toset(["api"]) : toset([])

  security_group_id = local.sg_ids[each.value]
  description       = "Temporal Cloud gRPC endpoint (port 7233, mTLS or API key)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 7233
  to_port           = 7233
  tags              = var.tags
}
