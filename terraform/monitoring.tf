# Log-based metrics on the functions' JSON logs, and alert policies on them and
# on the Pub/Sub subscriptions.

locals {
  # Log-based metric names become PromQL names; keep them to [a-z0-9_].
  metric_prefix = replace(var.prefix, "-", "_")

  # Gen2 functions log as Cloud Run revisions named after the function.
  functions_log_filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^${var.prefix}\""

  stages = {
    poller      = module.poller
    webhook     = module.webhook
    downloader  = module.downloader
    transcriber = module.transcriber
    ocr         = module.ocr
    summarizer  = module.summarizer
    writer      = module.writer
    api         = module.api
  }
  stage_subscriptions       = compact([for m in local.stages : m.subscription])
  dead_letter_subscriptions = compact([for m in local.stages : m.dead_letter_subscription])

  notification_channels = google_monitoring_notification_channel.email[*].id
}

# --- log-based metrics --------------------------------------------------------

resource "google_logging_metric" "jobs_done" {
  project     = local.project_id
  name        = "${local.metric_prefix}jobs_done"
  description = "Links processed to the end (event job.done)."
  filter      = "${local.functions_log_filter} AND jsonPayload.event=\"job.done\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "SVP links processed"
    labels {
      key        = "stage"
      value_type = "STRING"
    }
  }
  label_extractors = {
    stage = "EXTRACT(labels.stage)"
  }
}

resource "google_logging_metric" "jobs_failed" {
  project     = local.project_id
  name        = "${local.metric_prefix}jobs_failed"
  description = "Links that failed for good (event job.failed)."
  filter      = "${local.functions_log_filter} AND jsonPayload.event=\"job.failed\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "SVP links failed"
    labels {
      key        = "stage"
      value_type = "STRING"
    }
  }
  label_extractors = {
    stage = "EXTRACT(labels.stage)"
  }
}

resource "google_logging_metric" "stage_duration" {
  project         = local.project_id
  name            = "${local.metric_prefix}stage_duration"
  description     = "Duration of each completed stage (event stage.done, duration_ms)."
  filter          = "${local.functions_log_filter} AND jsonPayload.event=\"stage.done\""
  value_extractor = "EXTRACT(jsonPayload.duration_ms)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "SVP stage duration"
    labels {
      key        = "stage"
      value_type = "STRING"
    }
  }
  label_extractors = {
    # logging.googleapis.com/labels {job_id, stage, attempt} -> labels.stage
    stage = "EXTRACT(labels.stage)"
  }

  # 50 ms .. ~27 min in 16 doubling buckets.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 50
    }
  }
}

# --- notification channel -----------------------------------------------------

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == null ? 0 : 1

  project      = local.project_id
  display_name = "SVP alerts"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
}

# --- alert policies -----------------------------------------------------------

resource "google_monitoring_alert_policy" "failure_rate" {
  project               = local.project_id
  display_name          = "SVP: link failure rate above ${var.failure_rate_threshold * 100} %"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "failed / (done + failed) over 30 min > ${var.failure_rate_threshold}"

    condition_prometheus_query_language {
      # "or vector(0)" keeps the ratio defined when no link succeeded at all.
      query               = <<-PROMQL
        sum(increase(logging_googleapis_com:user_${google_logging_metric.jobs_failed.name}{monitored_resource="cloud_run_revision"}[30m]))
        /
        (
          (sum(increase(logging_googleapis_com:user_${google_logging_metric.jobs_done.name}{monitored_resource="cloud_run_revision"}[30m])) or vector(0))
          +
          sum(increase(logging_googleapis_com:user_${google_logging_metric.jobs_failed.name}{monitored_resource="cloud_run_revision"}[30m]))
        )
        > ${var.failure_rate_threshold}
      PROMQL
      duration            = "0s"
      evaluation_interval = "60s"
      # The log-based metrics are created in the same apply and take minutes to become
      # queryable: without this, the first apply on an empty project fails (404).
      disable_metric_validation = true
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "More than ${var.failure_rate_threshold * 100} % of links failed over the last 30 minutes. Look for `jsonPayload.event=\"job.failed\"` in the functions' logs (outputs `logs_read_commands`)."
  }
}

resource "google_monitoring_alert_policy" "dead_letter" {
  project               = local.project_id
  display_name          = "SVP: messages in a dead-letter subscription"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "dead-letter num_undelivered_messages > 0"

    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id=one_of(${join(",", [for s in local.dead_letter_subscriptions : "\"${s}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A stage gave up on a message after max_delivery_attempts. It is kept in the stage's `*-dead-letter-sub` pull subscription (7 days): inspect with `gcloud pubsub subscriptions pull <sub> --limit=10` and replay it."
  }
}

resource "google_monitoring_alert_policy" "processing_time" {
  project               = local.project_id
  display_name          = "SVP: stage processing time above ${var.processing_time_threshold_seconds} s"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels

  conditions {
    display_name = "mean stage duration over 5 min > ${var.processing_time_threshold_seconds} s"

    # PromQL, not a threshold filter: only PromQL conditions can skip the validation of a
    # metric created in the same apply (disable_metric_validation).
    condition_prometheus_query_language {
      query                     = <<-PROMQL
        sum by (stage) (rate(logging_googleapis_com:user_${google_logging_metric.stage_duration.name}_sum{monitored_resource="cloud_run_revision"}[5m]))
        /
        sum by (stage) (rate(logging_googleapis_com:user_${google_logging_metric.stage_duration.name}_count{monitored_resource="cloud_run_revision"}[5m]))
        > ${var.processing_time_threshold_seconds * 1000}
      PROMQL
      duration                  = "0s"
      evaluation_interval       = "60s"
      disable_metric_validation = true
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The mean duration of a stage over 5 minutes is above ${var.processing_time_threshold_seconds} s; the function timeouts are 120-540 s."
  }
}

resource "google_monitoring_alert_policy" "backlog" {
  project               = local.project_id
  display_name          = "SVP: stage backlog above ${var.backlog_threshold}"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels

  conditions {
    display_name = "stage subscription num_undelivered_messages > ${var.backlog_threshold} for 5 min"

    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id=one_of(${join(",", [for s in local.stage_subscriptions : "\"${s}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.backlog_threshold
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A stage is not keeping up (more than ${var.backlog_threshold} undelivered messages for 5 minutes): check its errors, max_instances and the Notion/LLM rate limits."
  }
}
