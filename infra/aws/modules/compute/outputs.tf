locals {
  run_task_base = join(" ", [
    "aws ecs run-task",
    "--region ${local.region}",
    "--cluster ${aws_ecs_cluster.this.name}",
    "--launch-type FARGATE",
    "--task-definition ${module.migrate.task_definition_family}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.private_subnet_ids)}],securityGroups=[${var.security_group_ids["worker"]}],assignPublicIp=DISABLED}'",
    "--query 'tasks[0].taskArn' --output text",
  ])
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_discovery_namespace_id" {
  description = "Cloud Map private DNS namespace of the services (records `<service>.<namespace>`)."
  value       = aws_service_discovery_private_dns_namespace.this.id
}

output "service_discovery_namespace_name" {
  description = "DNS name of the Cloud Map namespace (e.g. agent-runtime-dev.internal)."
  value       = aws_service_discovery_private_dns_namespace.this.name
}

output "ecr_repository_url" {
  description = "ECR repository of the agent-runtime image (push `<url>:<image_tag>`)."
  value       = aws_ecr_repository.this.repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the ECR repository."
  value       = aws_ecr_repository.this.arn
}

output "image" {
  description = "The image the API, workers and migrate run."
  value       = local.image
}

output "api_service_name" {
  description = "ECS service of the API."
  value       = module.api.service_name
}

output "worker_service_name" {
  description = "ECS service of the workers."
  value       = module.worker.service_name
}

output "kong_service_name" {
  description = "ECS service of Kong."
  value       = module.kong.service_name
}

output "migrate_task_definition_family" {
  description = "Task definition family of the one-off migrate task."
  value       = module.migrate.task_definition_family
}

output "migrate_command" {
  description = "Runs the database migrations (run it, and wait for exit code 0, before every deploy)."
  value       = local.run_task_base
}

output "create_admin_api_key_command" {
  description = "Creates a one-day admin API key of the operators' tenant ten_default (change --tenant for another tenant); the token is printed to the migrate log group."
  value       = "${local.run_task_base} --overrides '{\"containerOverrides\":[{\"name\":\"migrate\",\"command\":[\"agent-runtime\",\"api-keys\",\"create\",\"--tenant\",\"ten_default\",\"--role\",\"admin\",\"--name\",\"bootstrap\",\"--expires-in-days\",\"1\"]}]}'"
}

output "run_task_base_command" {
  description = "`aws ecs run-task` of the migrate task definition (image, database access, worker security group), for one-off commands with --overrides."
  value       = local.run_task_base
}

output "api_container_definitions_json" {
  description = "Rendered container definitions of the API task (for review and tests)."
  value       = module.api.container_definitions_json
  sensitive   = true
}

output "worker_container_definitions_json" {
  description = "Rendered container definitions of the worker task (for review and tests)."
  value       = module.worker.container_definitions_json
  sensitive   = true
}
