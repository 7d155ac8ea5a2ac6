"""Cloud Function: the writer stage, invoked by its Pub/Sub push subscription."""

import functions_framework

from svp.functions import stage_handler

_handle_writer = stage_handler("writer")


@functions_framework.http
def handle(request):  # the entry point Terraform deploys (build_config.entry_point)
    return _handle_writer(request)
