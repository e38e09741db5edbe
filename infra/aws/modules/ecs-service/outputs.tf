output "task_definition_arn" {
  description = "ARN (with revision) of the task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_family" {
  description = "Family of the task definition (`aws ecs run-task --task-definition <family>` runs the latest revision)."
  value       = aws_ecs_task_definition.this.family
}

output "service_name" {
  description = "Name of the ECS service (null without a service)."
  value       = try(aws_ecs_service.this[0].name, null)
}

output "autoscaling_resource_id" {
  description = "Application Auto Scaling resource id (`service/<cluster>/<service>`) policies attach to; null without autoscaling."
  value       = try(aws_appautoscaling_target.this[0].resource_id, null)
}

output "container_name" {
  description = "Name of the main container (for overrides in run-task and load balancer bindings)."
  value       = var.name
}

output "container_definitions_json" {
  description = "The rendered container definitions (JSON), for review and tests."
  value       = jsonencode(local.container_definitions)
}

output "task_role_arn" {
  description = "ARN of the task role (the application's AWS identity)."
  value       = aws_iam_role.task.arn
}

output "task_role_name" {
  description = "Name of the task role."
  value       = aws_iam_role.task.name
}

output "execution_role_arn" {
  description = "ARN of the task execution role (needed by `aws ecs run-task` callers' iam:PassRole)."
  value       = aws_iam_role.execution.arn
}
