"""Cloud Function: the API and status page (Notion sign-in, registration, jobs, health)."""

import functions_framework

from svp.functions import api_handler


@functions_framework.http
def handle(request):  # the entry point Terraform deploys (build_config.entry_point)
    return api_handler(request)
