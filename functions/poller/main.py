"""Cloud Function: the poller, invoked by Cloud Scheduler; queues pending Notion links."""

import functions_framework

from svp.functions import poller_handler

handle = functions_framework.http(poller_handler)
