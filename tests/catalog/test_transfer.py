"""Catalog export/import: exact round trips (property-based) and all-or-nothing imports."""

from __future__ import annotations

import json
from datetime import date

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World, add_resource
from zhongtai.catalog import transfer
from zhongtai.catalog.models import (
    DataType,
    OpenType,
    ResourceFormat,
    ResourceStatus,
    SharingMode,
    UpdateCycle,
)
from zhongtai.catalog.schemas import ItemIn, ResourceTransfer
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM

# Text as departments type it: Chinese, punctuation, quotes, commas, newlines, emoji.
text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
    | st.sampled_from("\n,\";'人口"),
    max_size=40,
).map(str.strip)
names = text.filter(bool)
items = st.lists(
    st.builds(
        ItemIn,
        name=st.text("姓名号码abc_ ", min_size=1, max_size=8).map(str.strip).filter(bool),
        data_type=st.sampled_from(DataType),
        length=st.none() | st.integers(1, 4000),
        data_element=st.none() | st.text("DE0123456789", min_size=1, max_size=8),
        sensitive=st.booleans(),
    ),
    max_size=6,
    unique_by=lambda i: i.name,
)
records = st.lists(
    st.builds(
        ResourceTransfer,
        code=st.integers(1, 999_999).map(lambda n: f"101-{n:06d}"),
        classification=st.just("101"),
        provider=st.sampled_from(["GAJ", "MZJ"]),
        name=names,
        abstract=text,
        format=st.sampled_from(ResourceFormat),
        sharing_type=st.just("conditional"),
        sharing_conditions=names,
        sharing_basis=text,
        sharing_modes=st.lists(st.sampled_from(SharingMode), min_size=1, max_size=3, unique=True),
        open_type=st.sampled_from(OpenType),
        open_conditions=text,
        update_cycle=st.sampled_from(UpdateCycle),
        source_system=st.none(),
        publish_date=st.none() | st.dates(date(2000, 1, 1), date(2030, 12, 31)),
        related_codes=st.just([]),
        status=st.sampled_from(ResourceStatus),
        items=items,
    ),
    max_size=5,
    unique_by=lambda r: r.code,
)


@given(records)
def test_json_round_trip_is_exact(rs: list[ResourceTransfer]) -> None:
    assert transfer.load_json(transfer.dump_json(rs)) == rs


@given(records)
def test_csv_round_trip_is_exact(rs: list[ResourceTransfer]) -> None:
    assert transfer.load_csv(transfer.dump_csv(rs)) == rs


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rs=records)
def test_database_round_trip_is_exact(
    factory: sessionmaker[Session], world: World, rs: list[ResourceTransfer]
) -> None:
    with transaction(factory) as session:
        existing = set(transfer.CatalogRepository(session).existing_codes([r.code for r in rs]))
    rs = [r for r in rs if r.code not in existing]
    with transaction(factory) as session:
        transfer.import_records(session, SYSTEM, rs)
    with transaction(factory) as session:
        exported = [r for r in transfer.export_records(session, SYSTEM) if r.code in {x.code for x in rs}]
    assert exported == sorted(rs, key=lambda r: r.code)


def test_import_is_all_or_nothing(client: TestClient, world: World, factory: sessionmaker[Session]) -> None:
    code = add_resource(factory, "GAJ")
    body = json.loads(client.get("/api/v1/catalog/export", headers=world.auth("admin")).text)
    good = dict(body["resources"][0], code="101-000500", name="新条目")
    duplicate = dict(body["resources"][0])  # same code as the existing entry
    payload = {**body, "resources": [good, duplicate]}
    before = _count(factory, AuditEvent)
    response = client.post("/api/v1/catalog/import", content=json.dumps(payload), headers=world.auth("admin"))
    assert response.status_code == 409
    assert code in response.json()["error"]["message"]
    assert client.get("/api/v1/resources/101-000500", headers=world.auth("admin")).status_code == 404
    assert _count(factory, AuditEvent) == before


def test_import_names_bad_rows(client: TestClient, world: World) -> None:
    client.headers["Accept-Language"] = "en"  # the English wording is asserted below
    admin = world.auth("admin")
    cases = [
        (b"{not json", 422, "malformed JSON at line 1"),
        (b'{"format": "other"}', 422, "not a catalog export"),
        (
            json.dumps(
                {"format": "zhongtai-catalog", "version": 1, "resources": [{"code": "101-000001"}]}
            ).encode(),
            422,
            "resources[0]",
        ),
        (
            json.dumps(
                {
                    "format": "zhongtai-catalog",
                    "version": 1,
                    "resources": [
                        {
                            "code": "101-000001",
                            "classification": "101",
                            "provider": "NOPE",
                            "name": "x",
                            "sharing_type": "unconditional",
                            "sharing_modes": ["api"],
                            "update_cycle": "daily",
                        }
                    ],
                }
            ).encode(),
            422,
            "unknown department code 'NOPE'",
        ),
        (b"\xff\xfe garbage", 422, "UTF-8"),
    ]
    for body, status, fragment in cases:
        response = client.post("/api/v1/catalog/import", content=body, headers=admin)
        assert response.status_code == status, response.text
        assert fragment in response.json()["error"]["message"], response.text


def test_malformed_csv_is_rejected(client: TestClient, world: World) -> None:
    client.headers["Accept-Language"] = "en"  # the English wording is asserted below
    admin = world.auth("admin")
    header = ",".join(transfer.RESOURCE_COLUMNS + transfer.ITEM_COLUMNS)
    short_row = header + "\n101-000001,101\n"
    response = client.post("/api/v1/catalog/import?format=csv", content=short_row.encode(), headers=admin)
    assert response.status_code == 422 and "line 2" in response.json()["error"]["message"]
    no_header = client.post("/api/v1/catalog/import?format=csv", content=b"a,b\n1,2\n", headers=admin)
    assert no_header.status_code == 422 and "missing columns" in no_header.json()["error"]["message"]


def test_oversized_import_is_refused_before_parsing(client: TestClient, world: World) -> None:
    huge = b"[" + b" " * (6 * 1024 * 1024) + b"]"
    response = client.post("/api/v1/catalog/import", content=huge, headers=world.auth("admin"))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_only_operators_import(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/catalog/import", content=b"{}", headers=world.auth("officer_a"))
    assert response.status_code == 403


def test_csv_export_reimports_into_another_database(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    add_resource(factory, "GAJ", name='含,逗号与"引号"的资源', abstract="第一行\n第二行")
    csv_text = client.get("/api/v1/catalog/export?format=csv", headers=world.auth("admin")).text
    records = transfer.load_csv(csv_text)
    assert records[0].name == '含,逗号与"引号"的资源' and records[0].abstract == "第一行\n第二行"
    assert transfer.dump_csv(records) == csv_text
