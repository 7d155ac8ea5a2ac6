# The pipeline as a list of stages. Each module call creates the function, its
# runtime and trigger service accounts, and (when it has a source_topic) its push
# subscription, dead-letter topic and dead-letter pull subscription. The webhook
# and the api are public instead of having a trigger account (public_invoker).
#
# Sizes and timeouts come from shared/svp/limits.json, the table the stage runner
# also reads to know when a stage's worker is certainly gone.
#
# Secrets are read by the functions at run time through Secret Manager's API
# (svp.secrets), never mounted: each function gets SVP_SECRETS, the names of the
# secrets it may read, and secretAccessor on those only. So the first apply
# succeeds before any secret has a value (`svp cloud setup` adds them), and a new
# value reaches the functions within a minute, without a redeploy. The functions
# that write to Notion read NOTION_TOKEN and SVP_ENCRYPTION_KEY (people who sign in
# leave their Notion token in Firestore encrypted with it); the stages that parse
# media anyone can link to (downloader, transcriber, ocr) get neither: their status
# goes through the job's outbox (svp.topology.NOTION_FREE).

locals {
  # The Cloud Run execution environment of the functions that start children (yt-dlp,
  # gallery-dl, ffmpeg, ffprobe under svp.media.supervisor). The second generation is a
  # microVM with "full Linux compatibility, including support for all system calls,
  # namespaces, and cgroups"; the first is gVisor, which has no Landlock (the downloaders'
  # network confinement); a service that names none may get either (Cloud Run's
  # "Select an execution environment for services"). google_cloudfunctions2_function has
  # no field for it (the Functions v2 ServiceConfig carries none), so it is declared here
  # and set after apply by `svp cloud setup` through the Cloud Run Admin API, which may
  # manage the services of Functions v2 functions (svp.cloud.execution); `svp cloud
  # status` shows it. Also svp.cloud.target.EXECUTION_ENVIRONMENTS (tests keep both equal).
  execution_environments = {
    downloader  = "gen2"
    transcriber = "gen2"
    ocr         = "gen2"
  }

  # Every function, the api included: where the job state and the queues are.
  common_environment = {
    SVP_BACKEND            = "gcp"
    SVP_PROJECT            = var.project_id
    SVP_BUCKET             = google_storage_bucket.artifacts.name
    SVP_TOPIC_PREFIX       = var.prefix
    SVP_FIRESTORE_DATABASE = google_firestore_database.this.name
  }

  # The pipeline functions only (stage_context). The api does not inherit these: it
  # must not see the operator's Link/Content Databases, which belong to the
  # NOTION_TOKEN integration, not to the people who sign in.
  pipeline_environment = {
    SVP_MAX_ATTEMPTS      = tostring(var.max_run_attempts)
    SVP_MAX_DELIVERIES    = tostring(var.max_delivery_attempts)
    SVP_LINK_DATABASES    = var.link_databases
    SVP_CONTENT_DATABASES = var.content_databases
    SVP_OCR               = var.ocr_backend
    SVP_GEMINI_MODEL      = var.gemini_model
  }

  stage_context = {
    project_id            = local.project_id
    region                = var.region
    prefix                = var.prefix
    sources_bucket        = google_storage_bucket.sources.name
    artifacts_bucket      = google_storage_bucket.artifacts.name
    shared_package_dir    = "${path.root}/../shared/svp"
    build_dir             = "${path.root}/.build"
    build_service_account = local.build_service_account
    pubsub_service_agent  = local.pubsub_service_agent
    max_instances         = var.max_instances
    max_delivery_attempts = var.max_delivery_attempts
    labels                = var.labels
    environment           = merge(local.common_environment, local.pipeline_environment)
  }

  functions_dir = "${path.root}/../functions"
  secret        = { for k, s in google_secret_manager_secret.this : k => s.secret_id }
  cookies_dir   = "/secrets/cookies"
  limits        = jsondecode(file("${path.root}/../shared/svp/limits.json")).functions

  # The secrets each function may read at run time (setting => secret id): what it
  # needs to act in Notion, plus its engine's key. svp.secrets.FUNCTION_SECRETS is the
  # same table (tests/terraform/test_wiring.py).
  secret_access = {
    # Sends every status (the outbox) and refreshes a signed-in person's Notion token.
    poller = {
      NOTION_TOKEN         = local.secret["notion-token"]
      SVP_ENCRYPTION_KEY   = local.secret["encryption-key"]
      NOTION_CLIENT_SECRET = local.secret["notion-client-secret"]
    }
    webhook = {
      NOTION_TOKEN         = local.secret["notion-token"]
      SVP_ENCRYPTION_KEY   = local.secret["encryption-key"]
      NOTION_WEBHOOK_TOKEN = local.secret["webhook-token"]
    }
    downloader  = {}
    transcriber = { OPENAI_API_KEY = local.secret["openai-api-key"] }
    ocr         = {} # Cloud Vision: the function's service account, no key
    summarizer = {
      NOTION_TOKEN       = local.secret["notion-token"]
      SVP_ENCRYPTION_KEY = local.secret["encryption-key"]
      GEMINI_API_KEY     = local.secret["gemini-api-key"]
    }
    writer = { NOTION_TOKEN = local.secret["notion-token"], SVP_ENCRYPTION_KEY = local.secret["encryption-key"] }
    api = {
      NOTION_CLIENT_SECRET = local.secret["notion-client-secret"]
      SVP_ENCRYPTION_KEY   = local.secret["encryption-key"]
      SVP_SESSION_SECRET   = local.secret["session-secret"]
    }
  }

  # Where each pipeline stage's dead letters go: the poller's /dead-letter path fails
  # the message's job (with the replay command), whether or not the stage ever ran.
  dead_letter_handler = {
    url                   = "${module.poller.url}/dead-letter"
    audience              = module.poller.url
    service_account_email = module.poller.trigger_service_account_email
  }
}

module "poller" {
  source       = "./modules/stage"
  name         = "poller"
  context      = local.stage_context
  source_dir   = "${local.functions_dir}/poller"
  source_topic = null # invoked by Cloud Scheduler (scheduler.tf)
  # links: new links. The others: its reconciler runs a stage again by publishing that
  # stage's input, and a dead letter of a finished stage gets its next message again.
  publish_topics  = { for topic in local.topics : topic => google_pubsub_topic.this[topic].name }
  environment     = { NOTION_CLIENT_ID = var.notion_client_id } # token refresh
  memory          = local.limits.poller.memory
  timeout_seconds = local.limits.poller.timeout_seconds
  secrets         = local.secret_access.poller
}

# Notion's integration webhooks: the real-time trigger, queueing a new link
# through the poller's own path (the poller stays the backstop). Notion cannot
# present a Google identity, so the function is public and checks each request's
# HMAC signature itself.
module "webhook" {
  source       = "./modules/stage"
  name         = "webhook"
  context      = local.stage_context
  source_dir   = "${local.functions_dir}/webhook"
  source_topic = null # invoked by Notion over HTTPS
  publish_topics = {
    links = google_pubsub_topic.this["links"].name
  }
  public_invoker   = true
  artifacts_access = false # queues links only: Firestore, Notion, the links topic
  memory           = local.limits.webhook.memory
  timeout_seconds  = local.limits.webhook.timeout_seconds
  secrets          = local.secret_access.webhook
}

module "downloader" {
  source       = "./modules/stage"
  name         = "downloader"
  context      = local.stage_context
  source_dir   = "${local.functions_dir}/downloader"
  source_topic = google_pubsub_topic.this["links"].name
  publish_topics = {
    media = google_pubsub_topic.this["media"].name
  }
  dead_letter_handler = local.dead_letter_handler
  memory              = local.limits.downloader.memory
  timeout_seconds     = local.limits.downloader.timeout_seconds
  secrets             = local.secret_access.downloader
  # yt-dlp cookies (Instagram needs a sessionid): only when enable_cookies.
  environment = var.enable_cookies ? { SVP_COOKIES_FILE = "${local.cookies_dir}/cookies.txt" } : null
  secret_volumes = var.enable_cookies ? {
    (local.cookies_dir) = { secret = local.secret["cookies"], path = "cookies.txt" }
  } : null
}

module "transcriber" {
  source       = "./modules/stage"
  name         = "transcriber"
  context      = local.stage_context
  source_dir   = "${local.functions_dir}/transcriber"
  source_topic = google_pubsub_topic.this["media"].name
  publish_topics = {
    extracted = google_pubsub_topic.this["extracted"].name
  }
  dead_letter_handler = local.dead_letter_handler
  memory              = local.limits.transcriber.memory
  cpu                 = local.limits.transcriber.cpu
  timeout_seconds     = local.limits.transcriber.timeout_seconds
  secrets             = local.secret_access.transcriber
}

module "ocr" {
  source       = "./modules/stage"
  name         = "ocr"
  context      = local.stage_context
  source_dir   = "${local.functions_dir}/ocr"
  source_topic = google_pubsub_topic.this["media"].name # second, independent subscription on media
  publish_topics = {
    extracted = google_pubsub_topic.this["extracted"].name
  }
  dead_letter_handler = local.dead_letter_handler
  memory              = local.limits.ocr.memory
  cpu                 = local.limits.ocr.cpu
  timeout_seconds     = local.limits.ocr.timeout_seconds
  secrets             = local.secret_access.ocr
}

module "summarizer" {
  source       = "./modules/stage"
  name         = "summarizer"
  context      = local.stage_context
  source_dir   = "${local.functions_dir}/summarizer"
  source_topic = google_pubsub_topic.this["extracted"].name
  publish_topics = {
    summaries = google_pubsub_topic.this["summaries"].name
  }
  dead_letter_handler = local.dead_letter_handler
  memory              = local.limits.summarizer.memory
  timeout_seconds     = local.limits.summarizer.timeout_seconds
  secrets             = local.secret_access.summarizer
}

module "writer" {
  source              = "./modules/stage"
  name                = "writer"
  context             = local.stage_context
  source_dir          = "${local.functions_dir}/writer"
  source_topic        = google_pubsub_topic.this["summaries"].name
  publish_topics      = {} # last stage
  dead_letter_handler = local.dead_letter_handler
  memory              = local.limits.writer.memory
  timeout_seconds     = local.limits.writer.timeout_seconds
  secrets             = local.secret_access.writer
}

# --- api: Notion sign-in, status page, JSON API ---------------------------------
# Public like the webhook: people open it in a browser and API clients call it, so
# anyone may invoke, and the function authenticates every request itself (a signed
# session cookie set after Notion's OAuth flow, or an API key). It is not a stage:
# no topic feeds it. Replay pulls a message from a stage's dead-letter subscription,
# republishes it to the stage's input topic and then acks it: publisher on the four
# pipeline topics, subscriber on the five dead-letter subscriptions, nothing more.
# No artifacts bucket, and none of the pipeline's settings.

locals {
  # The api's public address: what people open to sign in, and the base of its OAuth
  # redirect URI. It cannot be module.api.url: that is only known once the function
  # exists, and the function's own environment (NOTION_REDIRECT_URI) needs it, a
  # self-reference cycle. So it is built from what is known before: Cloud Run's
  # deterministic URL of the function's service, https://<service>-<project
  # number>.<region>.run.app (the service is named like the function, <prefix>api).
  # Not the other deterministic form, https://<region>-<project>.cloudfunctions.net/<name>:
  # there the app would live under /<name>/, while its pages, form actions, redirects
  # and its sign-in state cookie (path /auth/notion/) use root paths, so sign-in and
  # navigation would break. api_base_url overrides it (a custom domain, a load balancer).
  api_url = (
    var.api_base_url != ""
    ? trimsuffix(var.api_base_url, "/")
    : "https://${var.prefix}api-${data.google_project.this.number}.${var.region}.run.app"
  )

  # With common_environment and nothing else (inherit_environment = false).
  api_environment = {
    NOTION_CLIENT_ID    = var.notion_client_id
    NOTION_REDIRECT_URI = "${local.api_url}/auth/notion/callback"
    SVP_CORS_ORIGINS    = var.cors_origins
  }
}

module "api" {
  source       = "./modules/stage"
  name         = "api"
  context      = local.stage_context
  source_dir   = "${local.functions_dir}/api"
  source_topic = null # opened by people and called by API clients over HTTPS
  # Replay: each stage's input topic (svp.topology.INPUT_TOPIC).
  publish_topics = {
    links     = google_pubsub_topic.this["links"].name
    media     = google_pubsub_topic.this["media"].name
    extracted = google_pubsub_topic.this["extracted"].name
    summaries = google_pubsub_topic.this["summaries"].name
  }
  # Replay: pull and ack the dead-lettered messages of every push stage.
  subscribe_subscriptions = {
    downloader  = module.downloader.dead_letter_subscription
    transcriber = module.transcriber.dead_letter_subscription
    ocr         = module.ocr.dead_letter_subscription
    summarizer  = module.summarizer.dead_letter_subscription
    writer      = module.writer.dead_letter_subscription
  }
  public_invoker      = true
  artifacts_access    = false # Firestore, Notion and Pub/Sub only
  inherit_environment = false # no SVP_LINK_DATABASES / SVP_CONTENT_DATABASES
  environment         = merge(local.common_environment, local.api_environment)
  memory              = local.limits.api.memory
  timeout_seconds     = local.limits.api.timeout_seconds
  secrets             = local.secret_access.api
}

# --- build identity -----------------------------------------------------------
# Cloud Build runs the function builds as this account instead of the default
# compute service account (which new projects no longer grant broad roles).

resource "google_service_account" "build" {
  project      = local.project_id
  account_id   = "${var.prefix}build"
  display_name = "SVP function builds"
}

resource "google_project_iam_member" "build" {
  # checkov:skip=CKV_GCP_49:roles/cloudbuild.builds.builder is the role Google documents for function builds; it goes to a build-only account that runs none of our code.
  project = local.project_id
  role    = "roles/cloudbuild.builds.builder"
  member  = google_service_account.build.member
}

locals {
  # Built from the IAM binding rather than the account so that functions are only
  # created once the build account may build.
  build_service_account = "projects/${local.project_id}/serviceAccounts/${trimprefix(google_project_iam_member.build.member, "serviceAccount:")}"
}
