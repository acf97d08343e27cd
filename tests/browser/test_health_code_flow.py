"""The health code end to end in Chromium: a citizen signs in by real name (checked through the platform's
person.verify capability) and sees a green code; a guard photographs it at the gate → passes; a positive
result lands in the health commission's governed results → the health-code app's feed turns the code red;
the guard's next scan → barred."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.browser.sites import city_settings, one_time_code
from tests.browser.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.factories import build_world
from tests.gateway.helpers import (
    CAP,
    PURPOSE,
    data_capability,
    governed_people,
    grant_api,
    new_app,
    new_key,
    subscribe,
)
from tests.healthcode.test_feeds import _governed, _results, _row
from tests.servers import served
from tests.sharing.helpers import id_number, person
from zhongtai.app import create_app
from zhongtai.core.database import build_engine, build_sessionmaker, transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import places
from zhongtai.healthcode.feeds import RESULTS, pull_results
from zhongtai.public import service as public

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"browser tests need Debian's Chromium at {CHROMIUM}"
    ),
]


@dataclass
class City:
    base: str
    gate: str
    settings: Settings
    results: tuple[str, str]


def _platform(settings: Settings) -> tuple[tuple[str, str], str]:
    factory = build_sessionmaker(build_engine(settings.resolved_database_url))
    world = build_world(factory)
    with TestClient(create_app(settings)) as client:
        people = governed_people(factory, settings, rows=3)
        grant_api(client, world, people, items=["姓名", "公民身份号码", "联系电话"])
        data_capability(
            client,
            world,
            people,
            "person.verify",
            "verify",
            key_item="公民身份号码",
            verify_items=["姓名", "联系电话"],
        )
        results = _results(factory, settings)
        _governed(factory, *results, {"k1": _row(1, "阴性")})
        made = client.post(
            CAP,
            json={
                "code": RESULTS,
                "name": "检测结果",
                "kind": "data",
                "operation": "list",
                "resource": results[0],
            },
            headers=world.auth("developer_c"),
        )
        assert made.status_code == 201, made.text
        client.post(f"{CAP}/{RESULTS}/actions", json={"action": "publish"}, headers=world.auth("admin"))
        app = new_app(client, world)
        subscribe(client, world, app, "person.verify")
        pending = client.post(
            f"/api/v1/apps/{app}/subscriptions",
            json={"capability": RESULTS, "purpose": PURPOSE},
            headers=world.auth("developer_c"),
        ).json()
        if pending["status"] == "pending":
            client.post(
                f"/api/v1/capability-subscriptions/{pending['id']}/actions",
                json={"action": "approve"},
                headers=world.auth("admin"),
            )
        key = new_key(client, world, app)
    path = settings.resolved_identity_credentials
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key_id": key.key_id, "secret": key.secret, "purpose": PURPOSE}))
    with transaction(factory) as session:
        owner = public.enrol(session, settings, (id_number(2), "李四", "13800000002"), utcnow())
        application = places.PlaceApplication(
            "幸福小区南门", "residential", "蜀山区幸福路 1 号", "稻香村街道", "WJW"
        )
        place = places.apply(session, owner.id, application, utcnow())
        places.decide(session, settings, SYSTEM, place.id, True, "", utcnow())
        _, token = places.add_gate(session, place, "南门")
    factory.kw["bind"].dispose()
    return results, token


@pytest.fixture
def city(sqlite_template: Path, tmp_path: Path) -> Iterator[City]:
    settings = city_settings(sqlite_template, tmp_path)
    results, token = _platform(settings)
    with served(create_app(settings)) as base:
        yield City(base, f"{base}/gate/{token}", settings, results)


def _scan(guard: Any, gate: str, photo: bytes) -> str:
    guard.goto(gate)
    guard.set_input_files("input[name=photo]", {"name": "code.png", "mimeType": "image/png", "buffer": photo})
    guard.click("button[type=submit]")
    guard.wait_for_selector("#verdict, .error")
    if guard.locator("#verdict").count() == 0:
        return "error: " + guard.inner_text(".error")
    return str(guard.get_attribute("#verdict", "data-decision"))


def test_citizen_green_then_red_and_the_gate_follows(city: City) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    resident = person(1)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        phone = browser.new_context(viewport={"width": 375, "height": 740}).new_page()
        phone.goto(f"{city.base}/m/code")
        phone.fill("input[name=name]", resident["姓名"])
        phone.fill("input[name=id_number]", resident["公民身份号码"])
        phone.fill("input[name=mobile]", resident["联系电话"])
        phone.click("button[type=submit]")
        phone.wait_for_selector("input[name=code]")
        phone.fill("input[name=code]", one_time_code(browser, city.base))
        phone.click("button[type=submit]")
        phone.wait_for_url(f"{city.base}/m/code")
        assert phone.inner_text("#colour-word") == "绿码"
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
        guard = browser.new_context(viewport={"width": 375, "height": 740}).new_page()
        assert _scan(guard, city.gate, phone.locator("#qr").screenshot()) == "pass"

        factory = build_sessionmaker(build_engine(city.settings.resolved_database_url))
        _governed(factory, *city.results, {"k1": _row(1, "阳性")})  # the lab's new batch, governed
        with httpx.Client(base_url=city.base, timeout=10) as client:
            assert pull_results(factory, city.settings, client) == 1
        factory.kw["bind"].dispose()

        phone.reload()
        assert phone.inner_text("#colour-word") == "红码"
        assert "为什么是红码" in phone.content()
        assert _scan(guard, city.gate, phone.locator("#qr").screenshot()) == "barred"
        browser.close()


def _y4m(png: bytes, path: Path) -> Path:
    """A one-frame Y4M video of the image: Chromium's fake camera plays it."""
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(png)).convert("RGB")
    width, height = (image.width // 2) * 2 + 64, (image.height // 2) * 2 + 64
    canvas = Image.new("RGB", (width, height), "white")
    canvas.paste(image, (32, 32))
    y, u, v = canvas.convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = y.tobytes() + u.resize(half).tobytes() + v.resize(half).tobytes()
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + frame)
    return path


def test_the_guard_scans_with_the_phone_camera(city: City, tmp_path: Path) -> None:
    from zhongtai.healthcode import service
    from zhongtai.healthcode.qr import qr_png
    from zhongtai.public.service import Person

    if not (Path(__file__).parents[2] / "src/zhongtai/web/static/vendor/jsQR.js").is_file():
        pytest.skip("the camera scanner needs jsQR from `make assets` (npm)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from zhongtai.core.pseudonym import person_subject

    resident = person(1)
    holder = Person(person_subject(city.settings, id_number(1)), resident["姓名"], id_number(1))
    factory = build_sessionmaker(build_engine(city.settings.resolved_database_url))
    with transaction(factory) as session:
        code = service.show_person_code(session, city.settings, holder, "test", utcnow()).text
    factory.kw["bind"].dispose()
    video = _y4m(qr_png(code, scale=4), tmp_path / "code.y4m")
    camera_args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=camera_args)
        guard = browser.new_context(viewport={"width": 375, "height": 740}, permissions=["camera"]).new_page()
        guard.goto(city.gate)
        guard.click("#camera-start")
        guard.wait_for_selector("#verdict", timeout=20_000)
        assert guard.get_attribute("#verdict", "data-decision") == "pass"
        browser.close()
