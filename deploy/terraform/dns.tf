# The public name and its certificate. TLS ends at the network load balancer in front of
# ingress-nginx with this ACM certificate (its ARN goes into ingress-nginx's Service
# annotations, docs/OPERATIONS.md). The alias record is made once that load balancer exists.
data "aws_route53_zone" "main" {
  name         = var.domain
  private_zone = false
}

resource "aws_acm_certificate" "api" {
  domain_name       = var.api_hostname
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "api_validation" {
  for_each = {
    for option in aws_acm_certificate.api.domain_validation_options :
    option.domain_name => option
  }
  zone_id = data.aws_route53_zone.main.zone_id
  name    = each.value.resource_record_name
  type    = each.value.resource_record_type
  records = [each.value.resource_record_value]
  ttl     = 300
}

resource "aws_acm_certificate_validation" "api" {
  certificate_arn         = aws_acm_certificate.api.arn
  validation_record_fqdns = [for record in aws_route53_record.api_validation : record.fqdn]
}

resource "aws_route53_record" "api" {
  #checkov:skip=CKV2_AWS_23:The alias target is ingress-nginx's load balancer, made by Kubernetes rather than by this configuration, so checkov cannot see it attached.
  count   = var.ingress_lb_hostname == "" ? 0 : 1
  zone_id = data.aws_route53_zone.main.zone_id
  name    = var.api_hostname
  type    = "A"

  alias {
    name                   = var.ingress_lb_hostname
    zone_id                = var.ingress_lb_zone_id
    evaluate_target_health = true
  }
}
