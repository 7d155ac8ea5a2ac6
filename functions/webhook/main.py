"""Cloud Function: Notion's integration webhooks, queueing new links in real time."""

import functions_framework

from svp.functions import webhook_handler

handle = functions_framework.http(webhook_handler)
