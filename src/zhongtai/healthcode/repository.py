"""All queries on health code tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.core.bulk import bulk_insert, bulk_upsert, key_list, moment_param, select_rows
from zhongtai.healthcode.models import (
    ColourChange,
    Correction,
    CorrectionStatus,
    EvidenceRow,
    FeedPosition,
    KeyRole,
    PersonColour,
    RuleVersion,
    SigningKey,
)

EVIDENCE_COLUMNS = ("subject", "fact", "at", "department", "record", "value")
COLOUR_COLUMNS = ("subject", "colour", "rule_version", "reasons", "since", "computed_at")
HISTORY_COLUMNS = ("subject", "colour", "previous", "rule_version", "at", "reasons")


class HealthCodeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def root(self) -> SigningKey | None:
        query = select(SigningKey).where(SigningKey.role == KeyRole.ROOT).order_by(SigningKey.id.desc())
        return self.session.scalars(query.limit(1)).first()

    def signers(self) -> list[SigningKey]:
        query = select(SigningKey).where(SigningKey.role == KeyRole.SIGNER).order_by(SigningKey.id)
        return list(self.session.scalars(query))

    def keys_fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever a key is added, retired or replaced (a restored database may reuse ids, not
        kids): what a cached trust is checked against."""
        row = self.session.execute(
            select(
                func.count(),
                func.max(SigningKey.id),
                func.max(SigningKey.kid),
                func.max(SigningKey.retired_at),
            )
        ).one()
        return tuple(row)

    def add(self, key: SigningKey) -> None:
        self.session.add(key)
        self.session.flush()

    # --- colour rules --------------------------------------------------------------------------------

    def latest_rules(self) -> RuleVersion | None:
        return self.session.scalars(select(RuleVersion).order_by(RuleVersion.version.desc()).limit(1)).first()

    def rule_versions(self, limit: int = 20) -> list[RuleVersion]:
        query = select(RuleVersion).order_by(RuleVersion.version.desc()).limit(limit)
        return list(self.session.scalars(query))

    def next_rule_version(self) -> int:
        """Version 1 is the platform's built-in defaults; the first saved rules are version 2."""
        return (self.session.scalar(select(func.max(RuleVersion.version))) or 1) + 1

    # --- evidence and colours, in bulk straight through the driver ----------------------------------

    def add_evidence(self, rows: Sequence[Sequence[Any]]) -> None:
        bulk_insert(self.session.connection(), "healthcode_evidence", EVIDENCE_COLUMNS, rows)

    def subjects_after(self, after: str, limit: int) -> list[str]:
        sql = "SELECT DISTINCT subject FROM healthcode_evidence WHERE subject > ? ORDER BY subject LIMIT ?"
        return [row[0] for row in select_rows(self.session.connection(), sql, (after, limit))]

    def evidence_of(self, subjects: Sequence[str]) -> list[tuple[Any, ...]]:
        connection = self.session.connection()
        sql = (
            "SELECT subject, fact, at, department, record, value FROM healthcode_evidence "
            "WHERE subject IN_KEYS ORDER BY subject, at"
        )
        return select_rows(connection, sql, (key_list(connection, subjects),))

    def colours_of(self, subjects: Sequence[str]) -> dict[str, tuple[int, int, Any, str]]:
        """subject -> (colour, rule version, since, reasons as stored JSON) as stored."""
        connection = self.session.connection()
        sql = (
            "SELECT subject, colour, rule_version, since, reasons FROM healthcode_colours "
            "WHERE subject IN_KEYS"
        )
        found = select_rows(connection, sql, (key_list(connection, subjects),))
        return {s: (c, v, since, str(reasons)) for s, c, v, since, reasons in found}

    def moment(self, value: datetime) -> Any:
        """A moment as the driver takes it in :meth:`write_colours` (stored as-is)."""
        return moment_param(self.session.connection(), value)

    def write_colours(self, colours: Sequence[Sequence[Any]], changes: Sequence[Sequence[Any]]) -> None:
        connection = self.session.connection()
        bulk_upsert(connection, "healthcode_colours", COLOUR_COLUMNS, ("subject",), colours)
        bulk_insert(connection, "healthcode_colour_history", HISTORY_COLUMNS, changes)

    def colour_of(self, subject: str) -> tuple[int, Any] | None:
        """A person's stored colour and since when, or None (no evidence: green)."""
        found = self.session.execute(
            select(PersonColour.colour, PersonColour.since).where(PersonColour.subject == subject)
        ).first()
        return (found[0], found[1]) if found else None

    def stored_colour(self, subject: str) -> PersonColour | None:
        return self.session.get(PersonColour, subject)

    def history_of(self, subject: str, limit: int = 20) -> list[ColourChange]:
        query = (
            select(ColourChange)
            .where(ColourChange.subject == subject)
            .order_by(ColourChange.at.desc(), ColourChange.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def feed_position(self, name: str) -> str | None:
        found = self.session.get(FeedPosition, name)
        return found.position if found else None

    def set_feed_position(self, name: str, position: str, at: datetime) -> None:
        found = self.session.get(FeedPosition, name)
        if found is None:
            self.session.add(FeedPosition(name=name, position=position, updated_at=at))
        else:
            found.position, found.updated_at = position, at
        self.session.flush()

    def withdrawn(self, subjects: Sequence[str]) -> set[tuple[str, str]]:
        """(subject, record) pairs a correction found wrong: a feed must not record them again."""
        if not subjects:
            return set()
        query = select(Correction.subject, Correction.record).where(
            Correction.subject.in_(sorted(set(subjects))), Correction.status == CorrectionStatus.UPHELD
        )
        return {(subject, record) for subject, record in self.session.execute(query)}

    def recorded(self, subjects: Sequence[str], fact: str) -> set[tuple[str, str]]:
        """(subject, record) pairs of ``fact`` already on record for these persons."""
        if not subjects:
            return set()
        query = select(EvidenceRow.subject, EvidenceRow.record).where(
            EvidenceRow.subject.in_(sorted(set(subjects))), EvidenceRow.fact == fact
        )
        return {(subject, record) for subject, record in self.session.execute(query)}
