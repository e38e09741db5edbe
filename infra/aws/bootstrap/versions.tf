terraform {
  # Run once per AWS account, with local state (keep bootstrap's terraform.tfstate safe, or
  # import the resources again if it is lost: nothing in it is secret).
  required_version = ">= 1.8.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project   = var.project
      ManagedBy = "opentofu"
      Purpose   = "opentofu-state"
    }
  }
}
