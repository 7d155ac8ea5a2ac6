# Job state (leases, per-link records, dedupe keys) lives in Firestore native mode.
# If the project already has a "(default)" database, import it instead:
#   terraform import google_firestore_database.this "projects/<project>/databases/(default)"
resource "google_firestore_database" "this" {
  project                           = local.project_id
  name                              = var.firestore_database
  location_id                       = coalesce(var.firestore_location, var.region)
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"
}

# Documents of the "jobs" collection group are deleted once expire_at has passed
# (TTL deletion typically runs within 24 h of expiry). No index_config block, so the
# field keeps the database's default single-field indexes.
resource "google_firestore_field" "jobs_ttl" {
  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = "jobs"
  field      = "expire_at"

  ttl_config {}
}

# Webhook event ids (kept to drop repeated deliveries) are deleted a week after they arrive.
resource "google_firestore_field" "webhook_events_ttl" {
  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = "webhook_events"
  field      = "expire_at"

  ttl_config {}
}

# `svp jobs --failed` lists jobs by status, newest first: equality plus order needs this index.
resource "google_firestore_index" "jobs_by_status" {
  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = "jobs"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}

# The poller (and the webhook, through the same path) looks for an earlier done job
# of the same link for the same user: url_key, user and status equal, newest first.
resource "google_firestore_index" "jobs_by_url_key_user_and_status" {
  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = "jobs"

  fields {
    field_path = "url_key"
    order      = "ASCENDING"
  }
  fields {
    field_path = "user"
    order      = "ASCENDING"
  }
  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}

# The api lists a signed-in user's jobs, newest first.
resource "google_firestore_index" "jobs_by_user" {
  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = "jobs"

  fields {
    field_path = "user"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}

# ... and one status of them (e.g. the failed ones), newest first.
resource "google_firestore_index" "jobs_by_user_and_status" {
  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = "jobs"

  fields {
    field_path = "user"
    order      = "ASCENDING"
  }
  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}

# The registry lists a user's Link/Content Database registrations of one kind, newest first.
resource "google_firestore_index" "registrations_by_kind_and_user" {
  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = "registrations"

  fields {
    field_path = "kind"
    order      = "ASCENDING"
  }
  fields {
    field_path = "user"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}
