output "alb_arn" {
  description = "ARN of the ALB."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the ALB (CloudWatch dimension LoadBalancer)."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the ALB: point the API host (and Keycloak / Temporal UI hosts) at it (CNAME or Route 53 alias)."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone id of the ALB (for alias records)."
  value       = aws_lb.this.zone_id
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener (host rules for Keycloak and the Temporal UI attach here)."
  value       = aws_lb_listener.https.arn
}

output "kong_target_group_arn" {
  description = "Target group Kong's tasks register with (port 8000)."
  value       = aws_lb_target_group.kong.arn
}

output "kong_target_group_arn_suffix" {
  description = "ARN suffix of Kong's target group (CloudWatch dimension TargetGroup)."
  value       = aws_lb_target_group.kong.arn_suffix
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL (null when disabled)."
  value       = try(aws_wafv2_web_acl.this[0].arn, null)
}
