"""Google API clients for `svp cloud`, each sendable to a test endpoint.

`SVP_<SERVICE>_ENDPOINT` (tests only, like SVP_SECRET_MANAGER_ENDPOINT for the functions)
sends a service's calls to `http://127.0.0.1:PORT` over REST with anonymous credentials;
otherwise the client uses Application Default Credentials (`gcloud auth
application-default login`).
"""

from __future__ import annotations

import os
from typing import Any

ENDPOINTS = {
    "secretmanager": "SVP_SECRET_MANAGER_ENDPOINT",
    "scheduler": "SVP_SCHEDULER_ENDPOINT",
    "logging": "SVP_LOGGING_ENDPOINT",
    "functions": "SVP_FUNCTIONS_ENDPOINT",
    "run": "SVP_RUN_ENDPOINT",
}
REST_BASES = {
    "logging": "https://logging.googleapis.com",
    "functions": "https://cloudfunctions.googleapis.com",
    "run": "https://run.googleapis.com",
}


def endpoint(service: str) -> str:
    return os.environ.get(ENDPOINTS[service], "").rstrip("/")


def _sdk_options(service: str) -> dict[str, Any]:
    url = endpoint(service)
    if not url:
        return {}
    from google.auth.credentials import AnonymousCredentials

    return {
        "transport": "rest",
        "client_options": {"api_endpoint": url},
        "credentials": AnonymousCredentials(),
    }


def secret_manager() -> Any:
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient(**_sdk_options("secretmanager"))


def scheduler() -> Any:
    from google.cloud import scheduler_v1

    return scheduler_v1.CloudSchedulerClient(**_sdk_options("scheduler"))


def rest(service: str) -> tuple[Any, str]:
    """(a requests session that authenticates, base URL) for a REST-only API (no client
    library installed for it): google-auth's AuthorizedSession with ADC."""
    url = endpoint(service)
    if url:
        import requests

        return requests.Session(), url
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return AuthorizedSession(credentials), REST_BASES[service]
