variable "project" {
  type        = string
  description = "Project name: the state bucket is `<project>-tfstate-<account id>`, the lock table `<project>-tfstate-lock`."
  default     = "agent-runtime"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project))
    error_message = "project: 2-16 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "aws_region" {
  type        = string
  description = "Region of the state bucket and lock table (any; usually the environments' region)."
  default     = "us-east-1"
}

variable "noncurrent_state_days" {
  type        = number
  description = "Days old state versions are kept (rollback of a bad apply)."
  default     = 90

  validation {
    condition     = var.noncurrent_state_days >= 7
    error_message = "Keep old state versions at least 7 days."
  }
}
