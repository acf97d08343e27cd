"""Housing-security review end to end in Chromium: a citizen applies on the phone, previews the data the
platform will fetch (masked), consents and uploads the one remaining material; the housing bureau's
caseworker accepts, asks civil affairs, whose caseworker answers; the caseworker approves; the ledger rises
by five; the citizen sees the case's accesses under 我的数据."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.sites import city_settings, one_time_code, staff_page
from tests.browser.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.factories import build_world
from tests.public.helpers import WANG, FakeRegister
from tests.servers import served
from tests.services.helpers import PDF, SERVICE, build_city
from zhongtai.app import create_app
from zhongtai.core.database import build_engine, build_sessionmaker
from zhongtai.core.settings import Settings
from zhongtai.services import ledger

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"browser tests need Debian's Chromium at {CHROMIUM}"
    ),
]


@dataclass
class Site:
    base: str
    settings: Settings


@pytest.fixture
def site(sqlite_template: Path, tmp_path: Path) -> Iterator[Site]:
    settings = city_settings(sqlite_template, tmp_path)
    factory = build_sessionmaker(build_engine(settings.resolved_database_url))
    build_city(factory, build_world(factory), settings, full=True)
    factory.kw["bind"].dispose()
    app = create_app(settings)
    app.state.identity = FakeRegister([WANG])  # the register's answer to the real-name check
    with served(app) as base:
        yield Site(base, settings)


def _saved(settings: Settings) -> int:
    factory = build_sessionmaker(build_engine(settings.resolved_database_url))
    with factory() as session:
        total = ledger.totals(session).submissions
    factory.kw["bind"].dispose()
    return total


def test_housing_review_with_data_instead_of_paper(site: Site, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    base = site.base
    before = _saved(site.settings)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        phone = browser.new_context(viewport={"width": 375, "height": 740}).new_page()
        phone.goto(f"{base}/m/login?next=/m/services")
        phone.fill("input[name=name]", WANG.name)
        phone.fill("input[name=id_number]", WANG.id_number)
        phone.fill("input[name=mobile]", WANG.mobile)
        phone.click("button[type=submit]")
        phone.wait_for_selector("input[name=code]")
        phone.fill("input[name=code]", one_time_code(browser, base))
        phone.click("button[type=submit]")
        phone.wait_for_url(f"{base}/m/services")
        phone.click(f"a[href='/m/services/{SERVICE}']")
        phone.click("form[action='/m/services/" + SERVICE + "'] button[type=submit]")
        phone.wait_for_selector("text=将调取的数据")
        preview = phone.content()
        assert "王**" in preview and "正常参保" in preview and WANG.id_number not in preview
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
        phone.click("form[action$='/consent'] button")
        upload = tmp_path / "收入证明.pdf"
        upload.write_bytes(PDF)
        phone.set_input_files("input[name=file]", str(upload))
        phone.click("form[action$='/upload'] button")
        phone.click("form[action$='/submit'] button")
        phone.wait_for_selector("text=待受理")
        number = re.search(r"/m/cases/(BJ\d+)", phone.url)
        assert number
        case = number.group(1)

        worker = staff_page(browser, base, "caseworker_z")
        worker.goto(f"{base}/services/cases/{case}")
        worker.click("form[action$='/accept'] button")
        worker.fill("input[name=question]", "请核实申请人是否享受最低生活保障")
        worker.click("form[action$='/ask'] button")
        worker.wait_for_selector("text=待答复")

        civil = staff_page(browser, base, "caseworker_m")
        civil.goto(f"{base}/services/cases/{case}")
        civil.fill("input[name=answer]", "经核实,非低保对象")
        civil.click("button[name=agrees][value=yes]")
        civil.wait_for_selector("text=经核实,非低保对象")

        worker.goto(f"{base}/services/cases/{case}")
        worker.fill("textarea[name=reason]", "符合公共租赁住房保障条件")
        worker.click("button[name=decision][value=approve]")
        worker.wait_for_selector("text=已准予")
        assert _saved(site.settings) == before + 5

        phone.goto(f"{base}/m/my-data")
        mine = phone.content()
        assert "办件·调取材料数据" in mine and "办件·审查材料数据" in mine
        browser.close()
