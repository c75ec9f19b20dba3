# The logical backup Job (deploy/k8s/examples/backup-job.yaml) writes its dumps under
# backups/ of the bucket as the service account `tradeshub-backup`, and may do nothing else.
locals {
  k8s_namespace = var.environment == "production" ? "tradeshub" : "tradeshub-${var.environment}"
}

resource "aws_iam_role" "backup" {
  name = "${local.name}-backup"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "pods.eks.amazonaws.com" }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
    }]
  })
}

resource "aws_iam_role_policy" "backup" {
  name = "write-backups"
  role = aws_iam_role.backup.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject"]
        Resource = ["${aws_s3_bucket.main.arn}/backups/*"]
      },
      {
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [aws_s3_bucket.main.arn]
        Condition = { StringLike = { "s3:prefix" = ["backups/*"] } }
      },
      {
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = [aws_kms_key.main.arn]
      },
    ]
  })
}

resource "aws_eks_pod_identity_association" "backup" {
  cluster_name    = aws_eks_cluster.main.name
  namespace       = local.k8s_namespace
  service_account = "tradeshub-backup"
  role_arn        = aws_iam_role.backup.arn
}
