# The pipeline topics. Each stage module creates its own push subscription on the
# topic it consumes and its own dead-letter topic + pull subscription.
#
#   poller -> links -> downloader -> media -> transcriber -> extracted -> summarizer -> summaries -> writer
#                                         \-> ocr ---------/
locals {
  topics = toset(["links", "media", "extracted", "summaries"])
}

resource "google_pubsub_topic" "this" {
  # checkov:skip=CKV_GCP_83:Messages carry job ids and links only; Google-managed encryption is enough, CMEK would add a KMS key ring for no gain.
  for_each = local.topics

  project = local.project_id
  name    = "${var.prefix}${each.key}"
  labels  = var.labels
}

# Dead letters fail their jobs: each stage's dead-letter topic also pushes to the
# poller's /dead-letter path (modules/stage, dead_letter_handler), signed with the
# poller's trigger identity, for which Pub/Sub must be able to mint OIDC tokens.
resource "google_service_account_iam_member" "pubsub_dead_letter_token_creator" {
  service_account_id = "projects/${local.project_id}/serviceAccounts/${module.poller.trigger_service_account_email}"
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${local.pubsub_service_agent}"
}
