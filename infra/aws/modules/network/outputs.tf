output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT gateways), one per AZ."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (tasks, RDS, ElastiCache), one per AZ."
  value       = aws_subnet.private[*].id
}

output "security_group_ids" {
  description = "Security group id per service: alb, kong, api, worker, temporal, temporal_ui, keycloak, rds, redis, endpoints."
  value       = local.sg_ids
}

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways (the platform's egress addresses, e.g. for allow-lists at model providers)."
  value       = aws_eip.nat[*].public_ip
}
