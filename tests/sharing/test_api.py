"""Sharing through the API: the application lifecycle, grants, masking, exports and the access log."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.sharing.helpers import apply_body, id_number, shared_people
from zhongtai.app import create_app
from zhongtai.core.audit import ACCESS, AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.service import create_user, issue_token
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.sharing.models import Grant

API = "/api/v1/sharing"


def granted(client: TestClient, world: World, resource: str, **overrides: object) -> dict[str, object]:
    """WJW applies, the bureau checks, GAJ approves: the application as the applicant sees it."""
    created = client.post(
        f"{API}/applications", json=apply_body(resource, **overrides), headers=world.auth("consumer_c")
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    step = client.post(
        f"{API}/applications/{number}/actions",
        json={"action": "bureau_approve"},
        headers=world.auth("bureau_reviewer"),
    )
    assert step.json()["status"] == "provider_review", step.text
    step = client.post(
        f"{API}/applications/{number}/actions",
        json={"action": "provider_approve"},
        headers=world.auth("reviewer_a"),
    )
    assert step.json()["status"] == "granted", step.text
    body: dict[str, object] = client.get(
        f"{API}/applications/{number}", headers=world.auth("consumer_c")
    ).json()
    return body


def access_entries(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.chain == ACCESS).order_by(AuditEvent.seq))
        )


def test_conditional_application_is_checked_decided_and_delivers_only_granted_items_masked(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings)
    application = granted(client, world, resource)
    steps = [(s["action"], s["actor_department"]) for s in application["steps"]]  # type: ignore[union-attr]
    assert steps == [("submit", "WJW"), ("bureau_approve", "SJZYJ"), ("provider_approve", "GAJ")]
    grant_id = application["grant_id"]

    page = client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("consumer_c"))
    assert page.status_code == 200, page.text
    records = page.json()["records"]
    assert len(records) == 3
    assert all(set(r) == {"姓名", "公民身份号码"} for r in records)  # minimum necessary: no phone, no gender
    assert {r["姓名"] for r in records} == {"张**"}
    assert {r["公民身份号码"] for r in records} == {f"110{'*' * 11}{id_number(n)[-4:]}" for n in range(3)}
    entries = access_entries(factory)
    assert [(e.event_type, e.outcome, e.record_count, e.grant_id) for e in entries] == [
        ("sharing.records.read", "success", 3, grant_id)
    ]
    assert entries[0].items == ["姓名", "公民身份号码"] and entries[0].purpose == "核酸检测结果关联居民身份"


def test_unmasked_items_leave_unmasked_only_where_granted(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=1)
    application = granted(client, world, resource, unmasked_items=["公民身份号码"])
    record = client.get(
        f"{API}/grants/{application['grant_id']}/records", headers=world.auth("consumer_c")
    ).json()["records"][0]
    assert record == {"姓名": "张**", "公民身份号码": id_number(0)}


def test_only_the_consumer_department_receives_and_revocation_stops_it_at_once(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=1)
    grant_id = granted(client, world, resource)["grant_id"]
    provider = client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("officer_a"))
    assert provider.status_code == 403 and provider.json()["error"]["code"] == "not_your_grant"
    stranger = client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("officer_b"))
    assert stranger.status_code == 404
    bureau = client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("admin"))
    assert bureau.status_code == 403  # the bureau manages grants but receives no data under them

    consumer_revokes = client.post(
        f"{API}/grants/{grant_id}/revoke", json={"reason": "x" * 5}, headers=world.auth("consumer_c")
    )
    assert consumer_revokes.status_code == 403
    revoked = client.post(
        f"{API}/grants/{grant_id}/revoke", json={"reason": "用途已结束"}, headers=world.auth("reviewer_a")
    )
    assert revoked.json()["status"] == "revoked" and revoked.json()["live"] is False
    after = client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("consumer_c"))
    assert after.status_code == 403 and after.json()["error"]["code"] == "grant_revoked"

    outcomes = [(e.actor_username, e.outcome, e.record_count) for e in access_entries(factory)]
    assert outcomes == [
        ("officer_a", "denied", 0),
        ("officer_b", "denied", 0),
        ("admin", "denied", 0),
        ("consumer_c", "denied", 0),
    ]


def test_an_expired_grant_delivers_nothing_until_renewed(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=1)
    grant_id = granted(client, world, resource)["grant_id"]
    with transaction(factory) as session:
        session.execute(
            update(Grant).where(Grant.id == grant_id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("consumer_c"))
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "grant_expired"
    renewed = client.post(
        f"{API}/grants/{grant_id}/renew",
        json={"valid_until": "2028-06-30"},
        headers=world.auth("bureau_reviewer"),
    )
    assert renewed.status_code == 200 and renewed.json()["renewals"] == 1
    assert client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("consumer_c")).status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"items": ["姓名", "住址"]}, 422, "items"),
        ({"unmasked_items": ["联系电话"]}, 422, "unmasked_items"),
        ({"valid_until": "2020-01-01"}, 422, "valid_until"),
        ({"valid_until": "2099-01-01"}, 422, "valid_until"),
        ({"resource": "999999-000001"}, 404, "resource"),
        ({"items": ["姓名", "姓名"]}, 422, None),
        ({"purpose": ""}, 422, None),
    ],
)
def test_bad_applications_are_refused_naming_the_problem(
    client: TestClient,
    world: World,
    factory: sessionmaker[Session],
    settings: Settings,
    change: dict[str, object],
    status: int,
    field: str | None,
) -> None:
    resource, _ = shared_people(factory, settings, rows=1)
    response = client.post(
        f"{API}/applications", json={**apply_body(resource), **change}, headers=world.auth("consumer_c")
    )
    assert response.status_code == status, response.text
    if field:
        assert response.json()["error"]["field"] == field
    assert client.get(f"{API}/applications", headers=world.auth("consumer_c")).json() == []


def test_a_resource_not_shared_cannot_be_applied_for_and_the_refusal_cites_its_basis(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, sharing_type="not_shared", rows=1)
    response = client.post(f"{API}/applications", json=apply_body(resource), headers=world.auth("consumer_c"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_shared"
    assert "《居民身份证法》第六条" in response.json()["error"]["message"]


def test_queues_belong_to_their_owners_and_nobody_decides_their_own_application(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=1)
    with transaction(factory) as session:
        both = create_user(
            session,
            SYSTEM,
            username="bureau_both",
            display_name="b",
            department_code="SJZYJ",
            roles=[Role.CONSUMER, Role.REVIEWER],
            password="correct horse battery",
        )
        token, _ = issue_token(session, SYSTEM, both, "t")
    own = {"Authorization": f"Bearer {token}"}
    number = client.post(f"{API}/applications", json=apply_body(resource), headers=own).json()["number"]
    mine = client.post(f"{API}/applications/{number}/actions", json={"action": "bureau_approve"}, headers=own)
    assert mine.status_code == 403 and mine.json()["error"]["code"] == "own_application"
    provider_early = client.post(
        f"{API}/applications/{number}/actions",
        json={"action": "provider_approve"},
        headers=world.auth("reviewer_a"),
    )
    assert provider_early.status_code == 409  # not yet past the bureau
    provider_as_bureau = client.post(
        f"{API}/applications/{number}/actions",
        json={"action": "bureau_approve"},
        headers=world.auth("reviewer_a"),
    )
    assert (
        provider_as_bureau.status_code == 403
        and provider_as_bureau.json()["error"]["code"] == "not_your_queue"
    )
    outsider = client.post(
        f"{API}/applications/{number}/actions", json={"action": "withdraw"}, headers=world.auth("officer_b")
    )
    assert outsider.status_code == 404
    bad = client.post(
        f"{API}/applications/{number}/actions",
        json={"action": "grant_everything"},
        headers=world.auth("bureau_reviewer"),
    )
    assert bad.status_code == 422 and "bureau_approve" in bad.json()["error"]["message"]
    no_reason = client.post(
        f"{API}/applications/{number}/actions",
        json={"action": "bureau_reject"},
        headers=world.auth("bureau_reviewer"),
    )
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "comment"
    rejected = client.post(
        f"{API}/applications/{number}/actions",
        json={"action": "bureau_reject", "comment": "用途与数据无关"},
        headers=world.auth("bureau_reviewer"),
    )
    assert rejected.json()["status"] == "rejected" and rejected.json()["grant_id"] is None
    stats = {
        row["department"]: row for row in client.get(f"{API}/statistics", headers=world.auth("admin")).json()
    }
    assert stats["SJZYJ"]["applied"] == 1 and stats["SJZYJ"]["rejected"] == 1
    assert stats["GAJ"]["received"] == 1 and stats["GAJ"]["refusal_reasons"] == ["用途与数据无关"]


def test_returned_application_is_mended_and_resubmitted(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=1)
    number = client.post(
        f"{API}/applications",
        json=apply_body(resource, items=["姓名", "公民身份号码", "联系电话"]),
        headers=world.auth("consumer_c"),
    ).json()["number"]
    returned = client.post(
        f"{API}/applications/{number}/actions",
        json={"action": "bureau_return", "comment": "联系电话非必要"},
        headers=world.auth("bureau_reviewer"),
    )
    assert (
        returned.json()["status"] == "returned" and returned.json()["actions"] == []
    )  # the bureau has nothing to do
    mended = client.patch(
        f"{API}/applications/{number}",
        json={"items": ["姓名", "公民身份号码"]},
        headers=world.auth("consumer_c"),
    )
    assert mended.status_code == 200 and mended.json()["items"] == ["姓名", "公民身份号码"]
    assert set(mended.json()["actions"]) == {"resubmit", "withdraw"}
    again = client.post(
        f"{API}/applications/{number}/actions", json={"action": "resubmit"}, headers=world.auth("consumer_c")
    )
    assert again.json()["status"] == "bureau_review" and again.json()["step_due_at"] is not None


def test_unconditional_sharing_is_granted_by_the_automatic_check_where_configured(
    world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, sharing_type="unconditional", rows=1)
    with TestClient(
        create_app(settings.model_copy(update={"sharing_auto_check": True})), raise_server_exceptions=False
    ) as client:
        created = client.post(
            f"{API}/applications", json=apply_body(resource), headers=world.auth("consumer_c")
        )
    assert created.status_code == 201
    assert created.json()["status"] == "granted" and created.json()["grant_id"]
    assert [s["actor_username"] for s in created.json()["steps"]] == ["consumer_c", "system"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_file_export_carries_only_the_granted_masked_slice_with_a_checksum(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings, fmt: str
) -> None:
    resource, _ = shared_people(factory, settings, rows=4)
    grant_id = granted(client, world, resource, mode="file")["grant_id"]
    wrong_mode = client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("consumer_c"))
    assert wrong_mode.status_code == 403 and wrong_mode.json()["error"]["code"] == "wrong_mode"
    manifest = client.post(
        f"{API}/grants/{grant_id}/exports", json={"format": fmt}, headers=world.auth("consumer_c")
    )
    assert manifest.status_code == 201, manifest.text
    body = manifest.json()
    assert body["rows"] == 4 and body["items"] == ["姓名", "公民身份号码"]
    download = client.get(f"{API}/exports/{body['export_id']}/file", headers=world.auth("consumer_c"))
    assert download.status_code == 200
    assert (
        hashlib.sha256(download.content).hexdigest() == body["sha256"] == download.headers["x-content-sha256"]
    )
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    else:
        rows = pq.read_table(io.BytesIO(download.content)).to_pylist()
    assert len(rows) == 4 and all(set(r) == {"姓名", "公民身份号码"} for r in rows)
    assert not any(id_number(n) in download.text for n in range(4)) if fmt == "csv" else True
    stolen = client.get(f"{API}/exports/{body['export_id']}/file", headers=world.auth("officer_a"))
    assert stolen.status_code == 403
    events = [(e.event_type, e.outcome) for e in access_entries(factory)]
    assert events == [
        ("sharing.records.read", "denied"),
        ("sharing.export.created", "success"),
        ("sharing.export.downloaded", "success"),
        ("sharing.export.downloaded", "denied"),
    ]


def test_item_policies_default_by_data_element_and_are_set_by_the_provider(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=1)
    policies = {
        p["item"]: p
        for p in client.get(
            f"/api/v1/resources/{resource}/sharing-policy", headers=world.auth("consumer_c")
        ).json()
    }
    assert (
        policies["公民身份号码"]["masking"] == "id_number" and policies["公民身份号码"]["sensitivity"] == "L4"
    )
    assert policies["联系电话"]["masking"] == "mobile"
    write = {"item": "姓名", "sensitivity": "L4", "masking": "full"}
    assert (
        client.put(
            f"/api/v1/resources/{resource}/sharing-policy", json=write, headers=world.auth("consumer_c")
        ).status_code
        == 403
    )
    assert (
        client.put(
            f"/api/v1/resources/{resource}/sharing-policy",
            json={**write, "item": "不存在"},
            headers=world.auth("officer_a"),
        ).status_code
        == 422
    )
    assert (
        client.put(
            f"/api/v1/resources/{resource}/sharing-policy", json=write, headers=world.auth("officer_a")
        ).status_code
        == 200
    )
    grant_id = granted(client, world, resource)["grant_id"]
    record = client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("consumer_c")).json()[
        "records"
    ][0]
    assert record["姓名"] == "***"


def test_auditors_search_and_export_the_trail_and_others_cannot(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=2)
    grant_id = granted(client, world, resource)["grant_id"]
    client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("consumer_c"))
    found = client.get(
        "/api/v1/audit/events?chain=access&resource=" + resource, headers=world.auth("auditor")
    )
    assert found.status_code == 200, found.text
    entries = found.json()["items"]
    assert [(e["actor_username"], e["record_count"], e["grant_id"]) for e in entries] == [
        ("consumer_c", 2, grant_id)
    ]
    prefixed = client.get(
        "/api/v1/audit/events?event_type=sharing.application.", headers=world.auth("auditor")
    ).json()
    assert {e["event_type"] for e in prefixed["items"]} == {
        "sharing.application.submitted",
        "sharing.application.bureau_approve",
        "sharing.application.provider_approve",
    }
    assert client.get("/api/v1/audit/events", headers=world.auth("consumer_c")).status_code == 403
    export = client.get("/api/v1/audit/export?chain=access", headers=world.auth("auditor"))
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [(r["event_type"], r["record_count"]) for r in rows] == [("sharing.records.read", "2")]
    exported = client.get(
        "/api/v1/audit/events?event_type=audit.exported", headers=world.auth("auditor")
    ).json()
    assert exported["total"] == 1  # exporting the trail is itself on the trail


def test_data_access_fails_closed_when_the_audit_trail_cannot_be_written(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, _ = shared_people(factory, settings, rows=1)
    grant_id = granted(client, world, resource)["grant_id"]
    with transaction(factory) as session:  # the access chain's head is gone: nothing can be appended
        session.execute(text("DELETE FROM audit_chain_heads WHERE chain = 'access'"))
    refused = client.get(f"{API}/grants/{grant_id}/records", headers=world.auth("consumer_c"))
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "audit_unavailable"
    assert "records" not in refused.text
