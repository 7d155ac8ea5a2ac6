"""`BlobStore` on one Cloud Storage bucket; artifacts are addressed as `gs://BUCKET/KEY`.

Uploads overwrite unconditionally (no `if_generation_match`): artifacts live at deterministic
keys and a retried stage must be able to replace what an earlier attempt wrote. The library
still retries uploads on transient errors (google-cloud-storage 3.x uses DEFAULT_RETRY for
uploads), which is safe because writing the same key again is idempotent. Files above 8 MiB go
through a resumable upload. A missing object raises FileNotFoundError (like the local store);
a URI of another bucket or scheme raises ValueError naming the URI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import storage


class GcsBlobStore:
    def __init__(self, bucket: str, client: Any = None):
        self._bucket_name = bucket
        self._client = client or storage.Client()
        self._bucket = self._client.bucket(bucket)

    def uri(self, key: str) -> str:
        return f"gs://{self._bucket_name}/{key}"

    def _blob_for_key(self, key: str) -> Any:
        if not key or key.startswith("/") or "://" in key:
            raise ValueError(f"invalid blob key: {key!r}")
        return self._bucket.blob(key)

    def _blob_for_uri(self, uri: str) -> Any:
        prefix = f"gs://{self._bucket_name}/"
        if not uri.startswith(prefix) or len(uri) == len(prefix):
            raise ValueError(f"not an object of bucket {self._bucket_name!r}: {uri}")
        return self._bucket.blob(uri[len(prefix) :])

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> str:
        # content_type None: guessed from the file name, else application/octet-stream.
        self._blob_for_key(key).upload_from_filename(str(path), content_type=content_type)
        return self.uri(key)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        self._blob_for_key(key).upload_from_string(
            data, content_type=content_type or "application/octet-stream"
        )
        return self.uri(key)

    def get_bytes(self, uri: str) -> bytes:
        blob = self._blob_for_uri(uri)
        try:
            return blob.download_as_bytes()
        except gexc.NotFound:
            raise FileNotFoundError(uri) from None

    def download(self, uri: str, path: Path) -> None:
        blob = self._blob_for_uri(uri)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            blob.download_to_filename(str(path))  # removes the partial file on failure
        except gexc.NotFound:
            raise FileNotFoundError(uri) from None

    def exists(self, uri: str) -> bool:
        return self._blob_for_uri(uri).exists()
