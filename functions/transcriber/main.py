"""Cloud Function: the transcriber stage, invoked by its Pub/Sub push subscription."""

import functions_framework

from svp.functions import stage_handler

_handle_transcriber = stage_handler("transcriber")


@functions_framework.http
def handle(request):  # the entry point Terraform deploys (build_config.entry_point)
    return _handle_transcriber(request)
