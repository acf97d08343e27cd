"""复工复产申报 and 一企一码: an enterprise applies to resume work — its site, its prevention measures, its
attachments and its employees (imported from its own social insurance records through the platform's
``social.insured`` capability, or a CSV or XLSX list whose every name and ID number is checked against the
population base) — with no paper and no visit. Its regulator (``healthcode_regulator``, or the government of
the site's district when ``healthcode_regulator_by_district``) approves, returns for changes or refuses with
reasons within a deadline of working days, and may suspend a resumed enterprise. The enterprise's code is
signed like a person code (type enterprise): red when refused, suspended or a confirmed case is among its
employees; yellow while the application is pending or returned, without one, or while an employee's code is
yellow or red; green when approved and no employee is red. The enterprise sees its employees' colours as
counts only (suppressed).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from zhongtai.core import audit
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.pseudonym import person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.suppression import Table, suppress
from zhongtai.core.uploads import CheckedFile, check_file
from zhongtai.healthcode import service as signing
from zhongtai.healthcode.divisions import district_of, districts
from zhongtai.healthcode.envelope import AK_CLAIM, EXP, IAT, ISS
from zhongtai.healthcode.models import (
    EvidenceRow,
    PersonColour,
    Resumption,
    ResumptionEmployee,
    ResumptionStatus,
)
from zhongtai.healthcode.rules import Colour, Fact
from zhongtai.healthcode.trail import person_access
from zhongtai.orgs.models import Department, DepartmentKind
from zhongtai.sharing.lifecycle import add_working_days
from zhongtai.sharing.masking import mask_id_number, mask_name

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 3
MAX_EMPLOYEES = 5_000
PURPOSE = "epidemic.resumption"
FROM_UPLOAD, FROM_SOCIAL_INSURANCE = "upload", "social_insurance"
DEADLINE_DAYS = 3  # working days for the regulator to decide
ID_HEADERS = ("公民身份号码", "身份证号", "身份证号码")
NAME_HEADERS = ("姓名",)


@dataclass(frozen=True, slots=True)
class Listed:
    line: int
    id_number: str
    name: str


def read_employees(filename: str, data: bytes) -> list[Listed]:
    """The employees of a CSV (UTF-8 or GBK) or XLSX list with the columns 姓名 and 身份证号: each ID number
    well formed, none listed twice — or a 422 naming the line."""
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(M_("an employee list is at most 2 MB"), field="employees")
    kind = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if kind == "xlsx":
        if not data.startswith(b"PK\x03\x04"):
            raise Invalid(M_("%(name)s is not an XLSX file", name=filename[:80]), field="employees")
        rows = _xlsx_rows(data)
    elif kind == "csv":
        rows = _csv_rows(data)
    else:
        raise Invalid(M_("upload the employee list as CSV or XLSX"), field="employees")
    return _employees(rows)


def _csv_rows(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return [row for row in csv.reader(io.StringIO(data.decode(encoding)))]
        except UnicodeDecodeError:
            continue
    raise Invalid(M_("the employee list is neither UTF-8 nor GBK text"), field="employees")


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise Invalid(M_("the XLSX file cannot be read"), field="employees") from exc
    sheet = book.worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def _employees(rows: list[list[str]]) -> list[Listed]:
    if not rows:
        raise Invalid(M_("the employee list is empty"), field="employees")
    header = [cell.strip() for cell in rows[0]]
    id_col = next((i for i, h in enumerate(header) if h in ID_HEADERS), None)
    name_col = next((i for i, h in enumerate(header) if h in NAME_HEADERS), None)
    if id_col is None or name_col is None:
        raise Invalid(M_("the first row must name the columns 姓名 and 身份证号"), field="employees")
    found: list[Listed] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        number = ric.compact(row[id_col] if id_col < len(row) else "").upper()
        name = (row[name_col] if name_col < len(row) else "").strip()
        if not ric.is_valid(number) or not name:
            raise Invalid(M_("line %(line)s: not a name and a valid ID number", line=line), field="employees")
        if number in seen:
            raise Invalid(
                M_("line %(line)s lists the same person as line %(first)s", line=line, first=seen[number]),
                field="employees",
            )
        seen[number] = line
        found.append(Listed(line, number, name))
    if not found or len(found) > MAX_EMPLOYEES:
        raise Invalid(M_("list 1 to %(max)s employees", max=MAX_EMPLOYEES), field="employees")
    return found


def from_insured(records: list[tuple[str, str]]) -> list[Listed]:
    """The employees the social insurance base lists for the enterprise (governed data: each ID number is
    canonical; a record without a valid one is skipped, a person insured twice listed once)."""
    found: dict[str, Listed] = {}
    for line, (name, number) in enumerate(records, start=1):
        number = ric.compact(number).upper()
        if ric.is_valid(number) and name.strip() and number not in found:
            found[number] = Listed(line, number, name.strip())
    if not found:
        raise Invalid(
            M_("the social insurance base lists no insured employees of this enterprise; upload a list"),
            field="employees",
            code="no_insured_employees",
        )
    if len(found) > MAX_EMPLOYEES:
        raise Invalid(M_("list 1 to %(max)s employees", max=MAX_EMPLOYEES), field="employees")
    return list(found.values())


def check_attachments(files: list[tuple[str, bytes]]) -> list[tuple[CheckedFile, bytes]]:
    """Up to three PDF, JPEG or PNG files of at most 5 MB each, each what its name says."""
    if len(files) > MAX_ATTACHMENTS:
        raise Invalid(M_("attach at most %(max)s files", max=MAX_ATTACHMENTS), field="attachments")
    return [(check_file(name, data, MAX_ATTACHMENT_BYTES, "attachments"), data) for name, data in files]


def regulator_for(session: Session, settings: Settings, site: str) -> tuple[str, str | None]:
    """Who decides (a department code) and the site's district (GB/T 2260), if its address names one."""
    known = districts(settings.city_division)
    district = district_of(site, known)
    code = district if district in known else None
    if code is not None and settings.healthcode_regulator_by_district:
        government = district_government(session, known[code])
        if government is not None:
            return government, code
    return settings.healthcode_regulator, code


def district_government(session: Session, district_name: str) -> str | None:
    """The city's department governing a district: a district-level department named after it."""
    query = select(Department.code).where(
        Department.kind == DepartmentKind.DISTRICT,
        Department.parent_id.is_(None),
        Department.name.startswith(district_name),
    )
    return session.scalars(query.order_by(Department.code).limit(1)).first()


def apply(
    session: Session,
    settings: Settings,
    enterprise: tuple[str, str],
    site: str,
    street: str,
    measures: str,
    employees: list[Listed],
    now: datetime,
    source: str = FROM_UPLOAD,
    attachments: list[tuple[CheckedFile, bytes]] | None = None,
) -> Resumption:
    """The application, sent to the regulator (the employees already checked against the register, the
    attachments by :func:`check_attachments`)."""
    subject, name = enterprise
    if not 2 <= len(site.strip()) <= 200:
        raise Invalid(M_("give the site's address (at most 200 characters)"), field="site")
    if len(street.strip()) > 60:
        raise Invalid(M_("a street is at most 60 characters"), field="street")
    if not 10 <= len(measures.strip()) <= 2000:
        raise Invalid(M_("describe the prevention measures in 10 to 2,000 characters"), field="measures")
    current = latest(session, subject)
    if current is not None and current.status is ResumptionStatus.SUBMITTED:
        raise Conflict(M_("an application is with the regulator already"), code="pending")
    subjects = {person_subject(settings, e.id_number): e for e in employees}
    elsewhere = _listed_elsewhere(session, subject, list(subjects))
    if elsewhere:
        line = min(subjects[s].line for s in elsewhere)
        raise Invalid(
            M_("line %(line)s: this person is listed by another enterprise", line=line), field="employees"
        )
    serial = session.scalar(select(func.count()).select_from(Resumption)) or 0
    regulator, district = regulator_for(session, settings, site)
    files = attachments or []
    application = Resumption(
        number=f"FG{now.astimezone(settings.zone):%Y%m%d}{serial + 1:05d}",
        enterprise=subject,
        name=name,
        site=site.strip(),
        measures=measures.strip(),
        regulator=regulator,
        district=district,
        street=street.strip(),
        source=source,
        attachments=[
            {"name": f.name, "type": f.media_type, "size": f.size, "sha256": f.sha256} for f, _ in files
        ],
        submitted_at=now,
        due_on=add_working_days(now, DEADLINE_DAYS).date(),
    )
    session.add(application)
    session.flush()
    session.add_all(
        ResumptionEmployee(
            resumption_id=application.id,
            subject=s,
            label=f"{mask_name(e.name)} {mask_id_number(e.id_number)}"[:64],
        )
        for s, e in subjects.items()
    )
    session.flush()
    for employee in subjects:  # each person sees on "who used my data" that an employer listed them
        person_access(
            session,
            actor=subject,
            event="healthcode.resumption.employee_listed",
            subject=employee,
            target=("resumption", application.number),
            items=["姓名", "公民身份号码"],
            purpose=PURPOSE,
            detail={"source": source},
        )
    _store_files(settings, application.number, files)
    audit.record(
        session,
        Principal(None, subject, name, None, None),
        "healthcode.resumption.submitted",
        "resumption",
        application.number,
        {"employees": len(subjects), "regulator": regulator, "source": source, "files": len(files)},
    )
    return application


def _store_files(settings: Settings, number: str, files: list[tuple[CheckedFile, bytes]]) -> None:
    folder = settings.data_dir / "resumptions" / number
    for checked, data in files:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / checked.stored_name).write_bytes(data)


def attachment_path(settings: Settings, application: Resumption, sha256: str) -> tuple[Path, str, str]:
    """The stored file of one attachment (its path, name and media type), or 404."""
    for entry in application.attachments:
        if entry.get("sha256") == sha256:
            extension = str(entry["name"]).rsplit(".", 1)[-1].lower()
            path = settings.data_dir / "resumptions" / application.number / f"{sha256}.{extension}"
            if path.is_file():
                return path, str(entry["name"]), str(entry["type"])
    raise NotFound(M_("no such attachment"), code="attachment_not_found")


def _listed_elsewhere(session: Session, enterprise: str, subjects: list[str]) -> set[str]:
    """Employees on another enterprise's pending or approved application."""
    if not subjects:
        return set()
    query = (
        select(ResumptionEmployee.subject)
        .join(Resumption, Resumption.id == ResumptionEmployee.resumption_id)
        .where(
            ResumptionEmployee.subject.in_(subjects),
            Resumption.enterprise != enterprise,
            Resumption.status.in_([ResumptionStatus.SUBMITTED, ResumptionStatus.APPROVED]),
        )
    )
    return set(session.scalars(query))


def latest(session: Session, enterprise: str) -> Resumption | None:
    query = select(Resumption).where(Resumption.enterprise == enterprise).order_by(Resumption.id.desc())
    return session.scalars(query.limit(1)).first()


def may_decide(actor: Principal, settings: Settings) -> bool:
    """Staff who may decide applications at all: officers, reviewers and caseworkers of a regulator (the
    market regulator, or a district's government when applications go by district)."""
    regulator = actor.department_code == settings.healthcode_regulator or (
        settings.healthcode_regulator_by_district and actor.department_code is not None
    )
    return regulator and actor.has(Role.OFFICER, Role.REVIEWER, Role.CASEWORKER)


def queue(session: Session, settings: Settings, actor: Principal) -> list[Resumption]:
    """The applications sent to the actor's department, newest first."""
    if not may_decide(actor, settings):
        raise Forbidden(M_("only the regulator decides resumption applications"), code="forbidden")
    query = select(Resumption).where(Resumption.regulator == actor.department_code)
    return list(session.scalars(query.order_by(Resumption.id.desc()).limit(200)))


def visible_application(session: Session, settings: Settings, actor: Principal, number: str) -> Resumption:
    """An application its regulator may act on; another department's is refused (403)."""
    if not may_decide(actor, settings):
        raise Forbidden(M_("only the regulator decides resumption applications"), code="forbidden")
    application = session.scalars(select(Resumption).where(Resumption.number == number)).first()
    if application is None:
        raise NotFound(M_("no application %(number)s", number=number), code="not_found")
    if application.regulator != actor.department_code:
        raise Forbidden(
            M_("application %(number)s is outside your department's area", number=number),
            code="outside_area",
        )
    return application


# What each decision does: from which status, to which, and whether it needs reasons.
ACTIONS: dict[str, tuple[ResumptionStatus, ResumptionStatus, bool]] = {
    "approve": (ResumptionStatus.SUBMITTED, ResumptionStatus.APPROVED, False),
    "return": (ResumptionStatus.SUBMITTED, ResumptionStatus.RETURNED, True),
    "refuse": (ResumptionStatus.SUBMITTED, ResumptionStatus.REFUSED, True),
    "suspend": (ResumptionStatus.APPROVED, ResumptionStatus.SUSPENDED, True),
    "reinstate": (ResumptionStatus.SUSPENDED, ResumptionStatus.APPROVED, True),
}


def decide(
    session: Session,
    settings: Settings,
    actor: Principal,
    number: str,
    action: str,
    reason: str,
    now: datetime,
) -> Resumption:
    application = visible_application(session, settings, actor, number)
    if action not in ACTIONS:
        raise Invalid(M_("approve, return, refuse, suspend or reinstate"), field="action")
    before, target, needs_reason = ACTIONS[action]
    if application.status is not before:
        raise Conflict(
            M_("application %(number)s cannot take this decision in its present state", number=number),
            code="wrong_status",
        )
    if needs_reason and len(reason.strip()) < 2:
        raise Invalid(M_("give the enterprise the reasons"), field="reason")
    application.status, application.reason = target, reason.strip()
    application.decided_by, application.decided_at = actor.username, now
    session.flush()
    audit.record(
        session, actor, f"healthcode.resumption.{action}", "resumption", number, {"reason": reason[:200]}
    )
    return application


# The enterprise's code ----------------------------------------------------------------------------------
def employees_of(session: Session, application: Resumption) -> list[str]:
    query = select(ResumptionEmployee.subject).where(ResumptionEmployee.resumption_id == application.id)
    return list(session.scalars(query))


def colour_counts(session: Session, application: Resumption) -> Table:
    """The employees by their code's colour — counts only, suppressed (no 1–9 shown)."""
    subjects = employees_of(session, application)
    stored = dict(
        session.execute(
            select(PersonColour.subject, PersonColour.colour).where(PersonColour.subject.in_(subjects))
        ).all()
    )
    counts: dict[tuple[str, str], int] = {}
    for subject in subjects:
        label = Colour(int(stored.get(subject, 0))).label
        counts[("employees", label)] = counts.get(("employees", label), 0) + 1
    return suppress(counts, ["employees"], [c.label for c in Colour])


def enterprise_colour(session: Session, enterprise: str) -> tuple[Colour, list[str]]:
    """The enterprise's colour and its reasons (catalog keys ``hc.ent.<reason>``)."""
    application = latest(session, enterprise)
    if application is None:
        return Colour.YELLOW, ["no_application"]
    subjects = employees_of(session, application)
    cases = session.scalar(
        select(func.count()).where(
            EvidenceRow.subject.in_(subjects), EvidenceRow.fact == Fact.POSITIVE_TEST.value
        )
    )
    colours = set(session.scalars(select(PersonColour.colour).where(PersonColour.subject.in_(subjects))))
    reasons = []
    if application.status in (ResumptionStatus.REFUSED, ResumptionStatus.SUSPENDED):
        reasons.append(application.status.value)
    if cases:
        reasons.append("case_among_employees")
    if reasons:
        return Colour.RED, reasons
    if application.status in (ResumptionStatus.SUBMITTED, ResumptionStatus.RETURNED):
        reasons.append(application.status.value)
    if colours & {int(Colour.YELLOW), int(Colour.RED)}:
        reasons.append("employees_not_green")
    return (Colour.YELLOW, reasons) if reasons else (Colour.GREEN, ["approved"])


def code_text(
    session: Session, settings: Settings, enterprise: tuple[str, str, str], now: datetime
) -> tuple[str, Colour, list[str]]:
    """The enterprise's code, signed like a person code (type enterprise), valid for minutes."""
    subject, name, credit = enterprise
    colour, reasons = enterprise_colour(session, subject)
    claims: dict[int, Any] = {
        ISS: settings.healthcode_issuer,
        IAT: int(now.timestamp()),
        EXP: int((now + timedelta(minutes=settings.healthcode_person_minutes)).timestamp()),
        AK_CLAIM: {"t": "enterprise", "c": colour.label, "n": name, "u": credit},
    }
    return signing.issue(session, settings, claims, now), colour, reasons
