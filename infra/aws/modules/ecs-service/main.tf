# One ECS (Fargate) task definition, optionally with its service, discovery record and scaling
# target. Every container definition of the platform is assembled here, as HCL objects rendered
# with jsonencode(): logs (awslogs) and a health check on the main container are always set,
# plain values go to `environment` and secrets only to `secrets` (valueFrom ARNs).

locals {
  family = "${var.name_prefix}-${var.name}"

  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = var.log_group_name
      awslogs-region        = var.region
      awslogs-stream-prefix = var.name
    }
  }

  writable_volumes = { for p in var.writable_paths : p => "rw-${substr(sha1(p), 0, 12)}" }

  # ECS Exec's agent writes into the container: AWS does not support it with a read-only root,
  # so enabling it (temporarily, for debugging) makes the root writable while it is on.
  readonly_root = var.readonly_root_filesystem && !var.enable_execute_command

  init_containers = [
    for c in var.init_containers : {
      name             = c.name
      image            = c.image
      essential        = false
      command          = c.command
      entryPoint       = c.entry_point
      user             = c.user
      environment      = [for k in sort(keys(c.environment)) : { name = k, value = c.environment[k] }]
      secrets          = [for k in sort(keys(c.secrets)) : { name = k, valueFrom = c.secrets[k] }]
      logConfiguration = local.log_configuration
      # Init containers write into their shared volume, not the image.
      readonlyRootFilesystem = true
      mountPoints = c.shared_volume == null ? [] : [{
        sourceVolume  = c.shared_volume
        containerPath = c.shared_path
        readOnly      = c.readonly_mount
      }]
    }
  ]

  sidecars = [
    for s in var.sidecars : {
      name              = s.name
      image             = s.image
      essential         = s.essential
      command           = s.command
      user              = s.user
      cpu               = s.cpu
      memoryReservation = s.memory_reservation
      environment       = [for k in sort(keys(s.environment)) : { name = k, value = s.environment[k] }]
      secrets           = [for k in sort(keys(s.secrets)) : { name = k, valueFrom = s.secrets[k] }]
      portMappings = [for p in s.port_mappings : {
        containerPort = p
        protocol      = "tcp"
      }]
      logConfiguration       = local.log_configuration
      readonlyRootFilesystem = s.readonly_root_filesystem
      healthCheck = s.health_check_command == null ? null : {
        command     = s.health_check_command
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }
    }
  ]

  main_container = {
    name       = var.name
    image      = var.image
    essential  = true
    command    = var.command
    entryPoint = var.entry_point
    user       = var.user
    portMappings = [for p in var.port_mappings : {
      containerPort = p.container_port
      protocol      = "tcp"
      name          = coalesce(p.name, "${var.name}-${p.container_port}")
    }]
    environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
    secrets     = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]
    healthCheck = {
      command     = var.health_check_command
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = var.health_check_start_period
    }
    logConfiguration       = local.log_configuration
    readonlyRootFilesystem = local.readonly_root
    stopTimeout            = var.stop_timeout
    mountPoints = concat(
      [for p, v in local.writable_volumes : { sourceVolume = v, containerPath = p, readOnly = false }],
      [for v in var.shared_volumes : { sourceVolume = v.name, containerPath = v.container_path, readOnly = true }],
    )
    dependsOn = concat(
      [for c in var.init_containers : { containerName = c.name, condition = "SUCCESS" }],
      [for s in var.sidecars : { containerName = s.name, condition = "START" }],
    )
    linuxParameters = {
      initProcessEnabled = true
    }
  }

  # Null attributes are dropped so the rendered JSON matches what ECS stores (no perpetual diff).
  container_definitions = [
    for c in concat(local.init_containers, local.sidecars, [local.main_container]) :
    { for k, v in c : k => v if v != null }
  ]
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode(local.container_definitions)

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  dynamic "volume" {
    for_each = toset(concat(values(local.writable_volumes), [for v in var.shared_volumes : v.name]))
    content {
      name = volume.value
    }
  }

  tags = var.tags
}

resource "aws_service_discovery_service" "this" {
  count = var.create_service && var.service_discovery != null ? 1 : 0

  name = var.name

  dns_config {
    namespace_id   = var.service_discovery.namespace_id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  # ECS reports each task's health to Cloud Map (failure_threshold is fixed at 1 by AWS).
  health_check_custom_config {}

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  count = var.create_service ? 1 : 0

  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  propagate_tags                     = "SERVICE"
  enable_execute_command             = var.enable_execute_command
  deployment_minimum_healthy_percent = var.deployment_minimum_healthy_percent
  deployment_maximum_percent         = var.deployment_maximum_percent
  health_check_grace_period_seconds  = length(var.load_balancers) > 0 ? var.health_check_grace_period : null
  wait_for_steady_state              = false

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  deployment_controller {
    type = "ECS"
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = var.load_balancers
    content {
      target_group_arn = load_balancer.value.target_group_arn
      container_name   = var.name
      container_port   = load_balancer.value.container_port
    }
  }

  dynamic "service_registries" {
    for_each = aws_service_discovery_service.this
    content {
      registry_arn = service_registries.value.arn
    }
  }

  lifecycle {
    # Autoscaling owns the task count once the service exists.
    ignore_changes = [desired_count]
  }

  tags = var.tags
}

resource "aws_appautoscaling_target" "this" {
  count = var.create_service && var.autoscaling != null ? 1 : 0

  service_namespace  = "ecs"
  resource_id        = "service/${element(split("/", var.cluster_arn), 1)}/${aws_ecs_service.this[0].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity

  tags = var.tags
}
