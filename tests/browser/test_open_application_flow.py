"""Conditionally open data in Chromium: a citizen on a phone applies from the dataset's page (sent to sign in
and back), the provider's officer approves on the staff pages, the citizen makes the API key — shown once —
and downloads the rows in the browser."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.browser.sites import city_settings, one_time_code, staff_page
from tests.browser.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.factories import build_world
from tests.opendata.test_applications import CANARY, _conditional
from tests.public.helpers import WANG, FakeRegister
from tests.servers import served
from zhongtai.app import create_app
from zhongtai.core.database import build_engine, build_sessionmaker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"browser tests need Debian's Chromium at {CHROMIUM}"
    ),
]
PHONE = {"width": 375, "height": 740}


def test_a_citizen_applies_the_provider_approves_and_the_key_works(
    sqlite_template: Path, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    settings = city_settings(sqlite_template, tmp_path)
    factory = build_sessionmaker(build_engine(settings.resolved_database_url))
    build_world(factory)
    name = _conditional(factory, settings, "养老机构信息", 8)
    app = create_app(settings)
    app.state.identity = FakeRegister([WANG])
    with served(app) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        phone = browser.new_context(viewport=PHONE, accept_downloads=True).new_page()
        phone.goto(f"{base}/open/datasets/{name}")
        phone.click("#apply")  # not signed in: to the sign-in page, and back to the form after it
        phone.fill("input[name=name]", WANG.name)
        phone.fill("input[name=id_number]", WANG.id_number)
        phone.fill("input[name=mobile]", WANG.mobile)
        phone.click("button[type=submit]")
        phone.fill("input[name=code]", one_time_code(browser, base))
        phone.click("button[type=submit]")
        phone.wait_for_selector("form#apply")
        phone.fill("textarea[name=purpose]", "研究本市养老服务设施的空间分布,用于学术论文")
        phone.click("form#apply button[type=submit]")
        phone.wait_for_selector("text=待审核")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        officer = staff_page(browser, base, "officer_b")
        officer.goto(f"{base}/open/applications")
        officer.click("#applications a[href^='/open/applications/KF']")
        officer.fill("form#decide input[name=daily_quota]", "50")
        officer.click("form#decide button[value=approve]")
        officer.wait_for_selector("#application-status:has-text('已批准')")

        phone.goto(f"{base}/m/open")
        phone.click("button[value=make-key]")
        key = phone.locator("#new-key code").inner_text()
        assert key.startswith("ztod_")
        phone.reload()
        assert key not in phone.content()  # shown once
        with phone.expect_download() as started:
            phone.click("text=CSV")
        saved = tmp_path / "open.csv"
        started.value.save_as(saved)
        rows = saved.read_text("utf-8-sig").splitlines()
        assert rows[0] == "单位名称,住所" and len(rows) == 9 and CANARY not in "".join(rows)
        search = f"{base}/api/3/action/datastore_search"
        by_key = httpx.get(
            search, params={"resource_id": _csv_id_of(base, name)}, headers={"Authorization": key}
        )
        assert by_key.status_code == 200 and by_key.json()["result"]["total"] == 8
        browser.close()


def _csv_id_of(base: str, name: str) -> str:
    answer = httpx.get(f"{base}/api/3/action/package_show", params={"id": name}).json()
    return str(next(r["id"] for r in answer["result"]["resources"] if r["format"] == "CSV"))
