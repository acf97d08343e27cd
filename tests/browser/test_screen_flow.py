"""The big screen in Chromium at 1920×1080: a wall display opened by a kiosk link goes live, a figure
changes after an event in the city (scans at a place), its charts are drawn (canvases not blank), the map's
districts filter the scan chart, and a screenshot is saved. The same page scaled to 1366×768
and 3840×2160 keeps the whole stage on screen."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.browser.sites import city_settings
from tests.browser.test_browser import CHARTS, CHROMIUM, CHROMIUM_ARGS
from tests.factories import build_world
from tests.healthcode.test_tracing import _places
from tests.servers import served
from zhongtai.app import create_app
from zhongtai.core.database import build_engine, build_sessionmaker, transaction
from zhongtai.core.principal import platform_actor
from zhongtai.core.types import utcnow
from zhongtai.healthcode.models import Visit
from zhongtai.screen import service
from zhongtai.screen.models import KioskLink

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"browser tests need Debian's Chromium at {CHROMIUM}"
    ),
]
# The share of a canvas's pixels that differ from its first pixel: a drawn chart has axes, lines, labels.
INKED = """(id) => { const c = document.querySelector('#' + id + ' canvas'); if (!c) return 0;
  const g = c.getContext('2d'); const d = g.getImageData(0, 0, c.width, c.height).data;
  let differ = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) differ++;
  }
  return differ / (d.length / 4); }"""


@dataclass
class Site:
    base: str
    kiosk: str
    factory: object
    place: int


@pytest.fixture
def site(sqlite_template: Path, tmp_path: Path) -> Iterator[Site]:
    settings = city_settings(sqlite_template, tmp_path).model_copy(update={"screen_interval_seconds": 1.0})
    factory = build_sessionmaker(build_engine(settings.resolved_database_url))
    build_world(factory)
    with transaction(factory) as session:
        ((place, _),) = _places(session, settings, 1)
        for n in range(25):
            session.add(Visit(place_id=place, subject=f"p-{n}", at=utcnow(), colour=0))
        token = service.create_link(session, platform_actor("test", "test"), "测试大屏", 1).token
    with served(create_app(settings)) as base:
        yield Site(base, f"{base}/screen/k/{token}", factory, place)


def _scans(page: object) -> str:
    return str(page.locator('[data-value="hc.scans_today"]').get_attribute("data-n"))  # type: ignore[attr-defined]


def test_the_wall_display_goes_live_and_follows_the_city(site: Site, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(site.kiosk)
        page.wait_for_selector('#conn[data-state="live"]', timeout=15_000)
        page.wait_for_function("document.querySelector('[data-value=\"hc.scans_today\"]').dataset.n === '25'")
        with transaction(site.factory) as session:  # type: ignore[arg-type]
            for n in range(12):
                session.add(Visit(place_id=site.place, subject=f"p-new-{n}", at=utcnow(), colour=1))
        page.wait_for_function(
            "document.querySelector('[data-value=\"hc.scans_today\"]').dataset.n === '37'", timeout=15_000
        )
        assert _scans(page) == "37"
        assert page.locator("#clock").inner_text() != "—"
        assert page.locator(".controls").is_hidden()  # kiosk: no navigation
        if CHARTS.is_file():  # ECharts copied from npm (make assets): the charts are drawn
            page.wait_for_timeout(1200)  # the numbers' animation and the charts' first frame
            for chart in ("c-map", "c-scans", "c-flows", "c-colours"):
                assert page.evaluate(INKED, chart) > 0.01, chart
            page.locator("#c-map canvas").click(position={"x": 480, "y": 260})  # a district near the centre
            page.wait_for_selector("#district-filter:not([hidden])", timeout=5_000)
        page.screenshot(path=str(tmp_path / "screen.png"))
        assert (tmp_path / "screen.png").stat().st_size > 20_000  # a picture of a full screen, not a blank
        for width, height in ((1366, 768), (3840, 2160)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(200)
            box = page.locator("#stage").bounding_box()
            assert box is not None and box["width"] <= width + 1 and box["height"] <= height + 1
            assert box["width"] >= width * 0.7 or box["height"] >= height * 0.7  # scaled, not shrunk away
        browser.close()


def test_a_revoked_link_says_so_on_the_screen(site: Site) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"{site.base}/screen/k/wrong-token")
        assert "无效" in page.locator("body").inner_text()
        page.goto(site.kiosk)
        page.wait_for_selector('#conn[data-state="live"]', timeout=15_000)
        with transaction(site.factory) as session:  # type: ignore[arg-type]
            session.execute(update(KioskLink).values(revoked_at=utcnow()))
        page.reload()  # a wall display restarted after the link was revoked
        assert page.locator("body").inner_text().count("吊销") >= 1
        browser.close()
