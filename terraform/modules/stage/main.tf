locals {
  function_name = "${var.context.prefix}${var.name}"
  subscribed    = var.source_topic != null

  # Paths never shipped: __pycache__, compiled files, dotfiles (.env, caches).
  exclude_pattern = "(^|/)(__pycache__/|\\.)|\\.py[co]$"
  function_files  = [for f in fileset(var.source_dir, "**") : f if !can(regex(local.exclude_pattern, f))]
  shared_files    = [for f in fileset(var.context.shared_package_dir, "**") : f if !can(regex(local.exclude_pattern, f))]

  # Which secrets the function reads at run time (names only, never values: svp.secrets).
  secret_names = length(var.secrets) == 0 ? {} : {
    SVP_SECRETS = join(",", [for setting, id in var.secrets : "${setting}=${id}"])
  }
}

# Zip = the function folder at the root + the shared svp package under svp/, so
# `import svp` works. archive_file writes entries sorted and with a fixed mtime, so
# the hash only changes when a file does. file() needs UTF-8: keep binaries out of
# these folders.
data "archive_file" "source" {
  type        = "zip"
  output_path = "${var.context.build_dir}/${local.function_name}.zip"

  dynamic "source" {
    for_each = toset(local.function_files)
    content {
      content  = file("${var.source_dir}/${source.value}")
      filename = source.value
    }
  }

  dynamic "source" {
    for_each = toset(local.shared_files)
    content {
      content  = file("${var.context.shared_package_dir}/${source.value}")
      filename = "svp/${source.value}"
    }
  }

  lifecycle {
    precondition {
      condition     = contains(local.function_files, "main.py") && contains(local.function_files, "requirements.txt")
      error_message = "${var.source_dir} must contain main.py and requirements.txt."
    }
    precondition {
      condition     = contains(local.shared_files, "__init__.py")
      error_message = "${var.context.shared_package_dir} is not a Python package (no __init__.py)."
    }
  }
}

# Named by content hash: an unchanged function keeps the same object, so the
# function is not rebuilt or redeployed (no timestamp() anywhere).
resource "google_storage_bucket_object" "source" {
  name   = "${var.name}-${data.archive_file.source.output_md5}.zip"
  bucket = var.context.sources_bucket
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "this" {
  # checkov:skip=CKV_GCP_124:Pub/Sub push, Cloud Scheduler, Notion's webhooks and people's browsers call the function from outside the VPC; access is enforced by IAM (roles/run.invoker for the stage's trigger SA only) or, for the public_invoker functions, by the function itself (the webhook's HMAC signature check, the api's signed session cookie or API key).
  project     = var.context.project_id
  location    = var.context.region
  name        = local.function_name
  description = "Social Video Processor: ${var.name} stage."
  labels      = var.context.labels

  build_config {
    runtime         = "python311"
    entry_point     = "handle"
    service_account = var.context.build_service_account

    source {
      storage_source {
        bucket = var.context.sources_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.memory
    available_cpu                    = var.cpu
    timeout_seconds                  = var.timeout_seconds
    min_instance_count               = 0
    max_instance_count               = var.context.max_instances
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function.email
    environment_variables            = merge(var.inherit_environment ? var.context.environment : {}, var.environment, local.secret_names)

    dynamic "secret_volumes" {
      for_each = var.secret_volumes
      content {
        mount_path = secret_volumes.key
        project_id = var.context.project_id
        secret     = secret_volumes.value.secret
        versions {
          version = "latest"
          path    = secret_volumes.value.path
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = !(var.public_invoker && var.source_topic != null)
      error_message = "A public_invoker function has no trigger service account, so it cannot be fed by a push subscription (source_topic must be null)."
    }
  }

  # The first request may read the secrets: access is granted before the function exists.
  depends_on = [google_secret_manager_secret_iam_member.function]
}
