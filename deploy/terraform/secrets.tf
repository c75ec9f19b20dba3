# The hub's secret (DATABASE_URL, REDIS_URL, JWT_SECRET, SENTRY_DSN as JSON keys), read by
# External Secrets Operator into the Kubernetes Secret `tradeshub-secrets`
# (deploy/k8s/base/externalsecret.yaml). Terraform makes it empty: an operator writes the
# values (docs/OPERATIONS.md, "First deploy"), so none is in the state or in git.
resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:Its values (DATABASE_URL, REDIS_URL, JWT_SECRET) rotate by the runbook's procedure: a rotation Lambda cannot change the database role, the Redis token and sign-in keys together.
  name        = "tradeshub/${var.environment}/app"
  description = "tradeshub hub settings that are secrets"
  kms_key_id  = aws_kms_key.main.arn
}
