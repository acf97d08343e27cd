"""What the browser flows share: a copy of the migrated template database with the settings of a served
test city, a staff member signed in on their own page, and the one-time code the demo inbox shows."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import TEST_SECRET
from tests.factories import PASSWORD
from zhongtai.core.settings import Settings


def city_settings(sqlite_template: Path, tmp_path: Path) -> Settings:
    """Settings of a test city on its own copy of the migrated template database."""
    db = tmp_path / "city.db"
    shutil.copyfile(sqlite_template, db)
    return Settings(
        env="test",
        database_url=f"sqlite:///{db}",
        secret_key=TEST_SECRET,
        cookie_secure=False,
        log_json=False,
        data_dir=tmp_path,
        queue_url="memory://",
    )


def staff_page(browser: Any, base: str, username: str) -> Any:
    """A new browser context with ``username`` signed in (the test world's password)."""
    page = browser.new_context().new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(?!login).*"))
    return page


def one_time_code(browser: Any, base: str) -> str:
    """The latest one-time code the test inbox shows."""
    inbox = browser.new_context().new_page()
    inbox.goto(f"{base}/m/inbox")
    code = re.search(r"验证码 (\d{6})", inbox.content())
    assert code
    return code.group(1)
