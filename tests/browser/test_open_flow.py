"""The open-data portal in Chromium, as an anonymous visitor on a phone-sized screen: searches in Chinese,
opens a dataset, reads its preview and downloads its CSV."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser.sites import city_settings
from tests.browser.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.factories import build_world
from tests.opendata.test_opendata import ADMIN, CANARY, RULES, _register
from tests.servers import served
from zhongtai.app import create_app
from zhongtai.core.database import build_engine, build_sessionmaker, transaction
from zhongtai.opendata import service

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"browser tests need Debian's Chromium at {CHROMIUM}"
    ),
]


def test_an_anonymous_visitor_searches_previews_and_downloads(sqlite_template: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    settings = city_settings(sqlite_template, tmp_path)
    factory = build_sessionmaker(build_engine(settings.resolved_database_url))
    build_world(factory)
    code = _register(factory, rows=12)
    with transaction(factory) as session:
        service.publish(session, settings, ADMIN, code, RULES, tags=["企业"])
    with served(create_app(settings)) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True).new_page()
        page.goto(f"{base}/open")
        page.fill("input[name=q]", "企业登记")
        page.click("form.o-search button")
        page.wait_for_selector("text=共 1 个数据集")
        page.click("article.o-dataset h2 a")
        page.wait_for_selector("table.o-preview")
        assert "庐州市第1号科技有限公司" in page.locator("table.o-preview").inner_text()
        with page.expect_download() as started:
            page.click("text=CSV")
        saved = tmp_path / "download.csv"
        started.value.save_as(saved)
        text = saved.read_text("utf-8-sig")
        assert text.splitlines()[0] == "企业名称,住所,成立日期" and len(text.splitlines()) == 13
        assert CANARY not in text and CANARY not in page.content()
        browser.close()
