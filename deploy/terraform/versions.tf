# The seed's AWS layout for one environment (staging or production: one state each).
#
# Remote state: an S3 bucket per AWS account (versioned, encrypted, public access blocked,
# made once by hand or by a bootstrap stack) with S3-native locking (Terraform 1.10+). The
# backend block is partial; each environment passes its own settings:
#
#   terraform init -backend-config=backend/production.s3.tfbackend
#   terraform plan -var-file=production.tfvars
#
# backend/*.s3.tfbackend.example shows the settings. docs/OPERATIONS.md has the whole order.
terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "tradeshub"
      environment = var.environment
      managed-by  = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name       = "tradeshub-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}
