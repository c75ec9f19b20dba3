variable "environment" {
  description = "staging or production: names every resource and picks the sizes below."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "region" {
  description = "AWS region; the VPC spans its first three availability zones."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_cidr" {
  description = "The VPC's range (a /16): public, private (nodes) and data subnets are cut from it. deploy/k8s's NetworkPolicy lets the pods reach PostgreSQL and Redis inside it."
  type        = string
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the three zones (cheaper; staging) instead of one per zone."
  type        = bool
  default     = false
}

variable "eks_version" {
  description = "Kubernetes version of the EKS control plane and nodes (tests validate deploy/k8s against it)."
  type        = string
  default     = "1.31"
}

variable "eks_public_access_cidrs" {
  description = "Networks allowed to reach the EKS API endpoint from outside the VPC (operators, CI)."
  type        = list(string)

  validation {
    condition     = length(var.eks_public_access_cidrs) > 0 && !contains(var.eks_public_access_cidrs, "0.0.0.0/0")
    error_message = "List the operators' and CI's networks; 0.0.0.0/0 is not allowed."
  }
}

variable "availability_zones" {
  description = "The three zones the VPC, the nodes, RDS and ElastiCache span (named, so a new zone in the region changes nothing)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 3
    error_message = "Name exactly three availability zones."
  }
}

variable "node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["m7i.large"]
}

variable "node_min_size" {
  description = "Fewest nodes (at least one per zone in production)."
  type        = number
  default     = 3
}

variable "node_max_size" {
  description = "Most nodes the cluster autoscaler may add."
  type        = number
  default     = 9
}

variable "node_desired_size" {
  description = "Nodes at creation (the autoscaler moves it afterwards)."
  type        = number
  default     = 3
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m7g.large"
}

variable "db_engine_version" {
  description = "PostgreSQL major version. `tradeshub backup` needs pg_dump of the same major."
  type        = string
  default     = "16"
}

variable "db_allocated_storage_gb" {
  description = "Initial gp3 storage; grows up to db_max_allocated_storage_gb by itself."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling."
  type        = number
  default     = 1000
}

variable "db_backup_retention_days" {
  description = "Automated backups kept; point-in-time recovery reaches back this far."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7
    error_message = "Keep at least 7 days of backups (point-in-time recovery window)."
  }
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.m7g.large"
}

variable "redis_shards" {
  description = "Node groups (shards) of the Redis cluster: rooms spread over them by slot."
  type        = number
  default     = 2
}

variable "redis_replicas_per_shard" {
  description = "Replicas per shard, in other zones (failover)."
  type        = number
  default     = 1
}

variable "domain" {
  description = "The Route 53 hosted zone (exists already, shared by environments)."
  type        = string
}

variable "api_hostname" {
  description = "The hub's public host name (deploy/k8s overlays' Ingress host)."
  type        = string
}

variable "ingress_lb_hostname" {
  description = "DNS name of ingress-nginx's load balancer, once it exists (second apply); empty: no alias record yet."
  type        = string
  default     = ""
}

variable "ingress_lb_zone_id" {
  description = "Hosted zone id of that load balancer (AWS publishes one per region and type)."
  type        = string
  default     = ""
}
