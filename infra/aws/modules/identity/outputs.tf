output "api_environment" {
  description = "OIDC settings of the API: AGENT_RUNTIME_OIDC_ISSUER, _AUDIENCE, _JWKS_URL and AGENT_RUNTIME_CONSOLE_OIDC_CLIENT_ID (empty map: API keys only)."
  value       = local.api_environment
}

output "issuer" {
  description = "Issuer URL tokens carry (empty: none)."
  value       = local.issuer
}

output "keycloak_url" {
  description = "Public URL of Keycloak (null in external mode)."
  value       = local.keycloak ? "https://${var.keycloak_hostname}" : null
}

output "keycloak_admin_secret_arn" {
  description = "Secret holding the Keycloak bootstrap admin password (user `admin`); null in external mode."
  value       = try(aws_secretsmanager_secret.admin[0].arn, null)
}
