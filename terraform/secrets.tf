# Secret *containers* only. Values never pass through Terraform (so they never sit in
# its state or in .tf files): `svp cloud setup` checks each value against its service
# and adds it as a new version through Secret Manager's API. The functions read
# version "latest" at run time (svp.secrets), so none of them needs a value to deploy,
# and a new version reaches them within a minute. The cookies secret alone is mounted
# as a file (yt-dlp reads a cookies file), behind enable_cookies.
locals {
  secrets = toset([
    "notion-token",         # NOTION_TOKEN: the functions that act in Notion (none that parses media)
    "openai-api-key",       # OPENAI_API_KEY: transcriber
    "gemini-api-key",       # GEMINI_API_KEY: summarizer
    "cookies",              # cookies.txt for yt-dlp: downloader, only when enable_cookies
    "notion-client-secret", # NOTION_CLIENT_SECRET: api (Notion OAuth sign-in)
    "encryption-key",       # SVP_ENCRYPTION_KEY (a Fernet key): the functions that act in Notion and the api; encrypts signed-in users' Notion tokens
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
