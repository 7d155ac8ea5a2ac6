"""Configuration from environment variables and an optional `.env` file, validated at start.

Every bad value is reported at once, each with the variable's name and what it expects.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

BACKENDS = ("local", "gcp")
# Whose the configured integration (NOTION_TOKEN) and its databases are, beside the people
# who sign in with their own Notion.
LOCAL_USER = "local"
OCR_ENGINES = ("rapidocr", "tesseract", "vision")
LLM_PROVIDERS = ("gemini", "openai", "extractive")
LLM_RESPONSE_FORMATS = ("strict", "json_schema", "json_object")


class ConfigError(ValueError):
    """Raised with one line per invalid variable."""


@dataclass(frozen=True)
class Settings:
    backend: str = "local"
    data_dir: Path = Path(".svp")
    # Google Cloud
    project: str = ""
    bucket: str = ""
    topic_prefix: str = "svp-"
    firestore_database: str = "(default)"
    # Delivery: a stage runs at most `max_attempts` times; a message is delivered at most
    # `max_deliveries` times (deliveries refused by a busy platform count too) before it is
    # dead-lettered. Leases are renewed by a heartbeat; see svp.limits for deadlines.
    max_attempts: int = 5
    max_deliveries: int = 15
    concurrency: int = 5
    retry_min_seconds: float = 10.0
    retry_max_seconds: float = 600.0
    lease_seconds: float = 60.0
    poll_interval_seconds: int = 60
    # Notion
    notion_token: str = field(default="", repr=False)
    notion_base_url: str = ""
    notion_webhook_token: str = field(default="", repr=False)
    notion_requests_per_second: float = 3.0
    notion_retry_seconds: float = 0.5
    status_updates: str = "all"
    # Many users (the API function): Notion OAuth, sessions, token encryption
    notion_client_id: str = ""
    notion_client_secret: str = field(default="", repr=False)
    notion_redirect_uri: str = ""
    encryption_key: str = field(default="", repr=False)
    session_secret: str = field(default="", repr=False)
    cors_origins: tuple[str, ...] = ()
    api_requests_per_minute: int = 120
    link_databases: tuple[str, ...] = ()
    content_databases: Mapping[str, str] = field(default_factory=dict)
    # Engines
    openai_api_key: str = field(default="", repr=False)
    openai_base_url: str = ""
    transcribe_model: str = "gpt-transcribe"
    whisper_model: str = ""
    ocr_engine: str = "rapidocr"
    # Looks for new text this often: overlays shown for 0.8 s are seen (svp.media.frames).
    ocr_interval_seconds: float = 0.3
    vision_endpoint: str = ""
    gemini_api_key: str = field(default="", repr=False)
    gemini_base_url: str = ""
    # Google's maintained alias for its newest Flash: a retired pinned id answers 404 (see
    # svp.summary.models); prices per model: svp.summary.prices.
    gemini_model: str = "gemini-flash-latest"
    # Summary (LLM provider, inputs, retries, prices); see svp.summary
    llm_provider: str = ""  # "" = auto: gemini if GEMINI_API_KEY, else openai if configured
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_response_format: str = "strict"
    llm_timeout_seconds: float = 60.0
    llm_attempts: int = 4
    llm_retry_seconds: float = 1.0
    llm_retry_max_seconds: float = 60.0
    llm_input_chars: int = 24000
    output_language: str = ""
    # None: the model's row in svp.summary.prices (the one price table); a number overrides it.
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None
    price_transcribe_per_minute: float | None = None
    price_ocr_per_1000_images: float | None = None
    cookies_file: str = ""
    max_download_mb: int = 100
    max_seconds: int = 600
    keep_days: float = 7.0  # local artifacts of ended jobs are removed this long after
    # Media: URL guard, subtitles, transcription chunks, image posts (see svp.media)
    allowed_hosts: tuple[str, ...] = ()
    use_subtitles: bool = True
    transcribe_chunk_seconds: int = 600
    max_images: int = 35
    # Limits of each yt-dlp, gallery-dl, ffmpeg and ffprobe process (svp.media.children)
    child_cpu_seconds: int = 300
    child_memory_mb: int = 1024
    child_file_mb: int = 1024
    child_timeout_seconds: int = 480
    # Who the children run as when the process that starts them is root: (uid, gid), no
    # passwd entry needed; None keeps them root without capabilities (svp.media.children).
    child_user: tuple[int, int] | None = (65534, 65534)
    # The interpreter of the Python children (yt-dlp, gallery-dl); "" is the parent's own.
    # One that child_user can run when the parent's is out of its reach (same 3.x minor).
    child_python: str = ""
    # Secrets read at run time from Secret Manager (svp.secrets): setting -> secret id.
    secret_names: Mapping[str, str] = field(default_factory=dict)
    secret_manager_endpoint: str = ""  # tests and the local cloud only
    secret_cache_seconds: float = 60.0

    @property
    def uses_gcp(self) -> bool:
        return self.backend == "gcp"


def _text(value: str) -> str:
    return value.strip()


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            number = kind(value)
        except ValueError:
            raise ValueError(f"must be a {'whole ' if kind is int else ''}number") from None
        if number <= 0:
            raise ValueError("must be greater than 0")
        return number

    return parse


def _price(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("must be a number (US dollars)") from None
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _optional_secret(value: str) -> str:
    """A key that may be switched off: Secret Manager cannot hold an empty value, so the
    word `none` stands for "not set" (e.g. OPENAI_API_KEY when transcribing locally)."""
    value = value.strip()
    return "" if value.lower() == "none" else value


def _id_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _tag_map(value: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for part in _id_list(value):
        tag, sep, target = part.partition("=")
        if not sep or not tag.strip() or not target.strip():
            raise ValueError(f"expects tag=database_id pairs separated by commas, got {part!r}")
        mapping[tag.strip().lower()] = target.strip()
    return mapping


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ValueError("must be true or false")
    return lowered in ("1", "true", "yes", "on")


def _user(value: str) -> tuple[int, int] | None:
    """`uid:gid` (numbers: no passwd entry needed), a bare `uid` (gid the same), or `root`."""
    value = value.strip()
    if value.lower() == "root":
        return None
    uid, _, gid = value.partition(":")
    try:
        ids = int(uid), int(gid or uid)
    except ValueError:
        raise ValueError("expects uid:gid numbers (e.g. 65534:65534) or root") from None
    if not all(0 < n < 2**32 - 1 for n in ids):
        raise ValueError("expects uid and gid above 0 (0 is root: write root)")
    return ids


def host_entry(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address, as written in
    SVP_ALLOWED_HOSTS; ValueError if not. The host is checked as a name or an address where
    it is used (svp.media.urlguard)."""
    entry = entry.strip()
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", entry) or re.fullmatch(
        r"([^:\[\]/]+)(?::(\d+))?", entry
    )
    if not match and entry.count(":") > 1:  # a bare IPv6 address
        match = re.fullmatch(r"([0-9a-fA-F:.]+)()", entry)
    if not match:
        raise ValueError(f"expects host or host:port entries separated by commas, got {entry!r}")
    port = int(match.group(2)) if match.group(2) else None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port out of range in {entry!r}")
    return match.group(1), port


def _host_list(value: str) -> tuple[str, ...]:
    hosts = _id_list(value)
    for host in hosts:
        host_entry(host)
    return hosts


def _secret_names(value: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for part in _id_list(value):
        setting, sep, secret_id = part.partition("=")
        if not sep or setting.strip() not in _VARIABLES or not secret_id.strip():
            raise ValueError(f"expects SETTING=secret-id pairs separated by commas, got {part!r}")
        names[setting.strip()] = secret_id.strip()
    return names


# variable -> (field, parser)
_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "SVP_BACKEND": ("backend", _choice(BACKENDS)),
    "SVP_DATA_DIR": ("data_dir", lambda v: Path(v).expanduser()),
    "SVP_PROJECT": ("project", _text),
    "GOOGLE_CLOUD_PROJECT": ("project", _text),
    "SVP_BUCKET": ("bucket", _text),
    "SVP_TOPIC_PREFIX": ("topic_prefix", _text),
    "SVP_FIRESTORE_DATABASE": ("firestore_database", _text),
    "SVP_MAX_ATTEMPTS": ("max_attempts", _positive(int)),
    "SVP_CONCURRENCY": ("concurrency", _positive(int)),
    "SVP_RETRY_MIN_SECONDS": ("retry_min_seconds", _positive(float)),
    "SVP_RETRY_MAX_SECONDS": ("retry_max_seconds", _positive(float)),
    "SVP_MAX_DELIVERIES": ("max_deliveries", _positive(int)),
    "SVP_LEASE_SECONDS": ("lease_seconds", _positive(float)),
    "SVP_POLL_INTERVAL": ("poll_interval_seconds", _positive(int)),
    "NOTION_TOKEN": ("notion_token", _text),
    "NOTION_BASE_URL": ("notion_base_url", _text),
    "NOTION_WEBHOOK_TOKEN": ("notion_webhook_token", _optional_secret),
    "SVP_NOTION_RPS": ("notion_requests_per_second", _positive(float)),
    "SVP_NOTION_RETRY_SECONDS": ("notion_retry_seconds", _positive(float)),
    "SVP_STATUS_UPDATES": ("status_updates", _choice(("all", "minimal"))),
    "NOTION_CLIENT_ID": ("notion_client_id", _text),
    "NOTION_CLIENT_SECRET": ("notion_client_secret", _text),
    "NOTION_REDIRECT_URI": ("notion_redirect_uri", _text),
    "SVP_ENCRYPTION_KEY": ("encryption_key", _text),
    "SVP_SESSION_SECRET": ("session_secret", _text),
    "SVP_CORS_ORIGINS": ("cors_origins", _id_list),
    "SVP_API_RATE_LIMIT": ("api_requests_per_minute", _positive(int)),
    "SVP_LINK_DATABASES": ("link_databases", _id_list),
    "SVP_CONTENT_DATABASES": ("content_databases", _tag_map),
    "OPENAI_API_KEY": ("openai_api_key", _optional_secret),
    "OPENAI_BASE_URL": ("openai_base_url", _text),
    "SVP_TRANSCRIBE_MODEL": ("transcribe_model", _text),
    "SVP_WHISPER_MODEL": ("whisper_model", _text),
    "SVP_OCR": ("ocr_engine", _choice(OCR_ENGINES)),
    "SVP_OCR_INTERVAL": ("ocr_interval_seconds", _positive(float)),
    "SVP_VISION_ENDPOINT": ("vision_endpoint", _text),
    "GEMINI_API_KEY": ("gemini_api_key", _optional_secret),
    "GOOGLE_GEMINI_BASE_URL": ("gemini_base_url", _text),
    "SVP_GEMINI_MODEL": ("gemini_model", _text),
    "SVP_LLM_PROVIDER": ("llm_provider", _choice(LLM_PROVIDERS)),
    "SVP_LLM_BASE_URL": ("llm_base_url", _text),
    "SVP_LLM_MODEL": ("llm_model", _text),
    "SVP_LLM_API_KEY": ("llm_api_key", _text),
    "SVP_LLM_RESPONSE_FORMAT": ("llm_response_format", _choice(LLM_RESPONSE_FORMATS)),
    "SVP_LLM_TIMEOUT": ("llm_timeout_seconds", _positive(float)),
    "SVP_LLM_ATTEMPTS": ("llm_attempts", _positive(int)),
    "SVP_LLM_RETRY_SECONDS": ("llm_retry_seconds", _positive(float)),
    "SVP_LLM_RETRY_MAX_SECONDS": ("llm_retry_max_seconds", _positive(float)),
    "SVP_LLM_INPUT_CHARS": ("llm_input_chars", _positive(int)),
    "SVP_OUTPUT_LANGUAGE": ("output_language", _text),
    "SVP_PRICE_INPUT_PER_MTOK": ("price_input_per_mtok", _price),
    "SVP_PRICE_OUTPUT_PER_MTOK": ("price_output_per_mtok", _price),
    "SVP_PRICE_TRANSCRIBE_PER_MINUTE": ("price_transcribe_per_minute", _price),
    "SVP_PRICE_OCR_PER_1000_IMAGES": ("price_ocr_per_1000_images", _price),
    "SVP_COOKIES_FILE": ("cookies_file", _text),
    "SVP_MAX_MB": ("max_download_mb", _positive(int)),
    "SVP_MAX_SECONDS": ("max_seconds", _positive(int)),
    "SVP_KEEP_DAYS": ("keep_days", _positive(float)),
    "SVP_ALLOWED_HOSTS": ("allowed_hosts", _host_list),
    "SVP_USE_SUBTITLES": ("use_subtitles", _flag),
    "SVP_TRANSCRIBE_CHUNK_SECONDS": ("transcribe_chunk_seconds", _positive(int)),
    "SVP_MAX_IMAGES": ("max_images", _positive(int)),
    "SVP_CHILD_CPU_SECONDS": ("child_cpu_seconds", _positive(int)),
    "SVP_CHILD_MEMORY_MB": ("child_memory_mb", _positive(int)),
    "SVP_CHILD_FILE_MB": ("child_file_mb", _positive(int)),
    "SVP_CHILD_TIMEOUT_SECONDS": ("child_timeout_seconds", _positive(int)),
    "SVP_CHILD_USER": ("child_user", _user),
    "SVP_CHILD_PYTHON": ("child_python", _text),
    "SVP_SECRETS": ("secret_names", _secret_names),
    "SVP_SECRET_MANAGER_ENDPOINT": ("secret_manager_endpoint", _text),
    "SVP_SECRET_CACHE_SECONDS": ("secret_cache_seconds", _positive(float)),
}


def read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Settings:
    """Settings from `environ` (default: os.environ) over the `.env` file's values."""
    values: dict[str, str] = read_dotenv(dotenv) if dotenv else {}
    values.update(os.environ if environ is None else environ)

    fields: dict[str, Any] = {}
    problems: list[str] = []
    for name, (attr, parse) in _VARIABLES.items():
        raw = values.get(name)
        if raw is None or raw.strip() == "" or (attr in fields and name == "GOOGLE_CLOUD_PROJECT"):
            continue
        try:
            fields[attr] = parse(raw)
        except ValueError as exc:
            problems.append(f"{name}={raw!r}: {exc}")

    settings = Settings(**fields) if not problems else None
    if settings and settings.uses_gcp:
        problems += [
            f"{name} is required when SVP_BACKEND=gcp"
            for name, value in (("SVP_PROJECT", settings.project), ("SVP_BUCKET", settings.bucket))
            if not value
        ]
    if settings and settings.retry_min_seconds > settings.retry_max_seconds:
        problems.append("SVP_RETRY_MIN_SECONDS must not exceed SVP_RETRY_MAX_SECONDS")
    if settings and settings.max_deliveries < settings.max_attempts:
        problems.append("SVP_MAX_DELIVERIES must be at least SVP_MAX_ATTEMPTS")
    if settings and settings.child_file_mb <= settings.max_download_mb:
        problems.append("SVP_CHILD_FILE_MB must exceed SVP_MAX_MB (a download is one file)")
    if problems:
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(problems))
    assert settings is not None
    return settings


def with_values(settings: Settings, values: Mapping[str, str]) -> Settings:
    """`settings` with `values` (variable -> raw value, e.g. secrets read at run time)
    parsed over it; a value that does not parse is left out and logged by name only."""
    import logging

    fields: dict[str, Any] = {}
    for name, raw in values.items():
        attr, parse = _VARIABLES[name]
        try:
            fields[attr] = parse(raw) if raw.strip() else getattr(Settings, attr, "")
        except ValueError as exc:  # never log the value: it is a secret
            logging.getLogger("svp.config").error("%s is invalid: %s", name, exc)
    return replace(settings, **fields)
