# Logs (KMS-encrypted log groups with retention), the access-log bucket (ALB, S3 server access
# logs), the ADOT collector configurations, an optional Amazon Managed Prometheus workspace and
# optional alarms.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id     = data.aws_caller_identity.current.account_id
  region         = data.aws_region.current.region
  partition      = data.aws_partition.current.partition
  emf_namespace  = "AgentRuntime/${var.environment}"
  log_group_base = "/${var.name_prefix}"
}

# ---------------------------------------------------------------------------------------------
# KMS key of every log group.

resource "aws_kms_key" "logs" {
  description             = "${var.name_prefix}: CloudWatch Logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  # Resource "*" in a key policy means this key.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsUse"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = [
              "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_base}/*",
              # RDS log exports (data module), named by RDS.
              "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/rds/instance/${var.name_prefix}/*",
              # The WAF log group (edge module): WAF requires the aws-waf-logs- prefix.
              "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:aws-waf-logs-${var.name_prefix}*",
            ]
          }
        }
      },
    ]
  })
  tags = var.tags
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name_prefix}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(var.log_groups)

  name              = "${local.log_group_base}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
  tags              = var.tags
}

# ---------------------------------------------------------------------------------------------
# Access logs bucket: ALB access logs and S3 server access logs. Both deliveries support only
# SSE-S3 on the target bucket, hence AES256 here (every other bucket uses SSE-KMS).

resource "aws_s3_bucket" "logs" {
  # checkov:skip=CKV_AWS_145: ALB access logs and S3 server access logs can only be delivered to SSE-S3 (AES256) buckets, not SSE-KMS
  # checkov:skip=CKV_AWS_18: this is the access-log bucket itself; logging it into itself would loop
  # checkov:skip=CKV_AWS_144: access logs are not replicated across regions; their loss loses no application data
  # checkov:skip=CKV2_AWS_62: nothing consumes events of access-log objects
  bucket        = "${var.name_prefix}-logs-${local.account_id}"
  force_destroy = false
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}

    expiration {
      days = var.access_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_elb_service_account" "this" {}

data "aws_iam_policy_document" "logs_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.logs.arn,
      "${aws_s3_bucket.logs.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # ALB access logs: the regional ELB account (regions before 2022-08) and the log delivery
  # service principal (newer regions).
  statement {
    sid       = "AlbAccessLogsElbAccount"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }

  statement {
    sid       = "AlbAccessLogsDelivery"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.logs]
}

# ---------------------------------------------------------------------------------------------
# Amazon Managed Prometheus (optional) and the ADOT collector configurations.

resource "aws_prometheus_workspace" "this" {
  count = var.amp_workspace_enabled ? 1 : 0

  alias = var.name_prefix
  tags  = var.tags
}

locals {
  amp_remote_write_url = var.amp_workspace_enabled ? "${aws_prometheus_workspace.this[0].prometheus_endpoint}api/v1/remote_write" : ""

  adot_common = {
    region               = local.region
    environment          = var.environment
    otlp_endpoint        = var.otlp_endpoint
    otlp_auth_header     = var.otlp_auth_header
    amp_remote_write_url = local.amp_remote_write_url
    scrape_interval      = var.metrics_scrape_interval
    emf_namespace        = local.emf_namespace
    emf_log_group        = aws_cloudwatch_log_group.this["emf"].name
  }

  adot_config_api = templatefile("${path.module}/adot-config.yaml.tftpl", merge(local.adot_common, {
    service      = "api"
    metrics_port = 8000
    emf_enabled  = false
  }))

  # The worker collector always runs: its backlog metric drives the workers' autoscaling.
  adot_config_worker = templatefile("${path.module}/adot-config.yaml.tftpl", merge(local.adot_common, {
    service      = "worker"
    metrics_port = 9464
    emf_enabled  = true
  }))
}

# ---------------------------------------------------------------------------------------------
# Alarms (optional).

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  count = var.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-alb-target-5xx"
  alarm_description   = "Kong/API answered 5xx to more than 10 requests a minute for 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 10
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "alb_elb_5xx" {
  count = var.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-alb-elb-5xx"
  alarm_description   = "The ALB itself answered 5xx (no healthy Kong target, timeouts) for 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_ELB_5XX_Count"
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 10
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  count = var.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-rds-cpu"
  alarm_description   = "PostgreSQL CPU above 80 % for 15 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_id }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "backlog" {
  count = var.alarms_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-task-queue-backlog"
  alarm_description   = "Temporal activity backlog of ${var.task_queue} above ${var.backlog_alarm_threshold} for 15 minutes: workers cannot keep up (at max capacity?)."
  namespace           = local.emf_namespace
  metric_name         = "agent_runtime_temporal_task_queue_backlog"
  dimensions          = { TaskQueue = var.task_queue, type = "activity" }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.backlog_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
