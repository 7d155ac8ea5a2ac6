"""Where the deployment is: `terraform output -json svp_cloud`, or flags."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The Cloud Run execution environment each function that starts children needs (svp.cloud.
# execution): what Terraform declares in its output, and the default without it.
EXECUTION_ENVIRONMENTS = {"downloader": "gen2", "transcriber": "gen2", "ocr": "gen2"}


class TargetError(Exception):
    """The deployment cannot be found; the message says what to pass."""


@dataclass(frozen=True)
class Target:
    project: str
    region: str
    prefix: str = "svp-"
    bucket: str = ""
    database: str = "(default)"
    link_databases: str = ""
    content_databases: str = ""
    notion_client_id: str = ""
    functions: dict[str, str] = field(default_factory=dict)
    execution_environments: dict[str, str] = field(
        default_factory=lambda: dict(EXECUTION_ENVIRONMENTS)
    )

    def secret_id(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def secret_name(self, key: str) -> str:
        return f"projects/{self.project}/secrets/{self.secret_id(key)}"

    @property
    def scheduler_job(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/jobs/{self.prefix}poller"

    def function_name(self, name: str) -> str:
        return self.functions.get(name) or f"{self.prefix}{name}"


def terraform_output(directory: Path) -> dict[str, Any] | None:
    """The svp_cloud output of the Terraform configuration in `directory`; None when there is
    none (no terraform binary, no state yet)."""
    binary = shutil.which("terraform")
    if binary is None or not directory.is_dir():
        return None
    try:
        run = subprocess.run(
            [binary, f"-chdir={directory}", "output", "-json", "svp_cloud"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if run.returncode != 0:
        return None
    try:
        value = json.loads(run.stdout)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def resolve(args: Any, read_output=terraform_output) -> Target:
    """Flags over the Terraform output."""
    output = read_output(Path(args.terraform_dir)) or {}
    fields = {
        "project": args.project or output.get("project") or "",
        "region": args.region or output.get("region") or "",
        "prefix": args.prefix or output.get("prefix") or "svp-",
        "bucket": output.get("bucket") or "",
        "database": output.get("database") or "(default)",
        "link_databases": output.get("link_databases") or "",
        "content_databases": output.get("content_databases") or "",
        "notion_client_id": output.get("notion_client_id") or "",
        "functions": dict(output.get("functions") or {}),
        "execution_environments": dict(
            output.get("execution_environments") or EXECUTION_ENVIRONMENTS
        ),
    }
    for flag in ("link_databases", "content_databases", "notion_client_id"):
        if getattr(args, flag, None):
            fields[flag] = getattr(args, flag)
    if not fields["project"] or not fields["region"]:
        raise TargetError(
            f"no deployment found: run it from where `terraform -chdir={args.terraform_dir}"
            " output svp_cloud` works (after `terraform apply`), or pass --project and --region"
        )
    return Target(**fields)
