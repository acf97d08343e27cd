"""The epidemic's second part end to end in Chromium: an enterprise signs in on the phone and applies to
resume work with its staff imported from its social insurance records and its prevention plan attached; its
code is yellow while the market regulator decides; the regulator opens the plan and approves; the code turns
green. Then a positive case is traced from the health commission's page: the employee who stood beside
the case turns red on their own phone, and the enterprise's code yellow."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.sites import city_settings, one_time_code, staff_page
from tests.browser.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.factories import PASSWORD, add_department, build_world
from tests.healthcode.test_tracing import _places
from tests.public.helpers import NEIGHBOUR, WANG, WANG_CHILD, FakeRegister, Firm
from tests.servers import served
from tests.services.helpers import PDF
from zhongtai.app import create_app
from zhongtai.core.database import build_engine, build_sessionmaker, transaction
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.service import create_user
from zhongtai.core.principal import SYSTEM
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import colouring
from zhongtai.healthcode.models import Visit
from zhongtai.healthcode.rules import Evidence, Fact

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"browser tests need Debian's Chromium at {CHROMIUM}"
    ),
]
FIRM = Firm("91340100000000001G", "王小明", WANG.id_number, WANG.mobile)
CASE = NEIGHBOUR  # tested positive; WANG stood beside them at the shop


@dataclass
class Site:
    base: str
    settings: Settings


@pytest.fixture
def site(sqlite_template: Path, tmp_path: Path) -> Iterator[Site]:
    settings = city_settings(sqlite_template, tmp_path)
    factory = build_sessionmaker(build_engine(settings.resolved_database_url))
    build_world(factory)
    with transaction(factory) as session:
        add_department(session, "SCJGJ", "市场监督管理局")
        for username, department in (("scjgj.officer", "SCJGJ"), ("wjw.officer", "WJW")):
            create_user(
                session,
                SYSTEM,
                username=username,
                display_name=username,
                department_code=department,
                roles=[Role.OFFICER],
                password=PASSWORD,
            )
        ((shop, _),) = _places(session, settings, 1)
        at = utcnow() - timedelta(hours=20)
        session.add(Visit(place_id=shop, subject=person_subject(settings, CASE.id_number), at=at, colour=0))
        near = at + timedelta(minutes=6)
        session.add(Visit(place_id=shop, subject=person_subject(settings, WANG.id_number), at=near, colour=0))
        positive = Evidence(Fact.POSITIVE_TEST, utcnow() - timedelta(hours=2), "WJW", "HS0042")
        colouring.record_evidence(session, [(person_subject(settings, CASE.id_number), positive)])
    factory.kw["bind"].dispose()
    app = create_app(settings)
    register = FakeRegister([WANG, WANG_CHILD, NEIGHBOUR], firms=[FIRM])
    register.staff[FIRM.credit_code] = [WANG_CHILD, WANG]  # the social insurance base's answer
    app.state.identity = register
    with served(app) as base:
        yield Site(base, settings)


def test_resumption_approved_turns_green_and_a_traced_contact_turns_red(site: Site, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    base = site.base
    plan = tmp_path / "疫情防控方案.pdf"
    plan.write_bytes(PDF)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        phone = browser.new_context(viewport={"width": 375, "height": 740}).new_page()
        phone.goto(f"{base}/m/login/enterprise?next=/m/resumption")
        phone.fill("input[name=credit_code]", FIRM.credit_code)
        phone.fill("input[name=representative]", FIRM.representative)
        phone.fill("input[name=representative_id]", FIRM.representative_id)
        phone.fill("input[name=mobile]", FIRM.mobile)
        phone.click("button[type=submit]")
        phone.wait_for_selector("input[name=code]")
        phone.fill("input[name=code]", one_time_code(browser, base))
        phone.click("button[type=submit]")
        phone.wait_for_url(f"{base}/m/resumption")
        phone.fill("input[name=site]", "庐州市蜀山区幸福路 9 号")
        phone.fill("input[name=street]", "稻香村街道")
        phone.fill("textarea[name=measures]", "入口测温扫码,每日两次消毒,员工分时段就餐")
        assert phone.is_checked("input[name=source][value=social_insurance]")  # imported by default
        phone.set_input_files("input[name=attachments]", str(plan))
        phone.click("form[action='/m/resumption'] button[type=submit]")
        phone.wait_for_selector("text=审核中")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        phone.goto(f"{base}/m/enterprise-code")
        assert "yellow" in (phone.get_attribute(".code-card", "class") or "")

        regulator = staff_page(browser, base, "scjgj.officer")
        regulator.goto(f"{base}/healthcode/resumptions")
        row = regulator.locator("#resumptions tbody tr").first
        assert "从社保参保记录导入" in row.inner_text()
        with regulator.expect_popup() as opened:
            row.locator("a", has_text="疫情防控方案.pdf").click()
        assert opened.value.url.endswith(tuple("0123456789abcdef"))  # the attachment, by its hash
        row.locator("button[value=approve]").click()
        regulator.wait_for_selector("text=已准予复工")

        phone.goto(f"{base}/m/enterprise-code")
        assert "green" in (phone.get_attribute(".code-card", "class") or "")

        health = staff_page(browser, base, "wjw.officer")
        health.goto(f"{base}/healthcode/traces")
        health.fill("input[name=id_number]", CASE.id_number)
        health.click("form[action='/healthcode/traces'] button[type=submit]")
        health.wait_for_selector("#contacts")
        assert "密切接触者" in health.locator("#contacts").inner_text()

        resident = browser.new_context(viewport={"width": 375, "height": 740}).new_page()
        resident.goto(f"{base}/m/login?next=/m/code")
        resident.fill("input[name=name]", WANG.name)
        resident.fill("input[name=id_number]", WANG.id_number)
        resident.fill("input[name=mobile]", WANG.mobile)
        resident.click("button[type=submit]")
        resident.wait_for_selector("input[name=code]")
        resident.fill("input[name=code]", one_time_code(browser, base))
        resident.click("button[type=submit]")
        resident.wait_for_url(f"{base}/m/code")
        assert "red" in (resident.get_attribute("#code-card", "class") or "")
        assert CASE.name not in resident.content()  # the reason names the place and time, not the case
        phone.goto(f"{base}/m/enterprise-code")  # an employee is red now: the enterprise is yellow
        assert "yellow" in (phone.get_attribute(".code-card", "class") or "")
        browser.close()
