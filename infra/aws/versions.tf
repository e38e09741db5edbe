terraform {
  # OpenTofu >= 1.8 (provider-defined functions, early evaluation); the state locks with a
  # DynamoDB table (see backend.tf), so 1.10's use_lockfile is not required.
  required_version = ">= 1.8.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}
