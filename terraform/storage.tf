# Function source zips. Objects are named by content hash (see modules/stage), so
# versioning only matters for accidental overwrites/deletes: keep 30 days of those.
resource "google_storage_bucket" "sources" {
  # checkov:skip=CKV_GCP_62:Access logs of a bucket only written by Terraform and read by Cloud Build add nothing over Cloud Audit Logs.
  project                     = local.project_id
  name                        = "${var.project_id}-${var.prefix}sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
  }
}

# Intermediate artifacts (media, frames, transcripts): transient by design and
# deleted after artifact_retention_days.
resource "google_storage_bucket" "artifacts" {
  # checkov:skip=CKV_GCP_62:Access logs for transient pipeline artifacts are not needed; Cloud Audit Logs cover admin access.
  # checkov:skip=CKV_GCP_78:Artifacts are transient and reproducible from the source link; versioning would keep deleted media past artifact_retention_days.
  project                     = local.project_id
  name                        = "${var.project_id}-${var.prefix}artifacts"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      age = var.artifact_retention_days
    }
  }
}
