"""Catalog pages: browse/search in Chinese, English switch, and the officer's forms."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import csrf_from, login
from tests.factories import World, add_resource
from zhongtai.catalog.models import Resource


def test_catalog_page_searches_in_chinese_and_switches_to_english(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    add_resource(factory, "SJZYJ", name="营业执照信息")
    add_resource(factory, "SJZYJ", name="婚姻登记信息", abstract="结婚", items=[])
    login(client, "consumer_c")
    page = client.get("/catalog", params={"q": "营业执照"})
    assert "营业执照信息" in page.text and "婚姻登记信息" not in page.text
    assert "政务信息资源目录" in page.text
    english = client.get("/catalog", params={"lang": "en"})
    assert "Government information resource catalog" in english.text
    assert '<html lang="en">' in client.get("/catalog").text  # the choice is kept in a cookie
    searched = client.get("/catalog", params={"q": "营业 执照", "lang": "en"}).text
    kept = 'href="?q=%E8%90%A5%E4%B8%9A+%E6%89%A7%E7%85%A7&amp;lang=zh"'
    assert kept in searched  # switching language keeps the search
    missing = client.get("/catalog/no-such-entry", params={"lang": "zh"})
    assert missing.status_code == 404 and 'href="?lang=en"' in missing.text  # error pages switch too
    assert "未找到该页面或记录" in missing.text  # and say what happened in the reader's language


def test_officer_registers_a_resource_through_the_form(client: TestClient, world: World) -> None:
    login(client, "officer_a")
    token = csrf_from(client.get("/catalog/new").text)
    response = client.post(
        "/catalog/new",
        data={
            "csrf_token": token,
            "classification": "101",
            "name": "暂住证信息",
            "abstract": "暂住登记",
            "format": "table",
            "sharing_type": "unconditional",
            "sharing_modes": ["api", "file"],
            "open_type": "not_open",
            "update_cycle": "daily",
            "source_system": "GAJ-RK",
            "item-0-name": "姓名",
            "item-0-data_type": "string",
            "item-0-length": "50",
            "item-0-sensitive": "on",
            "item-1-name": "",
            "item-1-data_type": "string",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    detail = client.get(response.headers["location"])
    assert "暂住证信息" in detail.text and "GAJ-RK" in detail.text and "姓名" in detail.text


def test_form_errors_come_back_on_the_form_and_write_nothing(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    login(client, "officer_a")
    token = csrf_from(client.get("/catalog/new").text)
    response = client.post(
        "/catalog/new",
        data={
            "csrf_token": token,
            "classification": "101",
            "name": "不共享资源",
            "sharing_type": "not_shared",
            "update_cycle": "daily",
            "item-0-name": "姓名",
            "item-0-data_type": "string",
        },
    )
    assert response.status_code == 422
    assert "法律或政策依据" in response.text and 'value="不共享资源"' in response.text
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Resource)) == 0


def test_other_departments_officer_gets_403_page_on_edit(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    code = add_resource(factory, "MZJ")
    login(client, "officer_a")
    assert client.get(f"/catalog/{code}/edit").status_code == 403
    token = csrf_from(client.get(f"/catalog/{code}").text)
    post = client.post(f"/catalog/{code}/edit", data={"csrf_token": token, "name": "篡改"})
    assert post.status_code == 403


def test_consumer_cannot_open_the_registration_form(client: TestClient, world: World) -> None:
    login(client, "consumer_c")
    assert client.get("/catalog/new").status_code == 403


def test_bureau_reviewer_publishes_from_the_detail_page(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    code = add_resource(factory, "GAJ", publish=False)
    login(client, "officer_a")
    page = client.get(f"/catalog/{code}")
    client.post(f"/catalog/{code}/transition", data={"csrf_token": csrf_from(page.text), "action": "submit"})
    client.cookies.clear()
    login(client, "bureau_reviewer")
    page = client.get(f"/catalog/{code}")
    assert 'data-action="approve"' in page.text
    client.post(f"/catalog/{code}/transition", data={"csrf_token": csrf_from(page.text), "action": "approve"})
    assert "已发布" in client.get(f"/catalog/{code}").text


def test_odd_page_parameters_are_clear_errors(client: TestClient, world: World) -> None:
    login(client, "consumer_c")
    assert client.get("/catalog", params={"page": "abc"}).status_code == 422
    assert client.get("/catalog", params={"q": "x" * 300}).status_code == 422
    assert client.get("/catalog", params={"q": "%'\\😀"}).status_code == 200
