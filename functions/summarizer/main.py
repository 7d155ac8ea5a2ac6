"""Cloud Function: the summarizer stage, invoked by its Pub/Sub push subscription."""

import functions_framework

from svp.functions import stage_handler

_handle_summarizer = stage_handler("summarizer")


@functions_framework.http
def handle(request):  # the entry point Terraform deploys (build_config.entry_point)
    return _handle_summarizer(request)
