# Autoscaling (target tracking):
# - API: average CPU, and ALB requests per API task (the ALB's targets are Kong tasks, so
#   ALBRequestCountPerTarget would divide by Kong's count: metric math divides the target
#   group's RequestCount by the API's running tasks instead).
# - Kong: ALBRequestCountPerTarget (it is the ALB's target) and CPU.
# - Workers: Temporal task-queue backlog per worker task. Every worker's ADOT collector scrapes
#   agent_runtime_temporal_task_queue_backlog{task_queue,type} from the worker (port 9464) and
#   publishes it with awsemf (namespace AgentRuntime/<env>, dimensions TaskQueue and type); all
#   workers report the same queue, so the Average is the backlog.

locals {
  cluster_name = aws_ecs_cluster.this.name
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "${var.name_prefix}-api-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = "ecs"
  resource_id        = module.api.autoscaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"

  target_tracking_scaling_policy_configuration {
    target_value       = var.api.cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "api_requests" {
  name               = "${var.name_prefix}-api-requests-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = "ecs"
  resource_id        = module.api.autoscaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"

  target_tracking_scaling_policy_configuration {
    target_value       = var.api.requests_per_task_min
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "requests"
        label       = "ALB requests to Kong (all reach the API)"
        return_data = false

        metric_stat {
          stat = "Sum"

          metric {
            namespace   = "AWS/ApplicationELB"
            metric_name = "RequestCount"

            dimensions {
              name  = "LoadBalancer"
              value = var.alb_arn_suffix
            }

            dimensions {
              name  = "TargetGroup"
              value = var.kong_target_group_arn_suffix
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "Running API tasks"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = local.cluster_name
            }

            dimensions {
              name  = "ServiceName"
              value = module.api.service_name
            }
          }
        }
      }

      metrics {
        id          = "requests_per_task"
        label       = "ALB requests per API task per minute"
        expression  = "requests / tasks"
        return_data = true
      }
    }
  }
}

resource "aws_appautoscaling_policy" "kong_requests" {
  name               = "${var.name_prefix}-kong-requests-per-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = "ecs"
  resource_id        = module.kong.autoscaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"

  target_tracking_scaling_policy_configuration {
    target_value       = var.kong.requests_per_target_min
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${var.alb_arn_suffix}/${var.kong_target_group_arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_policy" "kong_cpu" {
  name               = "${var.name_prefix}-kong-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = "ecs"
  resource_id        = module.kong.autoscaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"

  target_tracking_scaling_policy_configuration {
    target_value       = 60
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "worker_backlog" {
  name               = "${var.name_prefix}-worker-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = "ecs"
  resource_id        = module.worker.autoscaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"

  target_tracking_scaling_policy_configuration {
    target_value = var.worker.backlog_per_task_target
    # Scale in slowly: a stopping worker drains its in-flight activities for up to 100 s.
    scale_in_cooldown  = 600
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "workflow_backlog"
        label       = "Workflow task backlog of ${var.task_queue}"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = var.emf_namespace
            metric_name = "agent_runtime_temporal_task_queue_backlog"

            dimensions {
              name  = "TaskQueue"
              value = var.task_queue
            }

            dimensions {
              name  = "type"
              value = "workflow"
            }
          }
        }
      }

      metrics {
        id          = "activity_backlog"
        label       = "Activity task backlog of ${var.task_queue}"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = var.emf_namespace
            metric_name = "agent_runtime_temporal_task_queue_backlog"

            dimensions {
              name  = "TaskQueue"
              value = var.task_queue
            }

            dimensions {
              name  = "type"
              value = "activity"
            }
          }
        }
      }

      metrics {
        id          = "tasks"
        label       = "Running worker tasks"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"

            dimensions {
              name  = "ClusterName"
              value = local.cluster_name
            }

            dimensions {
              name  = "ServiceName"
              value = module.worker.service_name
            }
          }
        }
      }

      metrics {
        id          = "backlog_per_task"
        label       = "Temporal backlog per worker task"
        expression  = "(FILL(workflow_backlog, 0) + FILL(activity_backlog, 0)) / tasks"
        return_data = true
      }
    }
  }
}

resource "aws_appautoscaling_policy" "worker_cpu" {
  name               = "${var.name_prefix}-worker-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = "ecs"
  resource_id        = module.worker.autoscaling_resource_id
  scalable_dimension = "ecs:service:DesiredCount"

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker.cpu_target
    scale_in_cooldown  = 600
    scale_out_cooldown = 60
    # Only the backlog policy scales workers in: CPU idles while activities wait on model calls.
    disable_scale_in = true

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
