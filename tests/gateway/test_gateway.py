"""The gateway end to end: signed calls to data capabilities, masking by the grant, refusals, audit."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.gateway.helpers import APPS, CAP, PURPOSE, answering, build, call, sign, subscribe
from tests.governance.helpers import person_source, raw_batch
from tests.sharing.helpers import id_number, person
from zhongtai.app import create_app
from zhongtai.core import audit_integrity
from zhongtai.core.audit import ACCESS, AuditEvent
from zhongtai.core.crypto import OpaqueTokens
from zhongtai.core.database import transaction
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.gateway.client import GatewaySigner
from zhongtai.governance.models import BaseKind, BaseRecord
from zhongtai.governance.pipeline import run_pass


def gateway_entries(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.chain == ACCESS, AuditEvent.event_type == "gateway.call")
        return list(session.scalars(query.order_by(AuditEvent.seq)))


def test_lookup_returns_only_granted_items_masked(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world)
    number = id_number(1)
    answer = call(client, setup.credentials, "GET", f"/gw/person.by-id/{number}")
    assert answer.status_code == 200, answer.text
    record = answer.json()["record"]
    assert set(record) == {"姓名", "公民身份号码", "出生日期"}  # 性别 and 联系电话 are not granted
    assert record["公民身份号码"] == number[:3] + "*" * 11 + number[-4:]
    assert "*" in record["姓名"]
    assert record["出生日期"] == f"{number[6:10]}-{number[10:12]}-{number[12:14]}"  # granted unmasked
    entries = gateway_entries(factory)
    assert [e.outcome for e in entries] == ["success"]
    assert entries[0].app == "wjw-health-code" and entries[0].purpose == PURPOSE
    assert entries[0].record_count == 1 and entries[0].department_code == "WJW"


def test_gateway_audit_groups_keep_the_chain_verifiable(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Entries the gateway writes through the driver read back to the hashes they were sealed with."""
    setup = build(client, factory, settings, world)
    assert call(client, setup.credentials, "GET", f"/gw/person.by-id/{id_number(1)}").status_code == 200
    assert call(client, setup.credentials, "GET", f"/gw/person.by-id/{id_number(777)}").status_code == 404
    assert call(client, setup.credentials, "GET", "/gw/person.by-id/a/b").status_code == 404
    entries = gateway_entries(factory)
    assert [e.outcome for e in entries] == ["success", "denied", "denied"]
    assert entries[1].changes["reason"] == "record_not_found" and entries[0].items
    with factory() as session:
        report = audit_integrity.verify(session, settings)
    assert report.first_bad is None and report.checked[ACCESS] >= 3


def test_gateway_fails_closed_when_the_audit_trail_cannot_be_written(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup, path = answering(client, factory, settings, world)
    with transaction(factory) as session:  # the access chain's head is gone: nothing can be appended
        session.execute(text("DELETE FROM audit_chain_heads WHERE chain = 'access'"))
    refused = call(client, setup.credentials, "GET", path)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "audit_unavailable"
    assert "record" not in refused.json() and id_number(1)[-4:] not in refused.text


def test_unknown_key_and_unclaimed_person_answer_alike(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world)
    missing = call(client, setup.credentials, "GET", f"/gw/person.by-id/{id_number(777)}")
    garbage = call(client, setup.credentials, "GET", "/gw/person.by-id/1' OR '1'='1")
    assert missing.status_code == garbage.status_code == 404
    assert missing.json() == garbage.json()


def test_verify_answers_yes_or_no_only(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world)
    number = id_number(2)
    yes = call(
        client, setup.credentials, "POST", "/gw/person.verify", {"公民身份号码": number, "姓名": "张三丰"}
    )
    no = call(
        client, setup.credentials, "POST", "/gw/person.verify", {"公民身份号码": number, "姓名": "李四"}
    )
    nobody = call(
        client,
        setup.credentials,
        "POST",
        "/gw/person.verify",
        {"公民身份号码": id_number(999), "姓名": "张三丰"},
    )
    assert (yes.json(), no.json(), nobody.json()) == ({"match": True}, {"match": False}, {"match": False})


def test_list_pages_and_refuses_huge_pages(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world, rows=5)
    first = call(client, setup.credentials, "GET", "/gw/person.list?page=1&page_size=2")
    assert first.status_code == 200, first.text
    assert len(first.json()["records"]) == 2 and first.json()["has_more"] is True
    last = call(client, setup.credentials, "GET", "/gw/person.list?page=3&page_size=2")
    assert len(last.json()["records"]) == 1 and last.json()["has_more"] is False
    huge = call(client, setup.credentials, "GET", "/gw/person.list?page_size=1000000")
    assert huge.status_code == 422 and huge.json()["error"]["field"] == "page_size"
    masked_filter = call(client, setup.credentials, "GET", "/gw/person.list?姓名=张三丰")
    assert masked_filter.status_code == 422
    by_birth = call(client, setup.credentials, "GET", f"/gw/person.list?出生日期={person_birth(1)}")
    assert by_birth.status_code == 200 and len(by_birth.json()["records"]) == 1


def test_list_walks_by_cursor_at_any_depth_and_refuses_forged_cursors(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world, rows=5)
    by_page = [
        record
        for page in (1, 2, 3)
        for record in call(
            client, setup.credentials, "GET", f"/gw/person.list?page={page}&page_size=2"
        ).json()["records"]
    ]
    walked, cursors, path = [], [], "/gw/person.list?page_size=2"
    while True:
        answer = call(client, setup.credentials, "GET", path)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        walked.extend(body["records"])
        assert body["has_more"] is (body["next"] is not None)
        if body["next"] is None:
            break
        cursors.append(body["next"])
        path = f"/gw/person.list?page_size=2&after={quote(body['next'])}"
    assert len(walked) == 5 and walked == by_page  # every row once, in the same order as pages
    positions = OpaqueTokens(settings, b"zhongtai gateway list positions")
    for cursor in cursors:  # the row's source key is inside, encrypted, and no other key opens it
        inside = positions.open(cursor)
        assert inside is not None and '"k' in inside and inside not in cursor
        assert OpaqueTokens(settings, b"zhongtai source secrets").open(cursor) is None
    filtered = call(
        client,
        setup.credentials,
        "GET",
        f"/gw/person.list?after={quote(cursors[0])}&出生日期={person_birth(4)}",
    )
    assert filtered.status_code == 200 and len(filtered.json()["records"]) == 1
    tampered = cursors[0][:-4] + ("AAAA" if not cursors[0].endswith("AAAA") else "BBBB")
    other_resource = positions.seal(json.dumps([999, 1, "k0"]))
    for cursor in (tampered, other_resource, "x" * 3000, ""):
        refused = call(client, setup.credentials, "GET", f"/gw/person.list?after={quote(cursor)}")
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "bad_cursor"
    both = call(client, setup.credentials, "GET", f"/gw/person.list?page=2&after={quote(cursors[0])}")
    assert both.status_code == 422 and both.json()["error"]["field"] == "after"


def person_birth(n: int) -> str:
    number = id_number(n)
    return f"{number[6:10]}-{number[10:12]}-{number[12:14]}"


def test_signature_refusals_name_the_problem(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world)
    path = f"/gw/person.by-id/{id_number(1)}"
    unsigned = client.get(path, headers={"X-Purpose": PURPOSE})
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "signature_missing"
    headers = sign(setup.credentials, "GET", path)
    assert client.get(path, headers=headers).status_code == 200
    replayed = client.get(path, headers=headers)
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "replayed"
    altered = sign(setup.credentials, "GET", path)
    tampered = client.get(f"/gw/person.by-id/{id_number(2)}", headers=altered)
    assert tampered.status_code == 401 and tampered.json()["error"]["code"] == "signature_invalid"
    old = sign(setup.credentials, "GET", path, created=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    assert client.get(path, headers=old).json()["error"]["code"] == "signature_expired"
    future = sign(setup.credentials, "GET", path, created=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    assert client.get(path, headers=future).json()["error"]["code"] == "clock_skew"
    wrong_purpose = sign(setup.credentials, "GET", path, purpose="marketing")
    answer = client.get(path, headers=wrong_purpose)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "purpose_mismatch"


@pytest.mark.parametrize("first", ["lookup", "list", "verify"])
def test_revoked_key_is_refused_at_once(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World, first: str
) -> None:
    """The instance decided its last call on state it still holds; the next call of any kind after a
    revocation is refused (a lookup learns it with its record, the others by reading the version)."""
    setup, path = answering(client, factory, settings, world)
    assert call(client, setup.credentials, "GET", "/gw/person.list").status_code == 200
    revoked = client.delete(
        f"{APPS}/{setup.app}/keys/{setup.credentials.key_id}", headers=world.auth("developer_c")
    )
    assert revoked.status_code == 200, revoked.text
    calls = {
        "lookup": ("GET", path, None),
        "list": ("GET", "/gw/person.list", None),
        "verify": ("POST", "/gw/person.verify", {"公民身份号码": id_number(1), "姓名": "张三"}),
    }
    method, where, body = calls[first]
    recorded = len(gateway_entries(factory))
    refused = call(client, setup.credentials, method, where, body)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unknown_key"
    # a revoked key names no app: the refusal is counted, not put in the app's trail with what the
    # instance's older state had decided for it
    assert len(gateway_entries(factory)) == recorded


def test_platform_licence_verification(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world)
    with transaction(factory) as session:
        session.add(
            BaseRecord(
                base=BaseKind.LICENSE,
                key="91340100MA2N0001XY-营业执照",
                data={
                    "type": "营业执照",
                    "holder": "合肥市示例科技有限公司",
                    "valid_from": "2020-01-01",
                    "valid_to": "2099-12-31",
                },
                provenance={},
                valid_from=utcnow(),
            )
        )
    body = {
        "code": "license.verify",
        "name": "电子证照核验",
        "kind": "platform",
        "operation": "license_verify",
        "provider": "SJZYJ",
    }
    assert client.post(CAP, json=body, headers=world.auth("developer_a")).status_code == 403  # the bureau's
    assert client.post(CAP, json=body, headers=world.auth("admin")).status_code == 201
    assert (
        client.post(
            f"{CAP}/license.verify/actions", json={"action": "publish"}, headers=world.auth("admin")
        ).status_code
        == 200
    )
    assert subscribe(client, world, setup.app, "license.verify")["status"] == "approved"  # platform: at once
    claim = {"number": "91340100MA2N0001XY-营业执照", "holder": "合肥市示例科技有限公司"}
    assert call(client, setup.credentials, "POST", "/gw/license.verify", claim).json() == {"valid": True}
    wrong = {**claim, "holder": "别的公司"}
    assert call(client, setup.credentials, "POST", "/gw/license.verify", wrong).json() == {"valid": False}
    malformed = call(client, setup.credentials, "POST", "/gw/license.verify", {"number": 1})
    assert malformed.status_code == 422


def test_usage_and_metrics_count_calls_per_app_and_capability(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    labels = {"app": "wjw-health-code", "capability": "person.by-id", "status": "200"}
    timed = {"app": "wjw-health-code", "capability": "person.by-id"}
    before = REGISTRY.get_sample_value("zhongtai_gateway_calls_total", labels) or 0.0
    timed_before = REGISTRY.get_sample_value("zhongtai_gateway_call_duration_seconds_count", timed) or 0.0
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        setup = build(client, factory, settings, world)
        for n in range(3):
            call(client, setup.credentials, "GET", f"/gw/person.by-id/{id_number(n)}")
        call(client, setup.credentials, "GET", f"/gw/person.by-id/{id_number(500)}")  # 404
        assert call(client, setup.credentials, "GET", "/gw/made-up.x7/1").status_code == 404
        metrics = client.get("/metrics").text
        assert "made-up.x7" not in metrics  # labels never take what a caller typed
        assert 'zhongtai_gateway_call_duration_seconds_bucket{app="wjw-health-code"' in metrics
    assert REGISTRY.get_sample_value("zhongtai_gateway_calls_total", labels) == before + 3
    # the latency histogram holds every call of the app and capability, the 404 included
    timed_now = REGISTRY.get_sample_value("zhongtai_gateway_call_duration_seconds_count", timed)
    assert timed_now == timed_before + 4
    everything = REGISTRY.get_sample_value(
        "zhongtai_gateway_call_duration_seconds_bucket", {**timed, "le": "+Inf"}
    )
    within_10s = REGISTRY.get_sample_value(
        "zhongtai_gateway_call_duration_seconds_bucket", {**timed, "le": "10.0"}
    )
    assert everything == timed_now and within_10s is not None and within_10s <= everything
    with TestClient(
        create_app(settings), raise_server_exceptions=False
    ) as client:  # usage written at shutdown
        rows = client.get("/api/v1/gateway/usage", headers=world.auth("developer_c")).json()
        by_capability = {row["capability"]: row for row in rows}
        assert set(by_capability) == {"person.by-id", "unknown"}  # calls to no capability: one bucket
        assert by_capability["unknown"]["statuses"] == {"404": 1}
        rows = [by_capability["person.by-id"]]
        assert rows == [
            {
                **rows[0],
                "app": "wjw-health-code",
                "capability": "person.by-id",
                "calls": 4,
                "errors": 1,
                "statuses": {"200": 3, "404": 1},
            }
        ]
        assert rows[0]["p50_ms"] is not None
        assert (
            client.get("/api/v1/gateway/usage", headers=world.auth("developer_b")).json() == []
        )  # not MZJ's
        assert (
            len(client.get("/api/v1/gateway/usage", headers=world.auth("reviewer_a")).json()) == 1
        )  # provider


def test_the_sample_client_signs_for_the_gateway(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world)
    assert setup.credentials.secret is not None
    signer = GatewaySigner(setup.credentials.key_id, PURPOSE, secret=setup.credentials.secret, end_user="u-1")
    found = client.get(f"/gw/person.by-id/{id_number(1)}", auth=signer)
    assert found.status_code == 200, found.text
    verified = client.post(
        "/gw/person.verify", json={"公民身份号码": id_number(1), "姓名": "张三丰"}, auth=signer
    )
    assert verified.json() == {"match": True}
    with factory() as session:
        entries = list(session.scalars(select(AuditEvent).where(AuditEvent.event_type == "gateway.call")))
    assert [e.changes.get("end_user") for e in entries] == ["u-1", "u-1"]  # who the app acted for


def test_people_only_other_departments_know_answer_like_nobody(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Fishing with keys outside the grant: a person in the base but not in the granted resource gets
    the same 404 as a number nobody has; malformed JSON is a 422 naming the body."""
    setup = build(client, factory, settings, world)
    resource, job = person_source(factory, settings, "MZJ", "MZJ-HY", 2)
    outsider = id_number(42)
    run_pass(factory, resource, run_id=raw_batch(factory, job, {"m1": person(42)}), trigger="test")
    with factory() as session:
        assert session.get(BaseRecord, (BaseKind.PERSON, outsider)) is not None  # in the base, via MZJ only
    known_elsewhere = call(client, setup.credentials, "GET", f"/gw/person.by-id/{outsider}")
    nobody = call(client, setup.credentials, "GET", f"/gw/person.by-id/{id_number(43)}")
    assert known_elsewhere.status_code == nobody.status_code == 404
    assert known_elsewhere.json() == nobody.json()
    path = "/gw/person.verify"
    body = b'{"bad json'
    headers = sign(setup.credentials, "POST", path, body=body)
    malformed = client.post(path, content=body, headers=headers)
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "malformed_json"
