"""Cloud Function: Notion's integration webhooks, queueing new links in real time."""

import functions_framework

from svp.functions import webhook_handler


@functions_framework.http
def handle(request):  # the entry point Terraform deploys (build_config.entry_point)
    return webhook_handler(request)
