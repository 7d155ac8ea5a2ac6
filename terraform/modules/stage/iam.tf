locals {
  function_account_id = "${var.context.prefix}${var.name}-fn"
  trigger_account_id  = "${var.context.prefix}${var.name}-trigger"

  # Secret ids this function reads: at run time through the API, and as volumes.
  secret_ids = merge(
    var.secrets,
    { for path, v in var.secret_volumes : "volume:${path}" => v.secret },
  )

  # Project-level roles of the runtime service account. Nothing for Cloud Vision:
  # the API only needs to be enabled, it does not check IAM roles on the caller.
  function_project_roles = toset([
    "roles/datastore.user",    # Firestore job state
    "roles/logging.logWriter", # structured logs
  ])

  pubsub_service_agent = "serviceAccount:${var.context.pubsub_service_agent}"
}

# --- runtime identity: one service account per function -----------------------

resource "google_service_account" "function" {
  project      = var.context.project_id
  account_id   = local.function_account_id
  display_name = "SVP ${var.name} function"
  description  = "Runtime identity of the ${local.function_name} Cloud Function."

  lifecycle {
    precondition {
      condition     = length(local.trigger_account_id) <= 30
      error_message = "Service account id ${local.trigger_account_id} is longer than 30 characters: shorten the prefix."
    }
  }
}

resource "google_project_iam_member" "function" {
  for_each = local.function_project_roles

  project = var.context.project_id
  role    = each.value
  member  = google_service_account.function.member
}

resource "google_storage_bucket_iam_member" "artifacts" {
  count = var.artifacts_access ? 1 : 0

  bucket = var.context.artifacts_bucket
  role   = "roles/storage.objectUser"
  member = google_service_account.function.member
}

resource "google_pubsub_topic_iam_member" "publish" {
  for_each = var.publish_topics

  project = var.context.project_id
  topic   = each.value
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function.member
}

# Pull and ack on named subscriptions only (the api's replay of dead-lettered
# messages); nothing project-wide.
resource "google_pubsub_subscription_iam_member" "subscribe" {
  for_each = var.subscribe_subscriptions

  project      = var.context.project_id
  subscription = each.value
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.function.member
}

resource "google_secret_manager_secret_iam_member" "function" {
  for_each = local.secret_ids

  project   = var.context.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function.member
}

# --- trigger identity: who may invoke this function ----------------------------
# The push subscription (or, for the poller, the Cloud Scheduler job) signs its
# requests with an OIDC token of this account, the only non-admin principal with
# roles/run.invoker on the function's Cloud Run service. With public_invoker
# there is no trigger account: allUsers may invoke instead (see below).

resource "google_service_account" "trigger" {
  count = var.public_invoker ? 0 : 1

  project      = var.context.project_id
  account_id   = local.trigger_account_id
  display_name = "SVP ${var.name} trigger"
  description  = "Invokes ${local.function_name} (OIDC identity of its push subscription or scheduler job)."
}

resource "google_cloud_run_v2_service_iam_member" "trigger_invoker" {
  count = var.public_invoker ? 0 : 1

  project  = var.context.project_id
  location = var.context.region
  name     = basename(google_cloudfunctions2_function.this.service_config[0].service)
  role     = "roles/run.invoker"
  member   = google_service_account.trigger[0].member
}

# Public endpoints. The Notion webhook: Notion cannot sign requests with a Google
# identity, so anyone may invoke, and the function refuses every request whose
# HMAC signature does not check out. The api: people's browsers (Notion sign-in,
# status page) and API clients, each request authenticated by the function with a
# signed session cookie or an API key. (checkov 3.3.30 runs CKV_GCP_102 on the v1
# google_cloud_run_service_iam_* resources only; the skip states the exception for
# versions that extend it to v2.)
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  # checkov:skip=CKV_GCP_102:Only for public_invoker functions (the Notion webhook and the api): Notion's servers and people's browsers must reach them, and each authenticates every request itself (the webhook by its X-Notion-Signature HMAC, the api by a signed session cookie or an API key).
  count = var.public_invoker ? 1 : 0

  project  = var.context.project_id
  location = var.context.region
  name     = basename(google_cloudfunctions2_function.this.service_config[0].service)
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Pub/Sub must mint OIDC tokens for the trigger account (needed explicitly on
# projects created before April 2021); granted on this account only.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  count = local.subscribed ? 1 : 0

  service_account_id = google_service_account.trigger[0].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
