variable "name" {
  type        = string
  description = "Name of the service, its task definition family suffix and its main container (e.g. `api`)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name: 2-31 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every AWS name (e.g. `agent-runtime-dev`)."
}

variable "region" {
  type        = string
  description = "AWS region of the log group (awslogs driver)."
}

variable "cluster_arn" {
  type        = string
  description = "ARN of the ECS cluster the service runs in."
}

variable "image" {
  type        = string
  description = "Container image of the main container (repository:tag or repository@digest)."
}

variable "command" {
  type        = list(string)
  description = "Command of the main container (null: the image's default)."
  default     = null
}

variable "entry_point" {
  type        = list(string)
  description = "Entry point override of the main container (null: the image's)."
  default     = null
}

variable "cpu" {
  type        = number
  description = "Task CPU units (256 = 0.25 vCPU), a Fargate-supported value."

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate task size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  type        = number
  description = "Task memory in MiB, valid for the chosen cpu on Fargate."

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "environment" {
  type        = map(string)
  description = "Plain, NON-secret environment variables of the main container. Secrets go in `secrets`."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment) : length(regexall("(?i)(PASSWORD|SECRET|TOKEN|API_KEY|_KEYS)", k)) == 0])
    error_message = "environment must not carry secrets: names containing PASSWORD, SECRET, TOKEN, API_KEY or _KEYS belong in `secrets` (Secrets Manager ARNs)."
  }
}

variable "secrets" {
  type        = map(string)
  description = "Secret environment variables of the main container: name → Secrets Manager secret ARN, optionally `<arn>:<json key>::`. Injected by ECS at start, never stored in the task definition."
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.secrets) : can(regex("^arn:aws[a-z-]*:(secretsmanager|ssm):", v))])
    error_message = "secrets values must be Secrets Manager (or SSM parameter) ARNs."
  }
}

variable "port_mappings" {
  type = list(object({
    container_port = number
    name           = optional(string)
  }))
  description = "TCP ports the main container listens on (awsvpc: host port = container port)."
  default     = []
}

variable "health_check_command" {
  type        = list(string)
  description = "Docker health check of the main container, e.g. [\"CMD\", \"kong\", \"health\"] or [\"CMD-SHELL\", \"...\"]. Required: every service has one."

  validation {
    condition     = length(var.health_check_command) >= 2 && contains(["CMD", "CMD-SHELL"], var.health_check_command[0])
    error_message = "health_check_command starts with CMD or CMD-SHELL and has a command."
  }
}

variable "health_check_start_period" {
  type        = number
  description = "Seconds a starting container's failing health checks do not count (0-300)."
  default     = 30

  validation {
    condition     = var.health_check_start_period >= 0 && var.health_check_start_period <= 300
    error_message = "health_check_start_period must be 0-300 seconds."
  }
}

variable "readonly_root_filesystem" {
  type        = bool
  description = "Mount the main container's root filesystem read-only (paths in `writable_paths` stay writable)."
  default     = true
}

variable "writable_paths" {
  type        = list(string)
  description = "Paths of the main container backed by task-local ephemeral volumes, writable with a read-only root filesystem. Fargate creates them root-owned (0755) unless the image declares the path as a VOLUME (then its owner and mode are copied): list only such paths for non-root images (our image declares VOLUME /tmp)."
  default     = []
}

variable "user" {
  type        = string
  description = "User (uid[:gid] or name) the main container runs as; null keeps the image's user (only for images that need root)."
  default     = null
}

variable "stop_timeout" {
  type        = number
  description = "Seconds ECS waits after SIGTERM before SIGKILL (Fargate: at most 120)."
  default     = 30

  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "stop_timeout must be 2-120 seconds."
  }
}

variable "sidecars" {
  type = list(object({
    name                     = string
    image                    = string
    command                  = optional(list(string))
    environment              = optional(map(string), {})
    secrets                  = optional(map(string), {})
    port_mappings            = optional(list(number), [])
    health_check_command     = optional(list(string))
    readonly_root_filesystem = optional(bool, true)
    user                     = optional(string)
    cpu                      = optional(number, 0)
    memory_reservation       = optional(number)
    essential                = optional(bool, true)
  }))
  description = "Containers started before the main container and running beside it (e.g. the ADOT collector). Same rules as the main container: plain `environment`, `secrets` by ARN."
  default     = []

  validation {
    condition = alltrue(flatten([
      for s in var.sidecars : [for k in keys(s.environment) : length(regexall("(?i)(PASSWORD|SECRET|TOKEN|API_KEY|_KEYS)", k)) == 0]
    ]))
    error_message = "sidecar environment must not carry secrets (PASSWORD, SECRET, TOKEN, API_KEY, _KEYS): use the sidecar's `secrets`."
  }
}

variable "init_containers" {
  type = list(object({
    name           = string
    image          = string
    command        = list(string)
    entry_point    = optional(list(string))
    environment    = optional(map(string), {})
    secrets        = optional(map(string), {})
    user           = optional(string)
    shared_volume  = optional(string)
    shared_path    = optional(string)
    readonly_mount = optional(bool, false)
  }))
  description = "Containers that run to completion before the main container starts (non-essential, dependsOn SUCCESS). `shared_volume` names a task volume also mounted in the main container at `shared_path`."
  default     = []

  validation {
    condition = alltrue(flatten([
      for c in var.init_containers : [for k in keys(c.environment) : length(regexall("(?i)(PASSWORD|SECRET|TOKEN|API_KEY|_KEYS)", k)) == 0]
    ]))
    error_message = "init container environment must not carry secrets (PASSWORD, SECRET, TOKEN, API_KEY, _KEYS): use its `secrets`."
  }
}

variable "shared_volumes" {
  type = list(object({
    name           = string
    container_path = string
  }))
  description = "Ephemeral task volumes shared with init containers, mounted read-only in the main container at container_path."
  default     = []
}

variable "log_group_name" {
  type        = string
  description = "CloudWatch log group every container of the task logs to (awslogs driver)."
}

variable "log_group_arn" {
  type        = string
  description = "ARN of `log_group_name` (the execution role may write to it only)."
}

variable "kms_key_arns" {
  type        = list(string)
  description = "KMS keys encrypting the secrets in `secrets` (the execution role may decrypt with them, through Secrets Manager only)."
  default     = []
}

variable "ecr_repository_arn" {
  type        = string
  description = "ECR repository the images come from (the execution role may pull from it only); null for public images only."
  default     = null
}

variable "task_role_policies" {
  type        = map(string)
  description = "IAM policies (name → JSON) of the task role: what the application itself may call in AWS. Empty: no AWS permissions."
  default     = {}
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the task: X86_64 or ARM64 (the image must be built for it)."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture is X86_64 or ARM64."
  }
}

variable "create_service" {
  type        = bool
  description = "Create an ECS service; false makes only the task definition (one-off tasks such as migrate)."
  default     = true
}

variable "desired_count" {
  type        = number
  description = "Initial number of tasks (autoscaling owns it afterwards)."
  default     = 1
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the tasks run in (no public IPs)."
  default     = []
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the tasks."
  default     = []
}

variable "load_balancers" {
  type = list(object({
    target_group_arn = string
    container_port   = number
  }))
  description = "ALB target groups the main container registers with."
  default     = []
}

variable "health_check_grace_period" {
  type        = number
  description = "Seconds the service ignores load balancer health checks after a task starts (services with load_balancers)."
  default     = 60
}

variable "service_discovery" {
  type = object({
    namespace_id = string
  })
  description = "Cloud Map private DNS namespace the service registers `<name>.<namespace>` A records in (null: no registration). An object, so that its presence is known at plan time while the id is not."
  default     = null
}

variable "deployment_minimum_healthy_percent" {
  type        = number
  description = "Rolling deploys: tasks kept healthy during a deployment (percent of desired)."
  default     = 100
}

variable "deployment_maximum_percent" {
  type        = number
  description = "Rolling deploys: tasks allowed during a deployment (percent of desired)."
  default     = 200
}

variable "enable_execute_command" {
  type        = bool
  description = "Allow `aws ecs execute-command` into the tasks (audited in the cluster's ECS Exec log group). AWS does not support ECS Exec with a read-only root filesystem, so the main container's root is writable while this is on: enable it temporarily, for debugging."
  default     = false
}

variable "execute_command_log_group_arn" {
  type        = string
  description = "Log group ECS Exec sessions are recorded in (the cluster's setting); the task role may write there when enable_execute_command."
  default     = null
}

variable "execute_command_kms_key_arn" {
  type        = string
  description = "KMS key of ECS Exec sessions and their log group (the cluster's setting)."
  default     = null
}

variable "autoscaling" {
  type = object({
    min_capacity = number
    max_capacity = number
  })
  description = "Application Auto Scaling bounds of the service (policies are attached by the caller with `autoscaling_resource_id`); null: no scaling target."
  default     = null

  validation {
    condition     = var.autoscaling == null || try(var.autoscaling.min_capacity <= var.autoscaling.max_capacity && var.autoscaling.min_capacity >= 0, false)
    error_message = "autoscaling.min_capacity must be >= 0 and <= max_capacity."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
