"""Cloud Function: the downloader stage, invoked by its Pub/Sub push subscription."""

import functions_framework

from svp.functions import stage_handler

_handle_downloader = stage_handler("downloader")


@functions_framework.http
def handle(request):  # the entry point Terraform deploys (build_config.entry_point)
    return _handle_downloader(request)
