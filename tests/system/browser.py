"""
The system tests' browser: one Node script of Playwright's driving Debian's Chromium, per check.

Each script takes its arguments as one JSON argument and prints what it saw as JSON on its last
line. Screenshots are checked to be real PNGs and, with ``UPDATE_SCREENSHOTS=1``, copied into the
docs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.system.conftest import SYSTEM_DIR

CHROMIUM = Path("/usr/bin/chromium")


def run_in_browser(script: str, args: dict[str, Any], timeout: float = 180) -> dict[str, Any]:
    """
    Run one browser script of tests/system in headless Chromium; return what it saw.

    :param script: the script's file name, e.g. ``ui_check.mjs``.
    :param args: its arguments (the deployment's URL and token among them).
    :param timeout: seconds before the script is killed.
    """
    node = shutil.which("node")
    if node is None or not CHROMIUM.exists() or not (SYSTEM_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(
            "the UI tests need node, /usr/bin/chromium and tests/system/node_modules "
            "(`make test` installs them: apt-get chromium, npm ci in tests/system)"
        )
    result = subprocess.run(
        [node, str(SYSTEM_DIR / script), json.dumps(args)],
        cwd=SYSTEM_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        pytest.fail(f"{script} failed ({result.returncode}):\n{result.stderr[-6000:]}\n{result.stdout[-2000:]}")
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen


def check_screenshot(path: Path, docs_dir: Path, min_bytes: int = 10_000) -> None:
    """
    A real, non-trivial PNG was written; copied into ``docs_dir`` when ``UPDATE_SCREENSHOTS=1``.

    :param path: the screenshot.
    :param docs_dir: where the docs keep it.
    :param min_bytes: below this, the page was probably blank.
    """
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > min_bytes, f"{path} is suspiciously small ({len(data)} bytes)"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        docs_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, docs_dir / path.name)
