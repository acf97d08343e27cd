"""Builders for gateway tests: a governed GAJ person resource feeding the population base, a granted
WJW app subscribed to its capabilities, and requests signed by the third-party RFC 9421 library."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from fastapi.testclient import TestClient
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.governance.helpers import person_source, raw_batch
from tests.sharing.helpers import apply_body, id_number, person
from zhongtai.core.settings import Settings
from zhongtai.governance.pipeline import run_pass

CAP = "/api/v1/capabilities"
APPS = "/api/v1/apps"
PURPOSE = "epidemic.health-code"
BASE_URL = "http://testserver"


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, key: bytes | Ed25519PrivateKey) -> None:
        self.key = key

    def resolve_private_key(self, key_id: str) -> Any:
        return self.key

    def resolve_public_key(self, key_id: str) -> Any:
        raise NotImplementedError


class Message:
    """What the library signs: a request with method, absolute URL and mutable headers."""

    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, headers


@dataclass
class Credentials:
    key_id: str
    secret: str | None = None  # HMAC, base64url as shown once
    private_pem: str | None = None  # Ed25519

    def signing_key(self) -> bytes | Ed25519PrivateKey:
        if self.secret is not None:
            return base64.urlsafe_b64decode(self.secret + "=" * (-len(self.secret) % 4))
        assert self.private_pem is not None
        loaded = load_pem_private_key(self.private_pem.encode(), None)
        assert isinstance(loaded, Ed25519PrivateKey)
        return loaded

    @property
    def algorithm(self) -> type[algorithms.HTTPSignatureAlgorithm]:
        return algorithms.HMAC_SHA256 if self.secret is not None else algorithms.ED25519


def sign(
    credentials: Credentials,
    method: str,
    path: str,
    body: bytes | None = None,
    purpose: str | None = PURPOSE,
    end_user: str | None = None,
    created: dt.datetime | None = None,
    expires_in: int = 60,
    nonce: str | None = None,
    base_url: str = BASE_URL,
) -> dict[str, str]:
    """Headers of a request signed with ``http-message-signatures`` (the library the docs use)."""
    headers: dict[str, str] = {}
    covered = ["@method", "@target-uri"]
    if purpose is not None:
        headers["X-Purpose"] = purpose
        covered.append("x-purpose")
    if end_user is not None:
        headers["X-End-User"] = end_user
        covered.append("x-end-user")
    if body:
        headers["Content-Type"] = "application/json"
    message = Message(method, base_url + encoded(path), headers)
    signer = HTTPMessageSigner(
        signature_algorithm=credentials.algorithm, key_resolver=_Keys(credentials.signing_key())
    )
    created = created or dt.datetime.now(dt.UTC)
    signer.sign(
        message,
        key_id=credentials.key_id,
        created=created,
        expires=created + dt.timedelta(seconds=expires_in),
        nonce=nonce or secrets.token_urlsafe(16),
        covered_component_ids=tuple(covered),
        body=body if body else None,
    )
    return message.headers


def encoded(path: str) -> str:
    """The path as it travels (percent-encoded UTF-8): what is signed is what is sent."""
    return quote(path, safe="/?&=%:@-._~!$'()*+,;")


def digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


@dataclass
class Setup:
    resource: str
    credentials: Credentials
    app: str = "wjw-health-code"


def governed_people(factory: sessionmaker[Session], settings: Settings, rows: int = 3) -> str:
    """GAJ's person resource, governed into the population base (claims by its feed)."""
    resource, job = person_source(factory, settings, "GAJ", "GAJ-RK", 1)
    batch = raw_batch(factory, job, {f"k{n}": person(n) for n in range(rows)})
    outcome = run_pass(factory, resource, run_id=batch, trigger="test")
    assert outcome.clean_rows == rows, outcome
    return resource


def grant_api(client: TestClient, world: World, resource: str, **overrides: Any) -> None:
    """WJW applies for API delivery; the bureau and GAJ approve."""
    body = apply_body(resource, **overrides)
    created = client.post("/api/v1/sharing/applications", json=body, headers=world.auth("consumer_c"))
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    for who, action in (("bureau_reviewer", "bureau_approve"), ("reviewer_a", "provider_approve")):
        step = client.post(
            f"/api/v1/sharing/applications/{number}/actions", json={"action": action}, headers=world.auth(who)
        )
        assert step.status_code == 200, step.text


def data_capability(
    client: TestClient, world: World, resource: str, code: str, operation: str, **extra: Any
) -> None:
    body = {
        "code": code,
        "name": f"人口{operation}",
        "kind": "data",
        "operation": operation,
        "resource": resource,
    }
    body.update(extra)
    made = client.post(CAP, json=body, headers=world.auth("developer_a"))
    assert made.status_code == 201, made.text
    published = client.post(
        f"{CAP}/{code}/actions", json={"action": "publish"}, headers=world.auth("officer_a")
    )
    assert published.status_code == 200, published.text


def new_app(client: TestClient, world: World, code: str = "wjw-health-code", who: str = "developer_c") -> str:
    made = client.post(APPS, json={"code": code, "name": "健康码"}, headers=world.auth(who))
    assert made.status_code == 201, made.text
    return code


def new_key(client: TestClient, world: World, app: str, who: str = "developer_c", **body: Any) -> Credentials:
    made = client.post(f"{APPS}/{app}/keys", json=body, headers=world.auth(who))
    assert made.status_code == 201, made.text
    data = made.json()
    return Credentials(data["key_id"], data.get("secret"), data.get("private_key"))


def subscribe(
    client: TestClient, world: World, app: str, capability: str, who: str = "developer_c"
) -> dict[str, Any]:
    made = client.post(
        f"{APPS}/{app}/subscriptions",
        json={"capability": capability, "purpose": PURPOSE},
        headers=world.auth(who),
    )
    assert made.status_code == 201, made.text
    subscription: dict[str, Any] = made.json()
    if subscription["status"] == "pending":
        decided = client.post(
            f"/api/v1/capability-subscriptions/{subscription['id']}/actions",
            json={"action": "approve"},
            headers=world.auth("reviewer_a"),
        )
        assert decided.status_code == 200, decided.text
        subscription = decided.json()
    return subscription


def build(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World, rows: int = 3
) -> Setup:
    """Lookup, list and verify capabilities on GAJ's people; WJW's app granted names and ID numbers."""
    resource = governed_people(factory, settings, rows)
    grant_api(
        client, world, resource, items=["姓名", "公民身份号码", "出生日期"], unmasked_items=["出生日期"]
    )
    data_capability(client, world, resource, "person.by-id", "lookup", key_item="公民身份号码")
    data_capability(client, world, resource, "person.list", "list")
    data_capability(
        client, world, resource, "person.verify", "verify", key_item="公民身份号码", verify_items=["姓名"]
    )
    app = new_app(client, world)
    for capability in ("person.by-id", "person.list", "person.verify"):
        subscribe(client, world, app, capability)
    return Setup(resource, new_key(client, world, app))


def answering(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> tuple[Setup, str]:
    """``build``, and the path of a lookup that answers 200 before the test changes anything."""
    setup = build(client, factory, settings, world)
    path = f"/gw/person.by-id/{id_number(1)}"
    answer = call(client, setup.credentials, "GET", path)
    assert answer.status_code == 200, answer.text
    return setup, path


def call(
    client: TestClient, credentials: Credentials, method: str, path: str, json_body: Any = None, **kw: Any
) -> Any:
    import json

    body = json.dumps(json_body, ensure_ascii=False).encode() if json_body is not None else None
    headers = sign(credentials, method, path, body=body, **kw)
    return client.request(method, encoded(path), content=body, headers=headers)


def ed25519_pem() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization

    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return public.decode(), private_pem.decode()
