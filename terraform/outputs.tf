output "function_urls" {
  description = "HTTPS endpoint of each function (IAM-authenticated, except the webhook's)."
  value       = { for name, m in local.stages : name => m.url }
}

output "webhook_url" {
  description = "Public endpoint of the webhook function: paste it into the Notion integration's settings, Webhooks tab (see README, \"Real-time trigger: Notion webhooks\")."
  value       = module.webhook.url
}

output "topics" {
  description = "Pipeline topics."
  value       = { for k, t in google_pubsub_topic.this : k => t.name }
}

output "subscriptions" {
  description = "Per stage: push subscription, dead-letter topic and dead-letter pull subscription (null for the poller and the webhook)."
  value = {
    for name, m in local.stages : name => {
      push                     = m.subscription
      dead_letter_topic        = m.dead_letter_topic
      dead_letter_subscription = m.dead_letter_subscription
    }
  }
}

output "service_accounts" {
  description = "Runtime and trigger service account of each function (no trigger account for the public webhook)."
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

output "secrets_add_version_commands" {
  description = "Add the secret values outside Terraform (they never enter the state)."
  value = {
    for k, s in google_secret_manager_secret.this : k => (
      k == "cookies"
      ? "gcloud secrets versions add ${s.secret_id} --project=${var.project_id} --data-file=cookies.txt"
      : "printf %s \"$VALUE\" | gcloud secrets versions add ${s.secret_id} --project=${var.project_id} --data-file=-"
    )
  }
}

output "buckets" {
  value = {
    sources   = google_storage_bucket.sources.name
    artifacts = google_storage_bucket.artifacts.name
  }
}
