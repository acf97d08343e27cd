"""A real browser (Playwright driving Debian's Chromium): sign in, search in Chinese, register a resource."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.sites import staff_page
from tests.conftest import TEST_SECRET
from tests.factories import PASSWORD, add_resource, build_world
from tests.ingest.helpers import add_job, add_source, make_person_db, person_resource, person_row
from tests.servers import served
from zhongtai.app import create_app
from zhongtai.core.database import build_engine, build_sessionmaker
from zhongtai.core.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHARTS = Path(__file__).parents[2] / "src/zhongtai/web/static/vendor/echarts.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"browser tests need Debian's Chromium at {CHROMIUM}"
    ),
]


@pytest.fixture
def live_server(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    db = tmp_path / "browser.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    engine = build_engine(url)
    factory = build_sessionmaker(engine)
    build_world(factory)
    add_resource(factory, "GAJ", name="常住人口基本信息")
    add_resource(factory, "MZJ", name="婚姻登记信息", abstract="结婚登记", items=[])
    engine.dispose()
    settings = Settings(
        env="test",
        database_url=url,
        secret_key=TEST_SECRET,
        cookie_secure=False,
        log_json=False,
        data_dir=tmp_path,
        queue_url="memory://",  # "run now" runs inline, so the page shows the finished batch
    )
    make_person_db(settings.resolved_sources_dir / "persons.db", [person_row(n) for n in range(1, 41)])
    factory = build_sessionmaker(build_engine(url))
    add_job(factory, add_source(factory, settings), person_resource(factory))
    factory.kw["bind"].dispose()
    with served(create_app(settings)) as url:
        yield url


def test_officer_signs_in_searches_and_registers_a_resource(live_server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{live_server}/catalog")
        assert "/login" in page.url
        page.fill("#username", "officer_a")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server}/catalog")

        page.fill("input[name=q]", "人口")
        page.click("form[role=search] button[type=submit]")
        results = page.locator("#results")
        assert results.locator("text=常住人口基本信息").count() == 1
        assert results.locator("text=婚姻登记信息").count() == 0

        page.goto(f"{live_server}/catalog/new")
        page.select_option("#classification", "101")
        page.fill("#name", "流动人口居住登记信息")
        page.fill("#abstract", "流动人口居住登记")
        page.select_option("#sharing_type", "conditional")
        page.fill("#sharing_conditions", "仅限政务服务办理")
        page.fill("input[name=item-0-name]", "姓名")
        page.fill("input[name=item-0-length]", "50")
        page.check("input[name=item-0-sensitive]")
        page.fill("input[name=item-1-name]", "居住地址")
        page.click("#resource-form button[type=submit]")
        page.wait_for_url(f"{live_server}/catalog/101-*")
        assert page.locator("h1").inner_text().startswith("流动人口居住登记信息")
        assert page.locator("#items").locator("text=居住地址").count() == 1

        page.click("a[href$='/edit']")  # the edit form comes back filled in; change one field
        page.fill("#name", "流动人口居住登记信息(新版)")
        page.click("#resource-form button[type=submit]")
        assert page.locator("h1").inner_text().startswith("流动人口居住登记信息(新版)")
        assert page.locator("#items").locator("text=居住地址").count() == 1

        page.goto(f"{live_server}/catalog?q=流动人口&lang=en")
        assert page.locator("#results").locator("text=流动人口居住登记信息").count() == 1
        assert "Government information resource catalog" in page.locator("h1").inner_text()
        browser.close()


def test_officer_runs_an_ingestion_job_and_reads_the_batch(live_server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = staff_page(browser, live_server, "officer_a")

        page.click("nav a[href='/ingest']")
        page.click("#jobs a[href='/ingest/jobs/GAJ-PERSONS']")
        page.click("#run-now")
        page.wait_for_url(f"{live_server}/ingest/jobs/GAJ-PERSONS")
        latest = page.locator("#runs tr.run").first
        assert "成功" in latest.inner_text() and "40" in latest.inner_text()

        page.click("a:has-text('原始库数据')")
        assert page.locator("#raw").locator("text=居民7").count() == 1
        browser.close()


def test_officer_sets_rules_governs_and_sees_quality_problems(live_server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    rules = (
        '[{"id": "xm", "kind": "required", "item": "姓名"},'
        ' {"id": "csrq", "kind": "range", "item": "出生日期", "min": "1990-07-01"}]'
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = staff_page(browser, live_server, "officer_a")
        page.goto(f"{live_server}/ingest/jobs/GAJ-PERSONS")
        page.click("#run-now")  # gather the 40 rows first

        page.goto(f"{live_server}/catalog?q=人口基本信息")
        page.click('#results a >> text="人口基本信息"')
        page.click(".actions a[href$='/governance']")
        page.fill("textarea[name=rules]", rules)
        page.click("#rules button[type=submit]")
        assert "v1" in page.locator("#rules h2").inner_text()
        page.click("form[action$='/governance/apply'] button")
        passes = page.locator("#passes tr").nth(1).inner_text()
        assert "40" in passes  # raw rows of the pass
        problems = page.locator("#problems").inner_text()
        assert "csrq" in problems and "拒绝了" in problems

        page.click("nav a[href='/governance']")
        assert page.locator("#departments").locator("text=GAJ").count() == 1
        if not CHARTS.is_file():  # no npm at install: the plain trend line
            assert page.locator("#departments svg polyline").count() == 1
            return
        page.wait_for_selector("#departments .trend canvas")  # ECharts, served by the app itself
        drawn = page.evaluate(
            """() => { const c = document.querySelector('#departments .trend canvas');
                       const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                       let ink = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) ink++; }
                       return ink; }"""
        )
        assert drawn > 200  # axes, labels and the line: not a blank canvas
        browser.close()


def health_applies(browser: Any, base: str) -> tuple[Any, str]:
    """The health commission applies for population data from its catalog entry: (its page, number)."""
    health = staff_page(browser, base, "consumer_c")
    health.goto(f"{base}/catalog?q=常住人口基本信息")
    health.click('#results a >> text="常住人口基本信息"')
    health.click("#apply")
    health.check("input[name=items][value=姓名]")
    health.check("input[name=items][value=公民身份号码]")
    health.fill("input[name=purpose]", "核酸检测结果关联居民身份")
    health.fill("textarea[name=basis]", "《传染病防治法》第十二条")
    health.fill("input[name=valid_until]", "2027-12-31")
    health.click("#apply button[type=submit]")
    return health, health.url.rsplit("/", 1)[-1]


def test_health_applies_and_the_bureau_and_public_security_approve_in_the_ui(live_server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        health, number = health_applies(browser, live_server)
        assert "数据资源局审核中" in health.locator("#status").inner_text()

        bureau = staff_page(browser, live_server, "bureau_reviewer")
        bureau.click("nav a[href='/sharing']")
        bureau.click("a:has-text('待合规审核')")
        bureau.click(f"#applications a[href='/sharing/applications/{number}'] >> nth=0")
        bureau.click("button[value=bureau_approve]")
        assert "提供部门审核中" in bureau.locator("#status").inner_text()

        provider = staff_page(browser, live_server, "reviewer_a")
        provider.goto(f"{live_server}/sharing?queue=provider")
        provider.click("a:has-text('办理')")
        provider.fill("textarea[name=comment]", "同意,限疫情防控使用")
        provider.click("button[value=provider_approve]")
        assert "已授权" in provider.locator("#status").inner_text()
        steps = provider.locator("#steps").inner_text()
        assert "consumer_c" in steps and "bureau_reviewer" in steps and "同意,限疫情防控使用" in steps

        health.reload()
        assert "已授权" in health.locator("#status").inner_text()
        browser.close()


def test_the_home_page_leads_each_reviewer_to_the_application_waiting_for_them(live_server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _, number = health_applies(browser, live_server)

        bureau = staff_page(browser, live_server, "bureau_reviewer")  # lands on the home page
        waiting = bureau.locator(f"#pending tr.work-item:has-text('{number}')")
        assert "常住人口基本信息" in waiting.inner_text() and "个工作日" in waiting.inner_text()
        waiting.locator("a.button").click()
        bureau.wait_for_url(f"{live_server}/sharing/applications/{number}")
        bureau.click("button[value=bureau_approve]")
        bureau.goto(f"{live_server}/")
        assert bureau.locator(f"#pending tr.work-item:has-text('{number}')").count() == 0  # done on its side

        provider = staff_page(browser, live_server, "reviewer_a")
        provider.locator(f"#pending tr.work-item:has-text('{number}') a.button").click()
        provider.fill("textarea[name=comment]", "同意")
        provider.click("button[value=provider_approve]")
        assert "已授权" in provider.locator("#status").inner_text()
        provider.goto(f"{live_server}/")
        assert "暂无待办事项" in provider.locator("#pending").inner_text()
        browser.close()


@pytest.fixture
def portal_server(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A platform with public security's person capabilities and the health-code app (tests.gateway)."""
    from fastapi.testclient import TestClient

    from tests.gateway.helpers import build

    db = tmp_path / "portal.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    settings = Settings(
        env="test",
        database_url=url,
        secret_key=TEST_SECRET,
        cookie_secure=False,
        log_json=False,
        data_dir=tmp_path,
        queue_url="memory://",
    )
    engine = build_engine(url)
    factory = build_sessionmaker(engine)
    world = build_world(factory)
    with TestClient(create_app(settings)) as client:
        build(client, factory, settings, world)
    engine.dispose()
    with served(create_app(settings)) as url:
        yield url


def test_a_developer_reads_a_capability_and_tries_a_signed_call_in_the_portal(portal_server: str) -> None:
    from tests.sharing.helpers import id_number

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = staff_page(browser, portal_server, "developer_c")
        page.click("nav a[href='/portal']")
        page.click("#capabilities a:has-text('person.by-id')")
        assert "GET /gw/person.by-id/{key}" in page.locator("main").inner_text()
        page.fill("#try input[name=path]", id_number(1))
        page.fill("#try input[name=end_user]", "nurse-7")
        page.click("#try button[type=submit]")
        result = page.locator("#try-result").inner_text()
        assert "HTTP 200" in result and "公民身份号码" in result
        assert id_number(1) not in result.split("HTTP 200")[1]  # masked under the grant
        page.goto(f"{portal_server}/portal/apps/wjw-health-code")
        page.click("#new-key-form button[type=submit]")
        assert page.locator("#secret").count() == 1  # the new secret, this once
        page.reload()  # a reload shows it no more, and makes no second key
        assert page.locator("#secret").count() == 0 and page.locator("#keys tr").count() == 3
        page.goto(f"{portal_server}/portal/apps/wjw-health-code")
        assert page.locator("#secret").count() == 0 and page.locator("#keys tr").count() == 3
        browser.close()
