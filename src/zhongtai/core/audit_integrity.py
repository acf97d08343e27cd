"""Proof that the audit trail was not edited: signed checkpoints outside the database, verification of
the hash chains against them, and the retention purge that keeps the chains verifiable.

Checkpoints are lines of ``checkpoints.jsonl`` in ``settings.resolved_audit_dir`` (put it on storage the
database's administrators cannot write): each names a chain's sequence number and hash at that moment and
is signed with an Ed25519 key kept beside it. Whoever rewrites rows and re-chains them cannot make the
chain agree with an earlier checkpoint without the key.

The purge removes an old prefix of a chain and only up to a checkpointed entry, whose (seq, hash)
becomes the chain's anchor: verification starts there, and the anchor must itself be a signed checkpoint.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from zhongtai.core.audit import (
    ACCESS,
    ADMIN,
    CHAINS,
    AuditChainHead,
    AuditEvent,
    hash_of,
    locked_head,
    record,
)
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow

KEY_FILE = "checkpoint-key.pem"
CHECKPOINTS = "checkpoints.jsonl"
PAGE = 5_000


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    seq: int
    hash: str
    at: str

    def message(self) -> bytes:
        return json.dumps([self.chain, self.seq, self.hash, self.at], separators=(",", ":")).encode()


@dataclass(frozen=True)
class Finding:
    chain: str
    seq: int | None
    entry_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"entry seq {self.seq}" if self.seq is not None else "chain"
        if self.entry_id is not None:
            where += f" (id {self.entry_id})"
        return f"{self.chain} {where}: {self.problem}"


@dataclass
class Report:
    checked: dict[str, int]
    checkpoints: int
    first_bad: Finding | None

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def _signing_key(folder: Path) -> Ed25519PrivateKey:
    path = folder / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return key


def checkpoint(session: Session, settings: Settings) -> list[Checkpoint]:
    """Sign each chain's current head and append it to the checkpoint file (skipped when unchanged)."""
    folder = settings.resolved_audit_dir
    key = _signing_key(folder)
    last = {c.chain: c for c, _ in read_checkpoints(folder)}
    written = []
    with (folder / CHECKPOINTS).open("a", encoding="utf-8") as handle:
        for head in session.scalars(select(AuditChainHead).order_by(AuditChainHead.chain)):
            if head.seq == 0 or (head.chain in last and last[head.chain].seq == head.seq):
                continue
            point = Checkpoint(head.chain, head.seq, head.hash, utcnow().isoformat())
            signature = base64.b64encode(key.sign(point.message())).decode()
            handle.write(json.dumps({**point.__dict__, "sig": signature}) + "\n")
            written.append(point)
        handle.flush()
        os.fsync(handle.fileno())
    return written


def read_checkpoints(folder: Path) -> Iterator[tuple[Checkpoint, bool]]:
    """Every checkpoint in the file with whether its signature holds."""
    path = folder / CHECKPOINTS
    if not path.exists():
        return
    public = _signing_key(folder).public_key()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            point = Checkpoint(str(raw["chain"]), int(raw["seq"]), str(raw["hash"]), str(raw["at"]))
            signature = base64.b64decode(raw["sig"])
        except (ValueError, KeyError, TypeError):
            yield Checkpoint("?", -1, "", ""), False
            continue
        yield point, _signed(public, point, signature)


def _signed(public: Ed25519PublicKey, point: Checkpoint, signature: bytes) -> bool:
    try:
        public.verify(signature, point.message())
    except InvalidSignature:
        return False
    return True


def verify(session: Session, settings: Settings) -> Report:
    """Walk both chains from their anchors and hold them against the signed checkpoints; the report
    names the first entry found bad."""
    points = list(read_checkpoints(settings.resolved_audit_dir))
    report = Report(checked={}, checkpoints=len(points), first_bad=None)
    for point, signed in points:
        if not signed:
            report.first_bad = Finding(point.chain, None, None, "a checkpoint's signature does not hold")
            return report
    for chain in CHAINS:
        finding = _verify_chain(session, chain, [p for p, _ in points if p.chain == chain], report)
        if finding is not None:
            report.first_bad = finding
            return report
    return report


def _verify_chain(session: Session, chain: str, points: list[Checkpoint], report: Report) -> Finding | None:
    head = session.get(AuditChainHead, chain)
    if head is None:
        return Finding(chain, None, None, "the chain's head row is missing")
    expected = {p.seq: p.hash for p in points if p.seq > head.anchor_seq}
    if head.anchor_seq and (head.anchor_seq, head.anchor_hash) not in {(p.seq, p.hash) for p in points}:
        return Finding(chain, head.anchor_seq, None, "the purge anchor is not a signed checkpoint")
    seq, previous, count = head.anchor_seq, head.anchor_hash, 0
    for entry in _entries(session, chain, head.anchor_seq):
        seq += 1
        if entry.seq != seq:
            problem = f"entry seq {seq} is missing" if entry.seq > seq else "sequence out of order"
            return Finding(chain, entry.seq, entry.id, problem)
        if entry.prev_hash != previous:
            return Finding(chain, entry.seq, entry.id, "does not link to the entry before it")
        if hash_of(entry) != entry.hash:
            return Finding(chain, entry.seq, entry.id, "its content does not match its hash (edited)")
        if expected.get(entry.seq, entry.hash) != entry.hash:
            return Finding(chain, entry.seq, entry.id, "differs from the signed checkpoint (chain rewritten)")
        previous, count = entry.hash, count + 1
    report.checked[chain] = count
    beyond = [p for p in expected if p > seq]
    if beyond:
        return Finding(
            chain, seq + 1, None, f"entries after seq {seq} are gone (checkpoint at {max(beyond)})"
        )
    if (head.seq, head.hash) != (seq, previous):
        return Finding(chain, seq + 1, None, f"the chain ends at seq {seq} but its head says {head.seq}")
    return None


def _entries(session: Session, chain: str, after: int) -> Iterator[AuditEvent]:
    """The chain in sequence order, a page at a time (it can hold millions of entries)."""
    while True:
        page = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.chain == chain, AuditEvent.seq > after)
                .order_by(AuditEvent.seq)
                .limit(PAGE)
            )
        )
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].seq
        session.expunge_all()


def retention_days(settings: Settings) -> dict[str, int]:
    return {ACCESS: settings.audit_access_days, ADMIN: settings.audit_admin_days}


def purge(session: Session, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Remove entries older than the retention of their chain, up to the last checkpoint whose every
    earlier entry is old enough. Returns entries removed per chain."""
    now = now or utcnow()
    points = [p for p, signed in read_checkpoints(settings.resolved_audit_dir) if signed]
    removed: dict[str, int] = {}
    for chain, days in retention_days(settings).items():
        cutoff = now - timedelta(days=days)
        head = locked_head(session, chain)
        first_young = session.scalar(
            select(func.min(AuditEvent.seq)).where(
                AuditEvent.chain == chain, AuditEvent.occurred_at >= cutoff
            )
        )
        limit = (first_young - 1) if first_young is not None else head.seq
        usable = [p for p in points if p.chain == chain and head.anchor_seq < p.seq <= limit]
        if not usable:
            removed[chain] = 0
            continue
        anchor = max(usable, key=lambda p: p.seq)
        result = session.execute(
            delete(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq <= anchor.seq)
        )
        head.anchor_seq, head.anchor_hash = anchor.seq, anchor.hash
        removed[chain] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        record(
            session,
            None,
            "audit.purged",
            "audit_chain",
            chain,
            {"removed": removed[chain], "anchor": anchor.seq, "cutoff": cutoff.isoformat()},
        )
    return removed
