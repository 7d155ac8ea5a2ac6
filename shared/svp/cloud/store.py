"""The deployment's secrets as `svp cloud` sees them: read the current value, add a version.

The caller's own credentials (Application Default Credentials), through Secret Manager's API:
values go from this process to Secret Manager and nowhere else (no shell history, no
Terraform state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from svp.cloud.target import Target
from svp.secrets import encode_payload, rpc_status


class StoreError(Exception):
    """Secret Manager refused; the message says what to do."""


@dataclass(frozen=True)
class Current:
    """A secret's latest version: its number and value (None: no enabled version)."""

    version: int | None
    value: str | None

    @property
    def is_set(self) -> bool:
        return self.value is not None


class SecretStore:
    def __init__(self, client: Any, target: Target):
        self.client = client
        self.target = target

    def current(self, key: str) -> Current:
        from google.api_core import exceptions

        name = f"{self.target.secret_name(key)}/versions/latest"
        try:
            response = self.client.access_secret_version(request={"name": name}, timeout=30)
        except exceptions.GoogleAPICallError as exc:
            status = rpc_status(exc)
            if status == "FAILED_PRECONDITION":
                return Current(None, None)  # latest disabled or destroyed: set it again
            if status == "NOT_FOUND":
                self._exists(key)
                return Current(None, None)
            raise self._error(key, exc) from None
        version = int(response.name.rsplit("/", 1)[-1])
        return Current(version, response.payload.data.decode("utf-8"))

    def add(self, key: str, value: str) -> int:
        """Store `value` as the secret's new latest version; its number."""
        from google.api_core import exceptions

        try:
            version = self.client.add_secret_version(
                request={"parent": self.target.secret_name(key), "payload": encode_payload(value)},
                timeout=30,
            )
        except exceptions.GoogleAPICallError as exc:
            raise self._error(key, exc) from None
        return int(version.name.rsplit("/", 1)[-1])

    def _exists(self, key: str) -> None:
        from google.api_core import exceptions

        try:
            self.client.get_secret(request={"name": self.target.secret_name(key)}, timeout=30)
        except exceptions.GoogleAPICallError as exc:
            raise self._error(key, exc) from None

    def _error(self, key: str, exc: Exception) -> StoreError:
        status = rpc_status(exc)
        secret = self.target.secret_id(key)
        if status == "NOT_FOUND":
            return StoreError(
                f"secret {secret} does not exist in project {self.target.project}: run"
                " `terraform apply` first (it creates the secrets, without values)"
            )
        if status in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
            return StoreError(
                f"no access to secret {secret}: sign in as someone who may manage secrets"
                " (`gcloud auth application-default login`; roles/secretmanager.admin)"
            )
        return StoreError(f"Secret Manager refused {secret}: {exc}")
