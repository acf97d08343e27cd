"""What the gateway needs to decide a call, held in memory and replaced when it changes.

The hot path must not build ORM objects or read a dozen tables per call, yet revoking a key, a
subscription or a grant must take effect at once on every instance. So every write that touches
anything the gateway caches moves ``gateway_state.version`` in the same transaction (an ``after_flush``
listener, below), and no call's decision stands before that one integer, read after it was decided,
matches its snapshot's (``gateway.app._decide_on_current_state``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.capabilities.models import (
    App,
    AppKey,
    AppStatus,
    AppSubscription,
    Capability,
    CapabilityKind,
    CapabilityStatus,
    GatewayState,
    KeyAlgorithm,
    KeyStatus,
    Operation,
    SubscriptionStatus,
)
from zhongtai.catalog.models import InformationItem, Resource
from zhongtai.core.crypto import SecretBox
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.gateway.validation import compile_schema
from zhongtai.governance.models import BaseKind, BaseSource
from zhongtai.orgs.models import Department
from zhongtai.sharing.masking import Masking, Projection
from zhongtai.sharing.models import DeliveryMode, Grant, GrantStatus, ItemPolicy
from zhongtai.sharing.repository import SharingRepository
from zhongtai.sharing.service import projection

WATCHED = (
    App,
    AppKey,
    AppSubscription,
    Capability,
    Grant,
    ItemPolicy,
    Resource,
    InformationItem,
    BaseSource,
    Department,
)
_BUMPED = "zhongtai.gateway.version_bumped"
VERSION_SQL = text("SELECT version FROM gateway_state WHERE id = 1")


@event.listens_for(Session, "after_flush")
def _bump_on_change(session: Session, _context: Any) -> None:
    if session.info.get(_BUMPED):
        return
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, WATCHED) for obj in changed):
        session.execute(
            update(GatewayState).where(GatewayState.id == 1).values(version=GatewayState.version + 1)
        )
        session.info[_BUMPED] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _reset_bump(session: Session) -> None:
    session.info.pop(_BUMPED, None)


@dataclass(frozen=True, slots=True)
class KeyEntry:
    key_id: str
    app_id: int
    algorithm: KeyAlgorithm
    secret: bytes | None
    public_key: Ed25519PublicKey | None
    # HMAC keyed once (copied per call): keying an HMAC costs more than hashing a signature base
    mac: hmac.HMAC | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.secret is not None and self.mac is None:
            object.__setattr__(self, "mac", hmac.new(self.secret, digestmod=hashlib.sha256))


@dataclass(frozen=True, slots=True)
class AppEntry:
    id: int
    code: str
    department_id: int
    department_code: str
    active: bool


OWN_DATA = 0  # the grant id of a provider reading its own resource (no grant exists)


@dataclass(frozen=True, slots=True)
class GrantEntry:
    id: int
    purpose: str
    expires_at: datetime
    project: Projection


@dataclass(frozen=True, slots=True)
class CapabilityEntry:
    id: int
    code: str
    name: str
    kind: CapabilityKind
    operation: Operation
    status: CapabilityStatus
    provider_department_id: int
    resource_id: int | None
    resource_code: str | None
    items: tuple[str, ...]  # the resource's items, in catalog order
    base: BaseKind | None
    source_id: int | None
    key_item: str | None
    attributes: dict[str, str]  # base attribute -> item
    verify_items: tuple[str, ...]
    upstream_url: str | None
    health_path: str | None
    methods: tuple[str, ...]
    validator: Any  # the compiled request schema, or None
    masked_fields: dict[str, Masking]
    timeout_ms: int
    rate_per_second: int
    daily_quota: int
    breaker_failures: int
    breaker_reset_seconds: int
    # The provider's own apps read its resource without an application (sharing refuses one: "your
    # department provides this resource"): every item, unmasked — it is their own data.
    own_data: Projection | None = None

    @property
    def serving(self) -> bool:
        return self.status in (CapabilityStatus.PUBLISHED, CapabilityStatus.DEPRECATED)


@dataclass
class Snapshot:
    version: int
    keys: dict[str, KeyEntry] = field(default_factory=dict)
    apps: dict[int, AppEntry] = field(default_factory=dict)
    capabilities: dict[str, CapabilityEntry] = field(default_factory=dict)
    subscriptions: dict[tuple[int, int], str] = field(default_factory=dict)  # (app, capability) -> purpose
    grants: dict[tuple[int, int], GrantEntry] = field(default_factory=dict)  # (department, resource)

    def grant_for(self, department_id: int, resource_id: int, now: datetime) -> GrantEntry | None:
        grant = self.grants.get((department_id, resource_id))
        return grant if grant is not None and grant.expires_at > now else None

    def access_for(self, app: AppEntry, capability: CapabilityEntry, now: datetime) -> GrantEntry | None:
        """The app's department's live grant, or its own data when it provides the resource."""
        if app.department_id == capability.provider_department_id and capability.own_data is not None:
            return GrantEntry(OWN_DATA, "own data", now + timedelta(minutes=1), capability.own_data)
        return self.grant_for(app.department_id, capability.resource_id or 0, now)


def current_version(connection: Connection) -> int:
    return int(connection.execute(VERSION_SQL).scalar_one())


class StateCache:
    """The snapshot of this process, reloaded when the version in the database moved."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory = factory
        self.box = SecretBox(settings)
        self.snapshot = Snapshot(version=-1)
        self._lock = threading.Lock()

    def fresh(self, version: int) -> Snapshot:
        snapshot = self.snapshot
        if snapshot.version == version:
            return snapshot
        with self._lock:
            if self.snapshot.version != version:
                self.snapshot = self.load()
            return self.snapshot

    def load(self) -> Snapshot:
        with self.factory() as session:
            version = current_version(session.connection())
            snapshot = Snapshot(version=version)
            snapshot.apps = _apps(session)
            snapshot.keys = {entry.key_id: entry for entry in self._keys(session, snapshot.apps)}
            snapshot.capabilities = {entry.code: entry for entry in _capabilities(session)}
            snapshot.subscriptions = _subscriptions(session)
            snapshot.grants = _grants(session)
            session.rollback()
        return snapshot

    def _keys(self, session: Session, apps: dict[int, AppEntry]) -> list[KeyEntry]:
        query = select(AppKey).where(AppKey.status == KeyStatus.ACTIVE, AppKey.app_id.in_(list(apps)))
        entries = []
        for key in session.scalars(query):
            secret = secret_bytes(self.box.open(key.secret_sealed)) if key.secret_sealed else None
            public = _ed25519(key.public_key) if key.public_key else None
            entries.append(KeyEntry(key.key_id, key.app_id, key.algorithm, secret, public))
        return entries


def secret_bytes(text: str) -> bytes:
    """An HMAC key as clients hold it (base64url text, shown once) -> the 32 bytes both sides sign with."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _ed25519(pem: str) -> Ed25519PublicKey | None:
    loaded = load_pem_public_key(pem.encode())
    return loaded if isinstance(loaded, Ed25519PublicKey) else None


def _apps(session: Session) -> dict[int, AppEntry]:
    query = select(App.id, App.code, App.department_id, Department.code, App.status).join(
        Department, Department.id == App.department_id
    )
    return {
        row[0]: AppEntry(row[0], row[1], row[2], row[3], row[4] is AppStatus.ACTIVE)
        for row in session.execute(query)
    }


def _subscriptions(session: Session) -> dict[tuple[int, int], str]:
    query = select(AppSubscription.app_id, AppSubscription.capability_id, AppSubscription.purpose).where(
        AppSubscription.status == SubscriptionStatus.APPROVED
    )
    return {(row[0], row[1]): row[2] for row in session.execute(query)}


def capability_entries(session: Session) -> list[CapabilityEntry]:
    """Every capability not retired, as the gateway holds them (also what nginx's configuration is made
    from: ``gateway.accel``)."""
    return _capabilities(session)


def _capabilities(session: Session) -> list[CapabilityEntry]:
    query = select(Capability).where(Capability.status != CapabilityStatus.RETIRED)
    repo = SharingRepository(session)
    entries = []
    for capability in session.scalars(query):
        resource = repo.resource_by_id(capability.resource_id) if capability.resource_id else None
        source = _source(session, capability)
        entries.append(
            CapabilityEntry(
                id=capability.id,
                code=capability.code,
                name=capability.name,
                kind=capability.kind,
                operation=capability.operation,
                status=capability.status,
                provider_department_id=capability.provider_department_id,
                resource_id=capability.resource_id,
                resource_code=resource.code if resource else None,
                items=tuple(item.name for item in resource.items) if resource else (),
                base=source.base if source else None,
                source_id=source.id if source else None,
                key_item=capability.key_item,
                attributes=dict(source.attributes) if source else {},
                verify_items=tuple(capability.verify_items),
                upstream_url=capability.upstream_url,
                health_path=capability.health_path,
                methods=tuple(capability.methods),
                validator=compile_schema(capability.request_schema),
                masked_fields={name: Masking(rule) for name, rule in capability.masked_fields.items()},
                timeout_ms=capability.timeout_ms,
                rate_per_second=capability.rate_per_second,
                daily_quota=capability.daily_quota,
                breaker_failures=capability.breaker_failures,
                breaker_reset_seconds=capability.breaker_reset_seconds,
                own_data=Projection([i.name for i in resource.items], {}, [i.name for i in resource.items])
                if resource
                else None,
            )
        )
    return entries


def _source(session: Session, capability: Capability) -> BaseSource | None:
    """The base-database feed of the capability's resource keyed by its key item (lookups go there)."""
    if capability.resource_id is None or capability.key_item is None:
        return None
    query = select(BaseSource).where(
        BaseSource.resource_id == capability.resource_id,
        BaseSource.key_item == capability.key_item,
        BaseSource.enabled.is_(True),
    )
    return session.scalars(query.limit(1)).first()


def _grants(session: Session) -> dict[tuple[int, int], GrantEntry]:
    """The newest live API grant per (consumer department, resource); a case's grant is read only inside
    its case, never through the gateway."""
    query = (
        select(Grant)
        .where(
            Grant.case_ref.is_(None),
            Grant.status == GrantStatus.ACTIVE,
            Grant.mode == DeliveryMode.API,
            Grant.expires_at > utcnow(),
        )
        .order_by(Grant.id)
    )
    found: dict[tuple[int, int], GrantEntry] = {}
    for grant in session.scalars(query):
        found[(grant.consumer_department_id, grant.resource_id)] = GrantEntry(
            grant.id, grant.purpose, grant.expires_at, projection(session, grant)
        )
    return found
