output "function_name" {
  description = "Cloud Function (and Cloud Run service) name."
  value       = google_cloudfunctions2_function.this.name
}

output "url" {
  description = "HTTPS endpoint of the function (Cloud Run URL; IAM-authenticated, or public with public_invoker)."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "service_account_email" {
  description = "Runtime service account."
  value       = google_service_account.function.email
}

output "trigger_service_account_email" {
  description = "Service account allowed to invoke the function (OIDC identity of its push subscription or scheduler job); null with public_invoker."
  value       = one(google_service_account.trigger[*].email)
}

output "subscription" {
  description = "Push subscription feeding the function (null when source_topic is null)."
  value       = one(google_pubsub_subscription.push[*].name)
}

output "dead_letter_topic" {
  value = one(google_pubsub_topic.dead_letter[*].name)
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead-lettered messages for inspection/replay."
  value       = one(google_pubsub_subscription.dead_letter[*].name)
}

output "source_object" {
  description = "Source zip object (name carries the content hash)."
  value       = google_storage_bucket_object.source.name
}

output "logs_read_command" {
  value = "gcloud logging read 'resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloudfunctions2_function.this.name}\"' --project=${var.context.project_id} --freshness=1h --limit=100"
}

output "logs_tail_command" {
  description = "Needs the log-streaming gcloud component."
  value       = "gcloud beta run services logs tail ${google_cloudfunctions2_function.this.name} --project=${var.context.project_id} --region=${var.context.region}"
}
