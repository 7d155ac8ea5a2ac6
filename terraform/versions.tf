terraform {
  # strcontains()/endswith() in the stage module need Terraform >= 1.5.
  required_version = ">= 1.5"

  required_providers {
    # 6.13: disable_metric_validation on PromQL alert conditions (monitoring.tf).
    google = {
      source  = "hashicorp/google"
      version = "~> 6.13"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.13"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }

  # State stays local by default. For a shared deployment add, e.g.:
  #   backend "gcs" { bucket = "<state bucket>", prefix = "svp" }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

# Only used for google_project_service_identity (Pub/Sub service agent).
provider "google-beta" {
  project = var.project_id
  region  = var.region
}
