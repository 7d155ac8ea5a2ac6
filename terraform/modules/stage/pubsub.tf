# Push subscription -> function, with retries and a dead-letter topic; the
# dead-letter topic has a pull subscription so nothing dead-lettered is lost.
# (A function event_trigger would create an Eventarc-managed subscription that
# cannot have a dead-letter topic.)

resource "google_pubsub_subscription" "push" {
  count = local.subscribed ? 1 : 0

  project                    = var.context.project_id
  name                       = "${local.function_name}-push"
  topic                      = var.source_topic
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = "604800s"
  labels                     = var.context.labels

  push_config {
    push_endpoint = google_cloudfunctions2_function.this.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.trigger[0].email
      audience              = google_cloudfunctions2_function.this.service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[0].id
    max_delivery_attempts = var.context.max_delivery_attempts
  }

  # Never expire, even when idle for 31 days.
  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.trigger_invoker,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83:Dead-lettered messages carry job ids and links only; Google-managed encryption is enough.
  count = local.subscribed ? 1 : 0

  project = var.context.project_id
  name    = "${local.function_name}-dead-letter"
  labels  = var.context.labels
}

resource "google_pubsub_subscription" "dead_letter" {
  count = local.subscribed ? 1 : 0

  project                    = var.context.project_id
  name                       = "${local.function_name}-dead-letter-sub"
  topic                      = google_pubsub_topic.dead_letter[0].id
  ack_deadline_seconds       = 600
  message_retention_duration = var.dead_letter_retention
  labels                     = var.context.labels

  # Pull subscription that nobody reads until an operator replays: it must not
  # expire after 31 days of inactivity.
  expiration_policy {
    ttl = ""
  }
}

# Dead letters fail their jobs at once: a push subscription on the dead-letter topic
# to the handler (the poller's /dead-letter path), so even a message Cloud Run never
# let the stage see (instance limit) ends its link with a reason.
resource "google_pubsub_subscription" "dead_letter_push" {
  count = local.subscribed && var.dead_letter_handler != null ? 1 : 0

  project                    = var.context.project_id
  name                       = "${local.function_name}-dead-letter-push"
  topic                      = google_pubsub_topic.dead_letter[0].id
  ack_deadline_seconds       = 120
  message_retention_duration = var.dead_letter_retention
  labels                     = var.context.labels

  push_config {
    push_endpoint = var.dead_letter_handler.url

    oidc_token {
      service_account_email = var.dead_letter_handler.service_account_email
      audience              = var.dead_letter_handler.audience
    }
  }

  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }
}

# The stage dead-letters what it gave up on itself (after its last run), so that the
# message waits in the dead-letter subscription for `svp replay`.
resource "google_pubsub_topic_iam_member" "dead_letter_self_publisher" {
  count = local.subscribed ? 1 : 0

  project = var.context.project_id
  topic   = google_pubsub_topic.dead_letter[0].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function.member
}

# --- Pub/Sub service agent ----------------------------------------------------
# To dead-letter, the agent publishes to the dead-letter topic and acks on the
# source subscription.

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  count = local.subscribed ? 1 : 0

  project = var.context.project_id
  topic   = google_pubsub_topic.dead_letter[0].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "source_subscriber" {
  count = local.subscribed ? 1 : 0

  project      = var.context.project_id
  subscription = google_pubsub_subscription.push[0].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
