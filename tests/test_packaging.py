"""What `pip install svp` gets: the built wheel carries every file svp reads at run time (the
status page's templates, the bundled Content Database schemas, limits.json), and svp works
from the unpacked wheel alone, without the source tree beside it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "shared"

# Run from the unpacked wheel: the cooking schema as `svp process --tag cooking` resolves it
# without Notion, a limit from limits.json, and the status page as a signed-out visitor sees it.
FROM_THE_WHEEL = """
import json, sys
from pathlib import Path

import svp
from svp import limits
from svp.api import create_app
from svp.config import load_settings
from svp.stages.targets import target_for_tag
from svp.wiring import build_runtime

runtime = build_runtime(load_settings(dotenv=None))
page = create_app(runtime).test_client().get("/")
print(json.dumps({
    "svp": svp.__file__,
    "cooking": sorted(target_for_tag(runtime, "cooking")["schema"]),
    "downloader_timeout": limits.timeout_seconds("downloader"),
    "status": page.status_code,
    "page": page.get_data(as_text=True),
}))
"""


def runtime_files() -> list[str]:
    """Every file under shared/svp that is not Python, named as in the wheel; like Terraform's
    zip, without caches and dotfiles."""
    package = SHARED / "svp"
    return sorted(
        path.relative_to(SHARED).as_posix()
        for path in package.rglob("*")
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and not any(part.startswith(".") or part == "__pycache__" for part in path.parts[-3:])
    )


def build_wheel(tmp_path: Path) -> Path:
    """Build from a copy of shared/ (setuptools writes build/ and *.egg-info where it builds),
    offline: with the venv's setuptools, no index."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(SHARED / "pyproject.toml", source)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(SHARED / "svp", source / "svp", ignore=ignore)
    dist = tmp_path / "dist"
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", *offline]
    subprocess.run([*pip_wheel, "--wheel-dir", str(dist), str(source)], check=True, timeout=120)
    (wheel,) = dist.glob("svp-*.whl")
    return wheel


def test_the_wheel_ships_the_templates_schemas_and_limits_and_svp_runs_from_it(env, tmp_path):
    expected = runtime_files()
    for name in (
        "svp/limits.json",
        "svp/schemas/cooking.json",
        "svp/schemas/places.json",
        "svp/api/templates/base.html",
        "svp/api/templates/status.html",
        "svp/api/templates/style.css",
    ):
        assert name in expected  # the list below is not empty by mistake

    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
        missing = [name for name in expected if name not in shipped]
        assert not missing, f"the wheel lacks {missing}"
        unpacked = tmp_path / "unpacked"
        archive.extractall(unpacked)

    done = subprocess.run(
        [sys.executable, "-c", FROM_THE_WHEEL],
        env={**os.environ, "PYTHONPATH": str(unpacked)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert Path(seen["svp"]).is_relative_to(unpacked)  # not the source tree
    cooking = json.loads((SHARED / "svp/schemas/cooking.json").read_text())
    assert seen["cooking"] == sorted(cooking)
    limits = json.loads((SHARED / "svp/limits.json").read_text())
    assert seen["downloader_timeout"] == limits["functions"]["downloader"]["timeout_seconds"]
    assert seen["status"] == 200
    page = seen["page"]
    assert "Your videos, summarized into Notion" in page  # signed_out.html
    assert "<footer>" in page and "box-sizing:border-box" in page  # base.html, style.css
    assert "Notion sign-in is not configured on this server" in page
