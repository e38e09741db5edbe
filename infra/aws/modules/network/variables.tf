variable "name_prefix" {
  type        = string
  description = "Prefix of every AWS name (e.g. `agent-runtime-dev`)."
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC (a /16 to /20); subnets are carved from it."

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR between /16 and /20."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones (names, e.g. us-east-1a) to spread subnets over: 2 or 3, named explicitly so the set never changes under the environment."

  validation {
    condition     = contains([2, 3], length(var.availability_zones)) && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must list 2 or 3 distinct zones."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all private subnets (cheaper, dev) instead of one per AZ (an AZ outage then cuts egress of the other AZs)."
}

variable "interface_endpoints" {
  type        = list(string)
  description = "Interface VPC endpoints (service suffixes such as `ecr.api`) so image pulls, logs and secret reads stay off the NAT gateway. The S3 gateway endpoint is always created."
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager"]

  validation {
    condition     = alltrue([for e in var.interface_endpoints : can(regex("^[a-z0-9.-]+$", e))])
    error_message = "interface_endpoints are service suffixes like `ecr.api` or `logs`."
  }
}

variable "flow_log_group_arn" {
  type        = string
  description = "ARN of the (KMS-encrypted) CloudWatch log group VPC flow logs go to."
}

variable "flow_log_traffic_type" {
  type        = string
  description = "Traffic the VPC flow logs record: ACCEPT, REJECT or ALL."
  default     = "ALL"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_log_traffic_type)
    error_message = "flow_log_traffic_type is ACCEPT, REJECT or ALL."
  }
}

variable "temporal_cloud" {
  type        = bool
  description = "The API and workers talk to Temporal Cloud (egress to port 7233 on the internet) instead of the self-hosted server."
}

variable "tags" {
  type        = map(string)
  description = "Tags of every resource."
  default     = {}
}
