variable "project_id" {
  description = "Project that hosts everything."
  type        = string
}

variable "region" {
  description = "Region of the functions, buckets, scheduler job and (by default) Firestore."
  type        = string
  default     = "us-central1"
}

variable "prefix" {
  description = "Prefix of every resource name; the functions read it as SVP_TOPIC_PREFIX. Keep it short: service account ids are limited to 30 characters."
  type        = string
  default     = "svp-"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,10}$", var.prefix))
    error_message = "prefix: lowercase letters, digits and hyphens, starting with a letter, at most 11 characters (e.g. \"svp-\")."
  }
}

variable "labels" {
  description = "Labels added to the resources that take labels."
  type        = map(string)
  default     = {}
}

# --- pipeline behaviour -------------------------------------------------------

variable "poll_schedule" {
  description = "Cron schedule of the Cloud Scheduler job that invokes the poller."
  type        = string
  default     = "* * * * *"
}

variable "poll_time_zone" {
  description = "Time zone of poll_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "max_delivery_attempts" {
  description = "Deliveries of a message to a stage before it goes to that stage's dead-letter topic (Pub/Sub accepts 5-100), deliveries Cloud Run refuses while a function is at max_instances included: the default spans about 90 minutes of 10-600 s back-off (README: sizing). Given to the functions as SVP_MAX_DELIVERIES."
  type        = number
  default     = 15

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub limit)."
  }
}

variable "max_run_attempts" {
  description = "Runs of a stage for one link before the link fails with the last error (SVP_MAX_ATTEMPTS); keep it at most max_delivery_attempts."
  type        = number
  default     = 5

  validation {
    condition     = var.max_run_attempts >= 1 && var.max_run_attempts <= 100
    error_message = "max_run_attempts must be between 1 and 100."
  }
}

variable "max_instances" {
  description = "Maximum instances of each function. Notion allows about 3 requests/s per integration, so keep this small."
  type        = number
  default     = 3
}

variable "link_databases" {
  description = "SVP_LINK_DATABASES: comma separated Notion database ids holding the links to process."
  type        = string
  default     = ""
}

variable "content_databases" {
  description = "SVP_CONTENT_DATABASES: \"tag=id,tag=id\" Notion databases the writer fills."
  type        = string
  default     = ""
}

variable "ocr_backend" {
  description = "SVP_OCR: \"vision\" (Cloud Vision API, billed per image read), \"rapidocr\" (ONNX models inside the ocr function: no per-image bill, about 0.5 GiB more memory; the function has 2 GiB) or \"tesseract\" (needs the tesseract binary, which the Cloud Functions base image lacks: the OCR stage then degrades to no on-screen text)."
  type        = string
  default     = "vision"

  validation {
    condition     = contains(["vision", "rapidocr", "tesseract"], var.ocr_backend)
    error_message = "ocr_backend must be \"vision\", \"rapidocr\" or \"tesseract\"."
  }
}

variable "gemini_model" {
  description = "SVP_GEMINI_MODEL: Gemini model id used by the summarizer (model ids change: keep it configuration)."
  type        = string
  default     = "gemini-flash-latest"
}

variable "enable_cookies" {
  description = "Mount the cookies secret into the downloader at /secrets/cookies/cookies.txt (store it first: `svp cloud setup --cookies cookies.txt`)."
  type        = bool
  default     = false
}

# --- api: Notion sign-in and the status page -----------------------------------

variable "notion_client_id" {
  description = "NOTION_CLIENT_ID: OAuth client id of the public Notion integration people sign in with (see README, \"Many users\"). Not secret; its client secret goes to the notion-client-secret secret. Empty: sign-in is off (the api answers that it is not configured)."
  type        = string
  default     = ""
}

variable "api_base_url" {
  description = "Public base URL of the api function (no trailing path), when it is not the default https://<prefix>api-<project number>.<region>.run.app, e.g. a custom domain. The api_url output and the OAuth redirect URI (+ /auth/notion/callback) are built from it."
  type        = string
  default     = ""

  validation {
    condition     = var.api_base_url == "" || can(regex("^https://[^/?#]+/?$", var.api_base_url))
    error_message = "api_base_url: empty, or https://host with no path (the api serves from the root)."
  }
}

variable "cors_origins" {
  description = "SVP_CORS_ORIGINS: comma separated origins (https://app.example.com) whose browser pages may call the api's JSON API with the user's cookie. Empty: none."
  type        = string
  default     = ""
}

# --- storage and database -----------------------------------------------------

variable "artifact_retention_days" {
  description = "Days after which objects in the artifacts bucket (downloaded media, frames, transcripts) are deleted. Longer than dead letters are kept (7 days): a message replayed on its last day still finds the artifacts it names."
  type        = number
  default     = 14

  validation {
    condition     = var.artifact_retention_days >= 8
    error_message = "artifact_retention_days must outlast the 7 days dead letters are kept, or a late replay finds its artifacts gone."
  }
}

variable "firestore_database" {
  description = "Firestore database name (SVP_FIRESTORE_DATABASE)."
  type        = string
  default     = "(default)"
}

variable "firestore_location" {
  description = "Firestore location id (e.g. \"nam5\", \"eur3\", \"europe-west1\"); defaults to region."
  type        = string
  default     = null
}

# --- monitoring ---------------------------------------------------------------

variable "alert_email" {
  description = "E-mail address that receives alerts. No notification channel is created when null (alerts still open incidents in the console)."
  type        = string
  default     = null
}

variable "failure_rate_threshold" {
  description = "Alert when failed / (done + failed) links over 30 minutes exceeds this ratio."
  type        = number
  default     = 0.1
}

variable "processing_time_threshold_seconds" {
  description = "Alert when a stage's mean duration over a 5-minute window exceeds this."
  type        = number
  default     = 300
}

variable "backlog_threshold" {
  description = "Alert when a stage subscription holds more undelivered messages than this for 5 minutes."
  type        = number
  default     = 50
}
