"""BlobStore on a local folder; URIs are file:// URLs of absolute paths inside it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse


class LocalBlobStore:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"artifact key escapes the store: {key!r}")
        return path

    def _from_uri(self, uri: str) -> Path:
        parsed = urlparse(uri)
        path = Path(unquote(parsed.path)).resolve()
        if parsed.scheme != "file" or not path.is_relative_to(self.root):
            raise ValueError(f"not an artifact of this store ({self.root}): {uri}")
        return path

    def _write(self, key: str, fill) -> str:
        # Write to a temporary file and rename, so a reader never sees half an artifact.
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path.as_uri()

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> str:
        def copy(out) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)

        return self._write(key, copy)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        return self._write(key, lambda out: out.write(data))

    def get_bytes(self, uri: str) -> bytes:
        return self._from_uri(uri).read_bytes()

    def download(self, uri: str, path: Path) -> None:
        shutil.copyfile(self._from_uri(uri), path)

    def exists(self, uri: str) -> bool:
        return self._from_uri(uri).is_file()
