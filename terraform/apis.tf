locals {
  services = toset([
    "artifactregistry.googleapis.com", # images built for the functions
    "cloudbuild.googleapis.com",       # builds the function sources
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com", # project lookup and project IAM
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "vision.googleapis.com", # only used when ocr_backend = "vision"
  ])

  # Every resource takes its project from here rather than from var.project_id:
  # reading it through the API resources makes each of them wait until all APIs
  # are enabled (the same idea as the project_id output of fabric's project module).
  project_id = one(distinct([for s in google_project_service.this : s.project]))
}

resource "google_project_service" "this" {
  for_each = local.services

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

data "google_project" "this" {
  project_id = var.project_id
}

# Makes sure the Pub/Sub service agent exists before it is granted anything. The
# API does not always return the agent's e-mail, so fall back to its documented form.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = local.project_id
  service = "pubsub.googleapis.com"
}

locals {
  pubsub_service_agent = coalesce(
    google_project_service_identity.pubsub.email,
    "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com",
  )
}
