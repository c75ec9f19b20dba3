# The image's repository (deploy/Dockerfile; the overlays' images.newName). Tags are
# immutable: a release tag always names the image that was tested.
resource "aws_ecr_repository" "hub" {
  name                 = "tradeshub"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.main.arn
  }
}

resource "aws_ecr_lifecycle_policy" "hub" {
  repository = aws_ecr_repository.hub.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 50 images (rollbacks reach back that far)"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}
