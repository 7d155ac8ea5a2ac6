"""Cloud Function: the ocr stage, invoked by its Pub/Sub push subscription."""

import functions_framework

from svp.functions import stage_handler

handle = functions_framework.http(stage_handler("ocr"))
