# Redis in cluster mode (the hub's REDIS_CLUSTER=true: sharded pub/sub per room slot), TLS
# in transit and an AUTH token, encrypted at rest, one replica per shard in another zone
# with automatic failover. REDIS_URL for the hub:
#   rediss://:<auth token>@<configuration endpoint>:6379/0
resource "aws_elasticache_subnet_group" "main" {
  name       = local.name
  subnet_ids = aws_subnet.data[*].id
}

resource "aws_security_group" "redis" {
  name        = "${local.name}-redis"
  description = "Redis from the EKS nodes and pods only"
  vpc_id      = aws_vpc.main.id

  ingress {
    description = "Redis (TLS) from the private (EKS) subnets"
    from_port   = 6379
    to_port     = 6379
    protocol    = "tcp"
    cidr_blocks = local.private_subnets
  }
}

# The token lives in the (encrypted) state and in Secrets Manager, from where an operator
# puts it into the hub's REDIS_URL.
resource "random_password" "redis_auth" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "redis_auth" {
  #checkov:skip=CKV2_AWS_57:The token is rotated by Terraform (new random_password, auth_token_update_strategy ROTATE), not by a Secrets Manager Lambda that ElastiCache would not follow.
  name        = "tradeshub/${var.environment}/redis-auth"
  description = "AUTH token of ${local.name}'s ElastiCache"
  kms_key_id  = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret_version" "redis_auth" {
  secret_id     = aws_secretsmanager_secret.redis_auth.id
  secret_string = random_password.redis_auth.result
}

resource "aws_cloudwatch_log_group" "redis" {
  name              = "/aws/elasticache/${local.name}"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_elasticache_replication_group" "main" {
  replication_group_id = local.name
  description          = "tradeshub fan-out, presence, rate limits, live state"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.redis_node_type
  port                 = 6379
  parameter_group_name = "default.redis7.cluster.on"

  num_node_groups         = var.redis_shards
  replicas_per_node_group = var.redis_replicas_per_shard

  automatic_failover_enabled = true
  multi_az_enabled           = true
  subnet_group_name          = aws_elasticache_subnet_group.main.name
  security_group_ids         = [aws_security_group.redis.id]

  transit_encryption_enabled = true
  auth_token                 = random_password.redis_auth.result
  auth_token_update_strategy = "ROTATE"
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.main.arn

  # The hub keeps nothing in Redis that PostgreSQL does not hold; snapshots only help warm
  # a replacement faster.
  snapshot_retention_limit   = 1
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:04:30-sun:05:30"
  auto_minor_version_upgrade = true
  apply_immediately          = false

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.redis.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }
}
