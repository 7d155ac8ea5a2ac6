# Cloud Scheduler invokes the poller every minute (poll_schedule). It signs the
# request with an OIDC token of the poller's trigger service account, which has
# roles/run.invoker on the poller only (see modules/stage/iam.tf).
resource "google_cloud_scheduler_job" "poller" {
  project          = local.project_id
  region           = var.region
  name             = "${var.prefix}poller"
  description      = "Polls the Notion link databases."
  schedule         = var.poll_schedule
  time_zone        = var.poll_time_zone
  attempt_deadline = "150s" # a little over the poller's 120 s timeout

  # The next tick is the retry.
  retry_config {
    retry_count = 0
  }

  # Created after the poller's invoker binding: a first tick before it would get a 403
  # that retry_count = 0 never retries.
  depends_on = [module.poller]

  http_target {
    http_method = "POST"
    uri         = module.poller.url
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode({ source = "scheduler" }))

    oidc_token {
      service_account_email = module.poller.trigger_service_account_email
      audience              = module.poller.url
    }
  }
}
