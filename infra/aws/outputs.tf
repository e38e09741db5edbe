locals {
  search_attributes_overrides = jsonencode({
    containerOverrides = [{
      name    = "migrate"
      command = module.temporal.search_attributes_command_args
    }]
  })
}

output "api_url" {
  description = "Public URL of the platform (Kong → API); create a DNS record for it pointing at alb_dns_name."
  value       = "https://${var.api_hostname}"
}

output "alb_dns_name" {
  description = "DNS name of the ALB: CNAME (or Route 53 alias with alb_zone_id) api_hostname, keycloak_hostname and temporal_ui_hostname to it."
  value       = module.edge.alb_dns_name
}

output "alb_zone_id" {
  description = "Hosted zone id of the ALB, for Route 53 alias records."
  value       = module.edge.alb_zone_id
}

output "ecr_repository_url" {
  description = "ECR repository to push the agent-runtime image to (tag = image_tag)."
  value       = module.compute.ecr_repository_url
}

output "image" {
  description = "Image the API, workers and migrate task run."
  value       = module.compute.image
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.compute.cluster_name
}

output "service_names" {
  description = "ECS services of the platform (api, worker, kong)."
  value = {
    api    = module.compute.api_service_name
    worker = module.compute.worker_service_name
    kong   = module.compute.kong_service_name
  }
}

output "migrate_command" {
  description = "Exact command running the database migrations as a one-off ECS task: run it (and check exit code 0) before every deploy."
  value       = module.compute.migrate_command
}

output "create_admin_api_key_command" {
  description = "Creates the first admin API key (tenant ten_default, the operators'); the token is in the migrate log group, valid one day: use it to create a real key with POST /v1/api-keys."
  value       = module.compute.create_admin_api_key_command
}

output "register_search_attributes_command" {
  description = "Self-hosted Temporal: registers the search attributes runs are tagged with (once per namespace). Temporal Cloud: add them with tcld or the web UI instead."
  value       = var.temporal_mode == "self_hosted" ? "${module.compute.run_task_base_command} --overrides '${local.search_attributes_overrides}'" : "tcld namespace search-attributes add --namespace ${var.temporal_namespace} --search-attribute TenantId=Keyword --search-attribute AgentId=Keyword --search-attribute RunStatus=Keyword"
}

output "temporal_address" {
  description = "Temporal frontend the API and workers use."
  value       = module.temporal.address
}

output "temporal_cloud_secret_arn" {
  description = "Cloud mode: put the Temporal Cloud API key (or JSON {tls_client_cert, tls_client_key}) here."
  value       = module.temporal.cloud_secret_arn
}

output "temporal_ui_url" {
  description = "Temporal Web UI (self-hosted with temporal_ui_enabled)."
  value       = module.temporal.ui_url
}

output "oidc_issuer" {
  description = "Issuer of the access tokens the API accepts (empty: API keys only)."
  value       = module.identity.issuer
}

output "keycloak_url" {
  description = "Keycloak's public URL (keycloak mode)."
  value       = module.identity.keycloak_url
}

output "keycloak_admin_secret_arn" {
  description = "Secret with the Keycloak bootstrap admin password (user admin)."
  value       = module.identity.keycloak_admin_secret_arn
}

output "provider_secret_arns" {
  description = "Model provider API key secrets to fill: aws secretsmanager put-secret-value --secret-id <arn> --secret-string <key>."
  value       = module.secrets.provider_secret_arns
}

output "otlp_authorization_secret_arn" {
  description = "Secret to put the OTLP endpoint's Authorization header value into (when otlp_auth_header)."
  value       = module.secrets.otlp_authorization_secret_arn
}

output "db_master_secret_arn" {
  description = "RDS-managed secret of the database master user (rotated by RDS)."
  value       = module.data.db_master_secret_arn
}

output "artifacts_bucket" {
  description = "Bucket of artifacts and offloaded Temporal payloads."
  value       = module.data.bucket_name
}

output "nat_public_ips" {
  description = "Egress IPs of the platform (for allow-lists at model providers or tool hosts)."
  value       = module.network.nat_public_ips
}

output "backlog_metric" {
  description = "CloudWatch metric the workers scale on (namespace, name, dimensions)."
  value = {
    namespace  = module.observability.emf_namespace
    name       = "agent_runtime_temporal_task_queue_backlog"
    dimensions = ["TaskQueue", "type"]
  }
}
