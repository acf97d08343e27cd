"""A schema-driven fuzzer (schemathesis) over the platform API's OpenAPI and over a gateway capability's
generated OpenAPI (every request signed): no 5xx, no answer outside its documented schema."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.gateway.helpers import BASE_URL, PURPOSE, build, sign
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import service as healthcode

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
CHECKS = [not_a_server_error, response_schema_conformance]
# The platform's own API also answers only statuses and content types its OpenAPI documents, and says on
# a 405 which methods it allows.
PLATFORM_CHECKS = [*CHECKS, status_code_conformance, content_type_conformance, allow_header_conformance]
FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
)


def test_platform_api_answers_every_generated_request_within_its_schema(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    build(client, factory, settings, world)
    with transaction(factory) as session:  # a platform in service has its health code keys
        healthcode.ensure_keys(session, settings, SYSTEM, utcnow())
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)

    @FUZZ
    @given(case=schema.as_strategy())
    def run(case: Any) -> None:
        for who in ("developer_c", "officer_a", None):  # None: no token at all
            response = case.call(headers=world.auth(who) if who else {})
            case.validate_response(response, checks=PLATFORM_CHECKS)

    run()
    spec = client.get("/openapi.json").json()
    assert spec["components"]["schemas"]["HTTPValidationError"]["required"] == [
        "error"
    ]  # documented truthfully


def test_gateway_capability_answers_every_generated_request_within_its_schema(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    setup = build(client, factory, settings, world)
    documents = [
        client.get(f"/api/v1/capabilities/{code}/openapi.json", headers=world.auth("developer_c")).json()
        for code in ("person.by-id", "person.list", "person.verify")
    ]

    for document in documents:
        schema = schemathesis.openapi.from_dict(document)

        @FUZZ
        @given(case=schema.as_strategy(headers={"X-Purpose": PURPOSE}))
        def run(case: Any) -> None:
            kwargs = case.as_transport_kwargs(base_url=BASE_URL)
            request = httpx.Request(
                kwargs["method"], kwargs["url"], params=kwargs.get("params"), json=kwargs.get("json")
            )
            path, body = request.url.raw_path.decode(), request.content or None
            end_user = (kwargs.get("headers") or {}).get("X-End-User")
            headers = sign(setup.credentials, request.method, path, body=body, end_user=end_user)
            response = client.request(request.method, path, content=body, headers=headers)
            case.validate_response(response, checks=CHECKS)

        run()
