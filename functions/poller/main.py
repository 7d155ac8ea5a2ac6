"""Cloud Function: the poller, invoked by Cloud Scheduler; queues pending Notion links."""

import functions_framework

from svp.functions import poller_handler


@functions_framework.http
def handle(request):  # the entry point Terraform deploys (build_config.entry_point)
    return poller_handler(request)
