"""``zhongtai screen …`` as an operator runs it: a kiosk link printed once that opens the screen, a lifetime
that is not a number of days refused with a message, revocation, and the rollups advanced by hand."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from tests.test_cli import cli_env
from zhongtai.app import create_app
from zhongtai.core.settings import Settings


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhongtai.cli", *args],
        capture_output=True,
        text=True,
        env=cli_env(data_dir),
        timeout=300,
        check=False,
    )


def test_a_kiosk_link_from_the_command_line(tmp_path: Path) -> None:
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    bad = _run(tmp_path, "screen", "link", "--expires", "3w")
    assert bad.returncode == 2 and "30d" in bad.stderr and "Traceback" not in bad.stderr
    made = _run(
        tmp_path,
        "screen",
        "link",
        "--expires",
        "2d",
        "--label",
        "北墙",
        "--base-url",
        "http://screen.example",
    )
    assert made.returncode == 0, made.stderr
    url = made.stdout.strip()
    found = re.fullmatch(r"http://screen\.example(/screen/k/[A-Za-z0-9_-]{40,})", url)
    assert found and "revoke" in made.stderr
    settings = Settings(env="test", data_dir=tmp_path, secret_key="t" * 40)
    with TestClient(create_app(settings)) as wall:
        assert wall.get(found.group(1)).status_code == 200
        number = re.search(r"kiosk link (\d+)", made.stderr)
        assert number
        assert _run(tmp_path, "screen", "revoke", number.group(1)).returncode == 0
        assert wall.get(found.group(1)).status_code == 401
    missing = _run(tmp_path, "screen", "revoke", "999")
    assert missing.returncode == 2 and "no kiosk link 999" in missing.stderr
    rolled = _run(tmp_path, "screen", "rollup")
    assert rolled.returncode == 0 and "gauges recounted" in rolled.stdout
    swept = _run(tmp_path, "screen", "profiles")
    assert swept.returncode == 0 and "0 residents profiled" in swept.stdout
