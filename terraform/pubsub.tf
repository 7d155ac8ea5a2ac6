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
