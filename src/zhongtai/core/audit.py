"""The audit trail: every administrative change and every data access, append-only and hash-chained.

Two chains, because their retention differs: ``admin`` (changes, approvals, grants: kept ≥ 3 years) and
``access`` (each time data leaves the platform: kept ≥ 6 months). Services call :func:`record` or
:func:`record_access` inside their transaction; the entries are chained just before that transaction
commits (the chain head row is locked only for that moment), so a rolled-back change leaves no entry,
a committed one always has one, and if the entry cannot be written the commit fails — data access
fails closed because the caller only answers after its commit.

Each entry's hash covers its fields and the previous entry's hash. Periodic checkpoints (chain, seq,
hash) signed with an Ed25519 key are appended to a file outside the database, so rewriting the tail of
the chain and re-chaining it is caught too (:mod:`zhongtai.core.audit_verify`). Entries never hold raw
personal data: callers pass codes, counts and item names, not values.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Connection,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    event,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from zhongtai.core.bulk import as_json, bulk_insert, driver_sql
from zhongtai.core.context import current_request_id
from zhongtai.core.database import Base
from zhongtai.core.errors import M_, Unavailable
from zhongtai.core.principal import Principal
from zhongtai.core.types import UTCDateTime, plain_json, utcnow

ADMIN = "admin"
ACCESS = "access"
CHAINS = (ADMIN, ACCESS)
GENESIS = "0" * 64
_PENDING = "zhongtai.audit.pending"


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(8), default=ADMIN)
    seq: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_username: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    # No index on event_type (searched only by a prefix LIKE, which a B-tree here cannot seek) nor on
    # target_id (never searched): every entry would pay for them (migration 0024).
    event_type: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(48))
    target_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Data access only: through which app, for what purpose, under which grant, what and how much.
    app: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(200))
    grant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    resource_code: Mapped[str | None] = mapped_column(String(32), index=True)
    items: Mapped[list[str] | None] = mapped_column(JSON)
    record_count: Mapped[int | None] = mapped_column(Integer)
    # Whose personal data an access read: the person's pseudonymous subject id (``core.pseudonym``), so
    # "who used my data" finds a person's entries by this index and the trail never holds the ID number.
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last entry of each chain; locked while a transaction appends, so appends are serial."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(8), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    # The last entry removed by the retention purge: verification starts after it.
    anchor_seq: Mapped[int] = mapped_column(Integer, default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


HASHED_FIELDS = (
    "chain",
    "seq",
    "occurred_at",
    "actor_user_id",
    "actor_username",
    "department_code",
    "event_type",
    "target_type",
    "target_id",
    "outcome",
    "changes",
    "request_id",
    "app",
    "purpose",
    "grant_id",
    "resource_code",
    "items",
    "record_count",
)


# The canonical form is the stdlib's (one encoder for every entry: json.dumps with options builds a new one
# per call). orjson writes the same bytes for values of plain JSON types only, ten times faster; anything
# else (floats, which it spells differently; enums, dates and other objects, which the stdlib writes as
# str(); keys that are not text; integers beyond 64 bits) is left to the stdlib.
_canonical_json = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
).encode


def canonical_bytes(value: Any) -> bytes:
    """``value`` as the stdlib's sorted, compact JSON, UTF-8 encoded."""
    if plain_json(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # an integer beyond 64 bits, a lone surrogate, a key that is not text
            pass
    return _canonical_json(value).encode()


def entry_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 over the previous hash and the entry's fields in a canonical JSON form. The subject (added
    later) is covered when an entry has one, so entries written before it keep their hashes."""
    values = [
        value.astimezone(UTC).isoformat(timespec="microseconds") if isinstance(value, datetime) else value
        for value in map(fields.get, HASHED_FIELDS)
    ]
    if fields.get("subject") is not None:
        values.append(["subject", fields["subject"]])
    return hashlib.sha256(canonical_bytes([prev_hash, values])).hexdigest()


def hash_of(entry: AuditEvent) -> str:
    fields = {name: getattr(entry, name) for name in (*HASHED_FIELDS, "subject")}
    return entry_hash(fields, entry.prev_hash)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Field-by-field ``{"field": [old, new]}`` for the fields that changed."""
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}


def record(
    session: Session,
    actor: Principal | None,
    event_type: str,
    target_type: str,
    target_id: str,
    changes: dict[str, Any] | None = None,
    outcome: str = "success",
) -> AuditEvent:
    """An administrative change, chained when the session commits."""
    return _append(
        session,
        AuditEvent(
            chain=ADMIN,
            actor_user_id=actor.user_id if actor and actor.user_id else None,
            actor_username=actor.username if actor else "system",
            department_code=actor.department_code if actor else None,
            event_type=event_type,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            changes=changes or {},
        ),
    )


def record_access(
    session: Session,
    *,
    actor_username: str,
    department_code: str | None,
    event_type: str,
    resource_code: str,
    items: list[str],
    record_count: int,
    purpose: str,
    grant_id: int | None,
    outcome: str = "success",
    actor_user_id: int | None = None,
    app: str | None = None,
    target_type: str = "grant",
    target_id: str | None = None,
    detail: dict[str, Any] | None = None,
    subject: str | None = None,
) -> AuditEvent:
    """One data access (whatever its outcome), chained when the session commits. ``detail`` holds
    codes and reasons only — never a value of the data itself; ``subject`` names whose data it was."""
    return _append(
        session,
        AuditEvent(
            chain=ACCESS,
            actor_user_id=actor_user_id,
            actor_username=actor_username,
            department_code=department_code,
            event_type=event_type,
            target_type=target_type,
            target_id=target_id or (str(grant_id) if grant_id else resource_code),
            outcome=outcome,
            changes=detail or {},
            app=app,
            purpose=purpose[:200],
            grant_id=grant_id,
            resource_code=resource_code,
            items=list(items),
            record_count=record_count,
            subject=subject,
        ),
    )


ACCESS_COLUMNS = (*HASHED_FIELDS, "subject", "prev_hash", "hash")
HEAD_SQL = (  # lock the head (a no-op UPDATE, as seal() does), read it, move it
    "UPDATE audit_chain_heads SET seq = seq WHERE chain = ?",
    "SELECT seq, hash FROM audit_chain_heads WHERE chain = ?",
    "UPDATE audit_chain_heads SET seq = ?, hash = ? WHERE chain = ?",
)
# The rows of chained_access_rows inserted by a driver's executemany (``?``: sqlite3's placeholders).
ACCESS_INSERT = (
    f"INSERT INTO {AuditEvent.__tablename__} ({', '.join(ACCESS_COLUMNS)}) "  # noqa: S608 - constants only
    f"VALUES ({', '.join('?' for _ in ACCESS_COLUMNS)})"
)


def chained_access_rows(entries: list[dict[str, Any]], seq: int, prev: str) -> list[list[Any]]:
    """The rows (in :data:`ACCESS_COLUMNS` order, JSON as text) of access entries chained after the head
    ``(seq, prev)``: the same chain and hashes as :func:`seal`. The new head is the last row's seq and
    hash."""
    rows = []
    for entry in entries:
        seq += 1
        fields = {name: entry.get(name) for name in (*HASHED_FIELDS, "subject")}
        fields.update(chain=ACCESS, seq=seq)
        digest = entry_hash(fields, prev)
        fields.update(changes=as_json(fields["changes"]), items=as_json(fields["items"]))
        rows.append([*fields.values(), prev, digest])
        prev = digest
    return rows


def head_after(rows: list[list[Any]]) -> tuple[int, str, str]:
    """The parameters of ``HEAD_SQL``'s move once ``rows`` (of :func:`chained_access_rows`) are in."""
    return rows[-1][_SEQ], rows[-1][-1], ACCESS


_SEQ = ACCESS_COLUMNS.index("seq")


def append_access(connection: Connection, entries: list[dict[str, Any]]) -> None:
    """Chain and insert many access entries in the caller's transaction, without ORM objects.

    For the gateway, which records one entry per call in groups: the same chain and hashes as
    :func:`seal` (the head locked by the same no-op UPDATE first), every statement sent by the driver
    itself (SQLAlchemy's statement handling took a third of an entry's time).
    Each entry is a dict of the access fields of :func:`record_access` (``changes`` as the detail).
    """
    if not entries:
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    lock, read, move = (driver_sql(connection, sql) for sql in HEAD_SQL)
    driver.execute(lock, (ACCESS,))
    seq, prev = driver.execute(read, (ACCESS,)).fetchone()
    rows = chained_access_rows(entries, seq, prev)
    bulk_insert(connection, AuditEvent.__tablename__, ACCESS_COLUMNS, rows)
    driver.execute(move, head_after(rows))


def _append(session: Session, entry: AuditEvent) -> AuditEvent:
    entry.occurred_at = utcnow()
    entry.request_id = current_request_id()
    session.info.setdefault(_PENDING, []).append(entry)
    return entry


def pending(session: Session) -> list[AuditEvent]:
    """Entries recorded in this transaction and not yet committed."""
    entries: list[AuditEvent] = session.info.get(_PENDING, [])
    return entries


def seal(session: Session) -> None:
    """Chain and insert this transaction's entries (called just before commit)."""
    entries: list[AuditEvent] = session.info.pop(_PENDING, [])
    for chain in CHAINS:
        mine = [entry for entry in entries if entry.chain == chain]
        if not mine:
            continue
        head = locked_head(session, chain)
        for entry in mine:
            entry.seq = head.seq + 1
            entry.prev_hash = head.hash
            entry.hash = hash_of(entry)
            head.seq, head.hash = entry.seq, entry.hash
        session.add_all(mine)
    if entries:
        session.flush()


def locked_head(session: Session, chain: str) -> AuditChainHead:
    """The chain's head, locked for this transaction and read fresh. A no-op UPDATE takes the lock
    first: a row lock on PostgreSQL, and on SQLite the database's write lock *before* the head is read,
    so two writers can never both read the same head (SQLite ignores ``FOR UPDATE``)."""
    session.execute(
        update(AuditChainHead).where(AuditChainHead.chain == chain).values(seq=AuditChainHead.seq)
    )
    query = (
        select(AuditChainHead).where(AuditChainHead.chain == chain).execution_options(populate_existing=True)
    )
    return session.scalars(query).one()


@event.listens_for(Session, "before_commit")
def _seal_before_commit(session: Session) -> None:
    if session.info.get(_PENDING):
        try:
            seal(session)
        except SQLAlchemyError as exc:  # no audit entry, no commit: the access or change fails closed
            raise Unavailable(
                M_("the audit trail cannot be written, so nothing was done; try again later"),
                code="audit_unavailable",
            ) from exc


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
