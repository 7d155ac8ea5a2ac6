variable "name" {
  description = "Stage name (poller, downloader, ...): function folder name and resource name suffix."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.name))
    error_message = "name: lowercase letters, digits and hyphens."
  }
}

variable "context" {
  description = "Settings shared by every stage, built once in the root module (functions.tf)."
  type = object({
    project_id            = string
    region                = string
    prefix                = string
    sources_bucket        = string
    artifacts_bucket      = string
    shared_package_dir    = string # the svp package, shipped as svp/ in every zip
    build_dir             = string # where zips are written before upload
    build_service_account = string # projects/<p>/serviceAccounts/<email>
    pubsub_service_agent  = string # e-mail of service-<number>@gcp-sa-pubsub...
    max_instances         = number
    max_delivery_attempts = number
    environment           = map(string)
    labels                = map(string)
  })
}

variable "source_dir" {
  description = "Folder with the function's main.py and requirements.txt (zip root)."
  type        = string
}

# --- wiring -------------------------------------------------------------------

variable "source_topic" {
  description = "Name of the topic this stage consumes through a push subscription; null for a stage invoked by other means (the poller, by Cloud Scheduler)."
  type        = string
  default     = null
}

variable "publish_topics" {
  description = "Topics this stage publishes to (key: short name, value: topic name); the function's service account gets roles/pubsub.publisher on each."
  type        = map(string)
  default     = {}
  nullable    = false # null means "none"
}

variable "subscribe_subscriptions" {
  description = "Subscriptions this function pulls from and acks (key: short name, value: subscription name); the function's service account gets roles/pubsub.subscriber on each (the api's replay, on the dead-letter subscriptions)."
  type        = map(string)
  default     = {}
  nullable    = false # null means "none"
}

variable "public_invoker" {
  description = "true: anyone may invoke the function (roles/run.invoker for all users, unauthenticated) and no trigger service account is created. Only for an endpoint that authenticates every request itself (the Notion webhook checks an HMAC signature; the api a signed session cookie or an API key)."
  type        = bool
  default     = false
  nullable    = false
}

variable "artifacts_access" {
  description = "Grant the runtime service account roles/storage.objectUser on the artifacts bucket; false for a function that never reads or writes artifacts."
  type        = bool
  default     = true
  nullable    = false
}

# --- runtime ------------------------------------------------------------------

variable "memory" {
  description = "available_memory, e.g. \"256M\", \"1Gi\"."
  type        = string
}

variable "cpu" {
  description = "available_cpu; null lets Cloud Functions derive it from memory."
  type        = string
  default     = null
}

variable "timeout_seconds" {
  description = "Request timeout. Push deliveries time out at the ack deadline (600 s) anyway."
  type        = number
}

variable "inherit_environment" {
  description = "true: the function gets context.environment (the pipeline's settings) with var.environment merged over it; false: var.environment only (the api, which must not see the pipeline's Notion databases)."
  type        = bool
  default     = true
  nullable    = false
}

variable "environment" {
  description = "Stage-specific environment variables, merged over context.environment (or alone with inherit_environment = false)."
  type        = map(string)
  default     = {}
  nullable    = false # null means "none"
}

variable "secrets" {
  description = "Setting name => Secret Manager secret id: the secrets the function may read at run time through Secret Manager's API (svp.secrets). Only the names reach the function (SVP_SECRETS), never a value; its service account gets secretAccessor on each. A secret needs no version for the function to deploy."
  type        = map(string)
  default     = {}
  nullable    = false # null means "none"
}

variable "secret_volumes" {
  description = "Mount path => { secret = secret id, path = file name under the mount path } (version \"latest\")."
  type = map(object({
    secret = string
    path   = string
  }))
  default  = {}
  nullable = false # null means "none"
}

# --- delivery -----------------------------------------------------------------

variable "dead_letter_handler" {
  description = "Where this stage's dead letters are pushed besides the pull subscription (the poller's /dead-letter path, which fails their jobs): its URL, the OIDC audience, and the service account that signs the push. Null: no handler."
  type = object({
    url                   = string
    audience              = string
    service_account_email = string
  })
  default = null
}

variable "ack_deadline_seconds" {
  description = "Push subscription ack deadline (= push request timeout), max 600."
  type        = number
  default     = 600
}

variable "retry_minimum_backoff" {
  type    = string
  default = "10s"
}

variable "retry_maximum_backoff" {
  type    = string
  default = "600s"
}

variable "dead_letter_retention" {
  description = "How long dead-lettered messages are kept in the dead-letter pull subscription (max 7 days)."
  type        = string
  default     = "604800s"
}
