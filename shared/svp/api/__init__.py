"""The API and status page: Notion sign-in, registration, jobs, replay, API keys, health.

One Flask app, served by the `api` Cloud Function (functions/api) and by `svp serve`.
"""

from svp.api.app import create_app

__all__ = ["create_app"]
