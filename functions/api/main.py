"""Cloud Function: the API and status page (Notion sign-in, registration, jobs, health)."""

import functions_framework

from svp.functions import api_handler

handle = functions_framework.http(api_handler)
