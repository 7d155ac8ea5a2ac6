output "function_urls" {
  description = "HTTPS endpoint of each function (IAM-authenticated, except the webhook's and the api's). For the api, open api_url instead: sign-in only works on that address."
  value       = { for name, m in local.stages : name => m.url }
}

output "webhook_url" {
  description = "Public endpoint of the webhook function: paste it into the Notion integration's settings, Webhooks tab (see README, \"Real-time trigger: Notion webhooks\")."
  value       = module.webhook.url
}

output "api_url" {
  description = "The api function's public address: open it in a browser to sign in with Notion and see the status page; the JSON API is under /api. Register api_url + \"/auth/notion/callback\" as the redirect URI of the public Notion integration (see README, \"Many users: Notion OAuth and the status page\")."
  value       = local.api_url
}

output "topics" {
  description = "Pipeline topics."
  value       = { for k, t in google_pubsub_topic.this : k => t.name }
}

output "subscriptions" {
  description = "Per stage: push subscription, dead-letter topic and dead-letter pull subscription (null for the poller, the webhook and the api)."
  value = {
    for name, m in local.stages : name => {
      push                     = m.subscription
      dead_letter_topic        = m.dead_letter_topic
      dead_letter_subscription = m.dead_letter_subscription
    }
  }
}

output "service_accounts" {
  description = "Runtime and trigger service account of each function (no trigger account for the public webhook and api)."
  value = {
    for name, m in local.stages : name => {
      runtime = m.service_account_email
      trigger = m.trigger_service_account_email
    }
  }
}

output "logs_read_commands" {
  description = "gcloud command that reads the last hour of each function's logs."
  value       = { for name, m in local.stages : name => m.logs_read_command }
}

output "logs_tail_commands" {
  description = "gcloud command that streams each function's logs (gcloud components install log-streaming)."
  value       = { for name, m in local.stages : name => m.logs_tail_command }
}

output "svp_cloud" {
  description = "What `svp cloud` (setup, status, poll, logs, ...) reads with `terraform output -json`: where everything is. Names only, no secret."
  value = {
    project       = var.project_id
    region        = var.region
    prefix        = var.prefix
    bucket        = google_storage_bucket.artifacts.name
    database      = google_firestore_database.this.name
    scheduler_job = google_cloud_scheduler_job.poller.id
    functions     = { for name, m in local.stages : name => m.function_name }
    # Set by `svp cloud setup` on each function's Cloud Run service (functions.tf).
    execution_environments = local.execution_environments
    secrets                = { for k, s in google_secret_manager_secret.this : k => s.secret_id }
    link_databases         = var.link_databases
    content_databases      = var.content_databases
    notion_client_id       = var.notion_client_id
    api_url                = local.api_url
    webhook_url            = module.webhook.url
  }
}

output "buckets" {
  value = {
    sources   = google_storage_bucket.sources.name
    artifacts = google_storage_bucket.artifacts.name
  }
}
