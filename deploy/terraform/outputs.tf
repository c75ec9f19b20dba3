output "cluster_name" {
  description = "aws eks update-kubeconfig --name <this>"
  value       = aws_eks_cluster.main.name
}

output "vpc_cidr" {
  description = "The overlay's NetworkPolicy data CIDR."
  value       = aws_vpc.main.cidr_block
}

output "db_endpoint" {
  description = "host:port of PostgreSQL, for DATABASE_URL."
  value       = aws_db_instance.main.endpoint
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret with the master user's password (RDS rotates it)."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}

output "redis_configuration_endpoint" {
  description = "Host of the Redis cluster, for REDIS_URL (rediss://, REDIS_CLUSTER=true)."
  value       = aws_elasticache_replication_group.main.configuration_endpoint_address
}

output "redis_auth_secret_arn" {
  description = "Secrets Manager secret holding the Redis AUTH token."
  value       = aws_secretsmanager_secret.redis_auth.arn
}

output "app_secret_name" {
  description = "The secret External Secrets reads (the overlay's remoteRef key)."
  value       = aws_secretsmanager_secret.app.name
}

output "bucket" {
  description = "S3 bucket for backups (backups/ prefix)."
  value       = aws_s3_bucket.main.bucket
}

output "ecr_repository_url" {
  description = "The overlays' images.newName."
  value       = aws_ecr_repository.hub.repository_url
}

output "acm_certificate_arn" {
  description = "For ingress-nginx's service.beta.kubernetes.io/aws-load-balancer-ssl-cert."
  value       = aws_acm_certificate_validation.api.certificate_arn
}
