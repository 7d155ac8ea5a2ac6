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

# Browser sessions are deleted once they expired (14 days after sign-in).
resource "google_firestore_field" "sessions_ttl" {
  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = "sessions"
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

# A held link's place in line, as last shown on its row (svp.runtime.room), is deleted a week
# after it was shown.
resource "google_firestore_field" "places_ttl" {
  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = "places"
  field      = "expire_at"

  ttl_config {}
}

# Range queries on one field, ordered by that field (FirestoreStateStore.list with a span),
# use the automatic single-field index and need no composite index; keep those fields
# indexed (no single-field exemption on them):
#   jobs.check_at     the reconciler: jobs due for a look, oldest first (svp.runtime.reconciler)
#   jobs.active_until the poller's admission: jobs at work (svp.runtime.room)
#   videos.sweep_at   the poller's sweep: claims whose given-up writers may have made a page
#                     late (svp.stages.late_pages)
#
# FirestoreStateStore.list orders by updated_at, newest first: an equality filter plus
# that order needs a composite index per set of filtered fields, one for each query the
# code makes (svp.adapters.firestore_state).
locals {
  firestore_indexes = {
    # `svp jobs --failed`
    jobs_by_status = { collection = "jobs", fields = ["status"] }
    # open jobs (not ended, or ended but not yet shown in Notion): the local worker's drain
    # (svp.runtime.dispatch); the reconciler queries check_at instead (above)
    jobs_open = { collection = "jobs", fields = ["open"] }
    # the api's job list of one person
    jobs_by_user = { collection = "jobs", fields = ["user"] }
    # a person's Link or Content Database registrations
    registrations_by_kind_and_user = { collection = "registrations", fields = ["kind", "user"] }
    # a person's browser sessions and API keys (listed and revoked on the status page)
    sessions_by_user = { collection = "sessions", fields = ["user_id"] }
    api_keys_by_user = { collection = "api_keys", fields = ["user_id"] }
    # every claim of one video (one per person and Content Database): the pages the sweep of
    # late pages keeps (svp.stages.late_pages)
    videos_by_video = { collection = "videos", fields = ["video"] }
  }
}

resource "google_firestore_index" "this" {
  for_each = local.firestore_indexes

  project    = local.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collection

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}
