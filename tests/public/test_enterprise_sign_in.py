"""An enterprise signs in by its credit code, its legal representative and the registered mobile (checked
against the legal-entity base), then a one-time code; it sees the services for enterprises, applies with
data instead of paper, and finds the accesses to its data under 我的数据. A person's pages are not its."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World, add_department, add_resource
from tests.public.helpers import WANG, Firm, csrf, last_code, register
from tests.services.helpers import add_clean_rows, approve_all, build_city
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.services import service
from zhongtai.services.schemas import ItemWrite

FIRM = Firm("91340100000000001G", "王小明", WANG.id_number, WANG.mobile)
CODE = "SCJGJ-SPJY-003"


def _enterprise_service(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        add_department(session, "SCJGJ", "市场监督管理局")
    items = [
        {"name": "企业名称", "data_type": "string", "length": 200},
        {"name": "统一社会信用代码", "data_type": "string", "length": 18, "data_element": "DE00009"},
        {"name": "住所", "data_type": "string", "length": 200},
    ]
    registry = add_resource(factory, "SCJGJ", name="企业登记基本信息", items=items)
    row = {
        "企业名称": "庐州市好味道餐饮有限公司",
        "统一社会信用代码": FIRM.credit_code,
        "住所": "蜀山区幸福路 9 号",
    }
    add_clean_rows(factory, registry, [row], job=9)
    spec = {
        "code": CODE,
        "name": "食品经营许可证变更",
        "department": "SCJGJ",
        "applicant_kind": "enterprise",
        "legal_basis": "《食品经营许可和备案管理办法》第三十条",
        "time_limit_days": 10,
        "materials": [
            {
                "name": "企业登记信息",
                "source": "data",
                "resource": registry,
                "items": ["企业名称", "住所"],
                "key_item": "统一社会信用代码",
                "key_from": "applicant",
            }
        ],
    }
    with transaction(factory) as session:
        service.save_item(session, SYSTEM, ItemWrite.model_validate(spec))
        for material in service.item_read(session, service.get_item(session, CODE)).materials:
            from zhongtai.services.schemas import ReviewWrite

            service.review_material(
                session, SYSTEM, CODE, material.position, ReviewWrite(decision="approved")
            )
    with transaction(factory) as session:
        approve_all(session)


def _sign_in(client: TestClient, firm: Firm, **override: str) -> tuple[int, str]:
    body = {
        "csrf_token": csrf(client, "/m/login/enterprise"),
        "credit_code": firm.credit_code,
        "representative": firm.representative,
        "representative_id": firm.representative_id,
        "mobile": firm.mobile,
        **override,
    }
    answer = client.post("/m/login/enterprise", data=body)
    return answer.status_code, answer.text


def test_an_enterprise_signs_in_and_applies_with_data_instead_of_paper(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    build_city(factory, world, settings)
    _enterprise_service(factory)
    register(client).firms.append(FIRM)
    status, text = _sign_in(client, FIRM)
    assert status == 200, text[:500]
    pending = re.search(r'name="pending" value="([^"]+)"', text)
    assert pending
    done = client.post(
        "/m/login/code",
        data={
            "csrf_token": csrf(client, "/m/login/enterprise"),
            "pending": pending.group(1),
            "code": last_code(client),
            "next": "/m/services",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/m/services"
    services = client.get("/m/services").text
    assert "食品经营许可证变更" in services and "公共租赁住房" not in services  # an enterprise's services
    assert client.get("/m/code", follow_redirects=False).headers["location"] == "/m/services"
    assert client.get("/m/family", follow_redirects=False).status_code == 303
    token = csrf(client, "/m/services")
    started = client.post(f"/m/services/{CODE}", data={"csrf_token": token}, follow_redirects=False)
    case_url = started.headers["location"]
    assert "蜀山区" in client.get(case_url).text  # the preview: its own registry entry
    for step in ("consent", "submit"):
        assert (
            client.post(f"{case_url}/{step}", data={"csrf_token": token}, follow_redirects=False).status_code
            == 303
        )
    mine = client.get("/m/my-data").text
    assert "办件·调取材料数据" in mine and "办件·本人预览材料" in mine


def test_wrong_details_get_one_answer_and_count_toward_the_lockout(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    register(client).firms.append(FIRM)
    status, text = _sign_in(client, FIRM, representative="李四")
    assert status == 401
    status, text = _sign_in(client, FIRM, credit_code="91340100000000001X")
    assert status == 422 and "统一社会信用代码" in text
