"""Cloud Function: the ocr stage, invoked by its Pub/Sub push subscription."""

import functions_framework

from svp.functions import stage_handler

_handle_ocr = stage_handler("ocr")


@functions_framework.http
def handle(request):  # the entry point Terraform deploys (build_config.entry_point)
    return _handle_ocr(request)
