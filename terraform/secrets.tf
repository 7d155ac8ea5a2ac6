# Secret *containers* only. Values are added outside Terraform so they never sit in
# the state or in .tf files:
#   printf %s "$TOKEN" | gcloud secrets versions add svp-notion-token --data-file=-
#   gcloud secrets versions add svp-cookies --data-file=cookies.txt
# (the secrets_add_version_commands output prints these). Functions read version
# "latest", and a function cannot deploy until each of its secrets has a version.
locals {
  secrets = toset([
    "notion-token",         # NOTION_TOKEN: the functions that act in Notion (not the downloader)
    "openai-api-key",       # OPENAI_API_KEY: transcriber
    "gemini-api-key",       # GEMINI_API_KEY: summarizer
    "cookies",              # cookies.txt for yt-dlp: downloader, only when enable_cookies
    "notion-client-secret", # NOTION_CLIENT_SECRET: api (Notion OAuth sign-in)
    "encryption-key",       # SVP_ENCRYPTION_KEY (a Fernet key): the functions that act in Notion; encrypts signed-in users' Notion tokens
    "webhook-token",        # NOTION_WEBHOOK_TOKEN: webhook (verifies Notion's signatures; "none" until Notion sent it)
    "session-secret",       # SVP_SESSION_SECRET: api (signs session cookies)
  ])
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  project   = local.project_id
  secret_id = "${var.prefix}${each.key}"
  labels    = var.labels

  replication {
    auto {}
  }
}
