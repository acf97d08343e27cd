"""Audit trail search and export for auditors. An export is itself recorded (admin chain)."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from zhongtai.auditing import repository
from zhongtai.auditing.auth import check_read_audit, may_read_audit
from zhongtai.auditing.schemas import EXPORT_COLUMNS, AuditEntryRead, AuditFilter, AuditPage
from zhongtai.core import audit
from zhongtai.core.audit import AuditEvent
from zhongtai.core.principal import Principal


def search(session: Session, actor: Principal, filters: AuditFilter, offset: int, limit: int) -> AuditPage:
    check_read_audit(actor)
    rows, total = repository.search(session, filters, offset, limit)
    items = [AuditEntryRead.model_validate(row) for row in rows]
    return AuditPage(items=items, total=total, offset=offset, limit=limit)


def recent_for(session: Session, actor: Principal, limit: int = 10) -> list[AuditEvent]:
    """The home page's recent activity: the whole trail's latest for those who read it, else the actor's
    own actions (everyone may see what they did themselves)."""
    mine = None if may_read_audit(actor) else actor.username
    return repository.latest(session, mine, limit)


def export_csv(session: Session, actor: Principal, filters: AuditFilter, folder: Path) -> tuple[Path, int]:
    """The matching entries as a CSV file in ``folder`` (the caller removes it after sending)."""
    check_read_audit(actor)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8-sig", newline="", dir=folder, prefix="audit-", suffix=".csv", delete=False
    ) as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for page in repository.stream(session, filters):
            for row in page:
                entry = AuditEntryRead.model_validate(row).model_dump(mode="json")
                writer.writerow([_cell(entry[name]) for name in EXPORT_COLUMNS])
                count += 1
            session.expunge_all()
    audit.record(
        session,
        actor,
        "audit.exported",
        "audit_trail",
        "-",
        {"filters": filters.model_dump(mode="json", exclude_none=True), "rows": count},
    )
    return Path(handle.name), count


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
