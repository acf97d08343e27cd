"""Cases (办件): data instead of paper.

An applicant chooses a service; the platform says which materials it will fetch and from whom, lets them
preview exactly what will be used, and on their consent fetches each through a grant issued for this case
alone (``sharing.casegrants``). What cannot be fetched (an upload material, a source with no record — which
becomes the source department's data-quality problem) they upload. The responsible department's caseworker
reads the fetched data under the case's grants, asks co-handling departments in parallel, and decides;
closing the case ends its grants, and a finished case writes its savings to the ledger in the same
transaction. Withdrawn consent ends the grants at once: what was fetched must then be uploaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import (
    M_,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooManyAttempts,
    ZhongtaiError,
)
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE
from zhongtai.core.uploads import check_file
from zhongtai.governance import service as governance
from zhongtai.licences import service as licences
from zhongtai.services.lifecycle import TRANSITIONS
from zhongtai.services.models import (
    CLOSED,
    ApplicantKind,
    Case,
    CaseEvent,
    CaseMaterial,
    CaseStatus,
    KeyFrom,
    Material,
    MaterialOutcome,
    MaterialSource,
    Review,
    ServiceItem,
)
from zhongtai.services.repository import ServicesRepository
from zhongtai.services.service import get_item, provider_of
from zhongtai.sharing import casegrants
from zhongtai.sharing.lifecycle import add_working_days

CASES_PER_DAY = 20  # per person filing: each start previews their data (an audited read)
MAX_OPEN_DAYS = 90  # a case's grant ends then at the latest, even if the case is still open
MAX_FILE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Applicant:
    """Whose case it is (their data is fetched) and who files it (themselves or a household member)."""

    kind: ApplicantKind
    subject: str
    name: str
    key: str  # ID number or credit code: the value that finds their records
    filed_by: str


@dataclass
class Preview:
    """One material as the applicant previews it: what will be fetched, from whom, or why not."""

    material: Material
    provider: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    note: str = ""


# Opening -------------------------------------------------------------------------------------------
def start(
    session: Session,
    settings: Settings,
    applicant: Applicant,
    code: str,
    fields: dict[str, str],
    now: datetime,
) -> Case:
    """A draft case: nothing fetched until the applicant consents."""
    item = get_item(session, code)
    if not item.active:
        raise Conflict(
            M_("service %(code)s is not offered at the moment", code=code), code="service_inactive"
        )
    if item.applicant_kind is not applicant.kind:
        raise Forbidden(
            M_("service %(code)s is for %(kind)s applicants", code=code, kind=item.applicant_kind.value),
            code="wrong_applicant",
        )
    repo = ServicesRepository(session)
    if repo.cases_started_since(applicant.filed_by, now - timedelta(days=1)) >= CASES_PER_DAY:
        raise TooManyAttempts(
            M_("at most %(count)s applications a day; continue one of yours", count=CASES_PER_DAY),
            code="too_many_cases",
        )
    materials = repo.materials(item.id)
    typed = _form_fields(materials, fields)
    prefix = "BJ" + now.astimezone(CITY_ZONE).strftime("%Y%m%d")
    case = Case(
        number=f"{prefix}{repo.next_case_serial(prefix):05d}",
        item_id=item.id,
        department_id=item.department_id,
        applicant_kind=applicant.kind,
        applicant_subject=applicant.subject,
        applicant_name=applicant.name,
        applicant_key_sealed=SecretBox(settings).seal(applicant.key),
        filed_by_subject=applicant.filed_by,
        fields=typed,
        status=CaseStatus.DRAFT,
        created_at=now,
    )
    session.add(case)
    session.flush()
    for material in materials:
        fetched = material.source is not MaterialSource.UPLOAD
        outcome = MaterialOutcome.TO_FETCH if fetched else MaterialOutcome.NEEDED
        session.add(CaseMaterial(case_id=case.id, material_id=material.id, outcome=outcome))
    record_event(session, case, "start", None, "applicant", now)
    return case


def _form_fields(materials: list[Material], fields: dict[str, str]) -> dict[str, str]:
    typed = {}
    for material in materials:
        if material.key_from is KeyFrom.FIELD and material.field_label:
            value = (fields.get(material.field_label) or "").strip()
            if not 1 <= len(value) <= 100:
                raise Invalid(
                    M_("%(label)s is required (at most 100 characters)", label=material.field_label),
                    field=material.field_label,
                )
            typed[material.field_label] = value
    return typed


def record_event(
    session: Session,
    case: Case,
    action: str,
    before: CaseStatus | None,
    actor: str,
    now: datetime,
    comment: str = "",
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            action=action,
            from_status=before,
            to_status=case.status,
            actor=actor,
            comment=comment,
            occurred_at=now,
        )
    )
    session.flush()


def key_of(settings: Settings, case: Case, material: Material) -> tuple[str, str]:
    assert material.key_item is not None
    if material.key_from is KeyFrom.FIELD and material.field_label:
        return material.key_item, case.fields.get(material.field_label, "")
    return material.key_item, SecretBox(settings).open(case.applicant_key_sealed)


def _fetchable(material: Material) -> str:
    """Why a material cannot be fetched (empty when it can)."""
    if material.source is MaterialSource.UPLOAD:
        return "upload|"
    if material.review is not Review.APPROVED:
        return "not_approved|"
    return ""


# The applicant's side --------------------------------------------------------------------------------
def applicant_case(session: Session, subjects: list[str], number: str) -> Case:
    """A case the applicant filed or that is about them (404 for anyone else's)."""
    case = ServicesRepository(session).case(number)
    if case is None or (case.filed_by_subject not in subjects and case.applicant_subject not in subjects):
        raise NotFound(M_("no case %(number)s", number=number), code="case_not_found")
    return case


def preview(session: Session, settings: Settings, case: Case, now: datetime) -> list[Preview]:
    """What each material will be, read for the applicant themselves (recorded as their own access)."""
    repo = ServicesRepository(session)
    shown: list[Preview] = []
    for material in repo.materials(case.item_id):
        entry = Preview(material, provider_of(session, material))
        reason = _fetchable(material)
        if reason:
            entry.note = reason
        elif material.source is MaterialSource.LICENCE:
            _preview_licence(session, case, material, entry, now)
        else:
            assert material.resource_code is not None
            read = casegrants.preview(
                session, material.resource_code, list(material.items), key_of(settings, case, material)
            )
            entry.rows, entry.items = read.rows, read.items
            _own_access(session, case, material.resource_code, read.items, len(read.rows))
            if not read.rows and not material.none_is_answer:
                entry.note = f"no_record|{entry.provider or ''}"
        shown.append(entry)
    return shown


def _preview_licence(session: Session, case: Case, material: Material, entry: Preview, now: datetime) -> None:
    assert material.licence_type is not None
    found = licences.held(
        session, case.applicant_subject, material.licence_type, now.astimezone(CITY_ZONE).date()
    )
    if found is None:
        entry.note = f"no_licence|{material.licence_type}"
        return
    entry.items = ["证照编号", "证照类型", "持证人", "发证机关", "有效期至"]
    valid_to = found.valid_to.isoformat() if found.valid_to else "长期"
    entry.rows = [
        dict(
            zip(
                entry.items,
                [found.number, found.type, licences.shown_name(found), found.issuer, valid_to],
                strict=True,
            )
        )
    ]


def _own_access(session: Session, case: Case, resource: str, items: list[str], count: int) -> None:
    audit.record_access(
        session,
        actor_username="applicant",
        department_code=None,
        event_type="services.case.previewed",
        resource_code=resource,
        items=items,
        record_count=count,
        purpose=f"办件预览 {case.number}",
        grant_id=None,
        target_type="case",
        target_id=case.number,
        subject=case.applicant_subject,
    )


def consent(session: Session, settings: Settings, case: Case, now: datetime) -> None:
    """The applicant consents: each material the platform can fetch is fetched under the case's grant
    (the grants issued first, then read together)."""
    if case.status is not CaseStatus.DRAFT or case.consented_at is not None:
        raise Conflict(
            M_("case %(number)s has been consented to already", number=case.number), code="consented"
        )
    item = ServicesRepository(session).item_by_id(case.item_id)
    actor = department_actor(session, case, item)
    case.consented_at, case.consent_withdrawn_at = now, None
    fetching: list[tuple[CaseMaterial, Material]] = []
    for entry, material in case_materials(session, case):
        if entry.outcome is MaterialOutcome.TO_FETCH and _prepare(
            session, actor, case, item, entry, material, now
        ):
            fetching.append((entry, material))
    wanted = [(entry.grant_id or 0, key_of(settings, case, material)) for entry, material in fetching]
    read = casegrants.read_many(
        session,
        actor,
        case_ref=case.number,
        wanted=wanted,
        subject=case.applicant_subject,
        event="services.case.fetched",
    )
    for entry, material in fetching:
        _fetched(session, item, entry, material, read[entry.grant_id or 0].rows, now)
    record_event(session, case, "consent", CaseStatus.DRAFT, "applicant", now)


def case_materials(session: Session, case: Case) -> list[tuple[CaseMaterial, Material]]:
    repo = ServicesRepository(session)
    materials = {m.id: m for m in repo.materials(case.item_id)}
    return [(entry, materials[entry.material_id]) for entry in repo.case_materials(case.id)]


def department_actor(session: Session, case: Case, item: ServiceItem) -> Principal:
    """The platform fetching on the responsible department's behalf (its caseworkers' rights, no person)."""
    code = ServicesRepository(session).department_names().get(case.department_id, ("?", "?"))[0]
    return Principal(
        user_id=None,
        username=f"service:{item.code}",
        display_name=item.name,
        department_id=case.department_id,
        department_code=code,
        roles=frozenset({Role.CASEWORKER}),
    )


def _prepare(
    session: Session,
    actor: Principal,
    case: Case,
    item: ServiceItem,
    entry: CaseMaterial,
    material: Material,
    now: datetime,
) -> bool:
    """Settle a material that needs no read (an upload, a licence) or issue its grant; True: read it."""
    reason = _fetchable(material)
    if reason:
        _fall_back(entry, reason)
        return False
    if material.source is MaterialSource.LICENCE:
        assert material.licence_type is not None
        found = licences.held(
            session, case.applicant_subject, material.licence_type, now.astimezone(CITY_ZONE).date()
        )
        if found is None:
            _fall_back(entry, f"no_licence|{material.licence_type}")
            return False
        entry.outcome, entry.records, entry.fingerprint = MaterialOutcome.FETCHED, 1, _digest([found.number])
        return False
    try:
        entry_grant(session, actor, case, item, entry, material, now)
    except ZhongtaiError as exc:  # the resource was retired or stopped sharing since the mapping was saved
        _fall_back(entry, f"error|{exc.message}")
        return False
    return True


def _fetched(
    session: Session,
    item: ServiceItem,
    entry: CaseMaterial,
    material: Material,
    rows: list[dict[str, Any]],
    now: datetime,
) -> None:
    """What a read found: the material fetched, or (no record where one should be) an upload and a
    data-quality problem for the source department."""
    if rows or material.none_is_answer:
        entry.outcome, entry.records, entry.fingerprint = MaterialOutcome.FETCHED, len(rows), _digest(rows)
        return
    assert material.resource_code is not None
    _fall_back(entry, f"no_record|{provider_of(session, material) or ''}")
    entry.problem_id = governance.report_service_gap(
        session,
        material.resource_code,
        subject=f"办件取数:{material.key_item}",
        description=f"service {item.code} found no record by {material.key_item} (the applicant uploaded it)",
        now=now,
    )


def entry_grant(
    session: Session,
    actor: Principal,
    case: Case,
    item: ServiceItem,
    entry: CaseMaterial,
    material: Material,
    now: datetime,
) -> int:
    if entry.grant_id is None:
        assert material.resource_code is not None
        ends = datetime.combine(
            now.astimezone(CITY_ZONE).date() + timedelta(days=MAX_OPEN_DAYS), time(), tzinfo=CITY_ZONE
        )
        grant = casegrants.issue(
            session,
            actor,
            case_ref=case.number,
            consumer_department_id=case.department_id,
            resource_code=material.resource_code,
            items=list(material.items),
            purpose=f"{item.name}({item.code})",
            expires_at=ends.astimezone(UTC),
        )
        entry.grant_id = grant.id
    return entry.grant_id


def _fall_back(entry: CaseMaterial, reason: str) -> None:
    """An upload is needed; ``reason`` is ``code|argument`` (the pages say it in the reader's language)."""
    entry.outcome, entry.fallback_reason, entry.records = MaterialOutcome.NEEDED, reason[:300], 0


def _digest(value: Any) -> str:
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def upload(
    session: Session, settings: Settings, case: Case, material_id: int, name: str, data: bytes, now: datetime
) -> CaseMaterial:
    """A file for a material that must be uploaded: a PDF, JPEG or PNG whose content is what its name
    says, at most 10 MB, stored by its hash under the case."""
    if case.status not in (CaseStatus.DRAFT, CaseStatus.RETURNED):
        raise Conflict(
            M_("case %(number)s takes no uploads now", number=case.number), code="not_open_for_uploads"
        )
    entry = next((e for e, m in case_materials(session, case) if m.id == material_id), None)
    if entry is None:
        raise NotFound(M_("this case has no such material"), code="material_not_found")
    if entry.outcome in (MaterialOutcome.FETCHED, MaterialOutcome.TO_FETCH):
        raise Conflict(M_("this material is fetched by the platform; nothing to upload"), code="fetched")
    checked = check_file(name, data, MAX_FILE_BYTES)
    folder = settings.data_dir / "cases" / case.number
    folder.mkdir(parents=True, exist_ok=True)
    (folder / checked.stored_name).write_bytes(data)
    entry.outcome, entry.file_name, entry.file_type = (
        MaterialOutcome.UPLOADED,
        checked.name,
        checked.media_type,
    )
    entry.file_size, entry.file_sha256, entry.uploaded_at = checked.size, checked.sha256, now
    session.flush()
    return entry


def file_path(settings: Settings, case: Case, entry: CaseMaterial) -> Path | None:
    if entry.file_sha256 is None or entry.file_name is None:
        return None
    extension = entry.file_name.rsplit(".", 1)[-1].lower()
    return settings.data_dir / "cases" / case.number / f"{entry.file_sha256}.{extension}"


def submit(session: Session, case: Case, now: datetime) -> None:
    """To the responsible department: consented to (or declined) the fetch, and nothing left to upload."""
    action = "submit" if case.status is CaseStatus.DRAFT else "resubmit"
    check_transition(case, action)
    if case.consented_at is None and case.consent_withdrawn_at is None:
        raise Conflict(
            M_("consent to the fetch first (or decline it and upload everything)"), code="no_consent"
        )
    waiting = (MaterialOutcome.NEEDED, MaterialOutcome.TO_FETCH)
    missing = [m.name for e, m in case_materials(session, case) if e.outcome in waiting]
    if missing:
        raise Conflict(
            M_("still to upload: %(materials)s", materials="、".join(missing)), code="materials_missing"
        )
    before = case.status
    case.status, case.submitted_at = TRANSITIONS[action].target, now
    if case.due_on is None:
        days = ServicesRepository(session).item_by_id(case.item_id).time_limit_days
        case.due_on = add_working_days(now, days).date()
    record_event(session, case, action, before, "applicant", now)


def decline_fetch(session: Session, case: Case, now: datetime) -> None:
    """The applicant declines the fetch (before consenting): every material becomes an upload."""
    if case.status is not CaseStatus.DRAFT or case.consented_at is not None:
        raise Conflict(M_("the fetch has been consented to; withdraw consent instead"), code="consented")
    case.consent_withdrawn_at = now
    for entry, _material in case_materials(session, case):
        if entry.outcome is MaterialOutcome.TO_FETCH:
            _fall_back(entry, "declined|")
    record_event(session, case, "decline_fetch", case.status, "applicant", now)


def withdraw_consent(session: Session, case: Case, now: datetime) -> int:
    """Consent withdrawn: the case's grants end now (no further fetch or read), what was fetched must be
    uploaded, and a case with the department comes back to the applicant. Returns the grants ended."""
    if case.status in CLOSED:
        raise Conflict(M_("case %(number)s is closed", number=case.number), code="case_closed")
    if case.consented_at is None:
        raise Conflict(M_("there is no consent to withdraw"), code="no_consent")
    ended = casegrants.close(session, _applicant_principal(), case.number, "consent withdrawn")
    case.consented_at, case.consent_withdrawn_at = None, now
    for entry, _material in case_materials(session, case):
        if entry.outcome in (MaterialOutcome.FETCHED, MaterialOutcome.TO_FETCH):
            _fall_back(entry, "consent_withdrawn|")
    before = case.status
    if case.status in (CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW):
        case.status = CaseStatus.RETURNED
    record_event(session, case, "withdraw_consent", before, "applicant", now)
    return ended


def withdraw(session: Session, case: Case, now: datetime) -> None:
    if case.status not in TRANSITIONS["withdraw"].sources:
        raise Conflict(
            M_("case %(number)s cannot be withdrawn now", number=case.number), code="not_withdrawable"
        )
    casegrants.close(session, _applicant_principal(), case.number, "case withdrawn")
    before, case.status = case.status, CaseStatus.WITHDRAWN
    record_event(session, case, "withdraw", before, "applicant", now)


def _applicant_principal() -> Principal:
    return Principal(
        user_id=None, username="applicant", display_name="applicant", department_id=None, department_code=None
    )


def check_transition(case: Case, action: str) -> None:
    if case.status not in TRANSITIONS[action].sources:
        raise Conflict(
            M_(
                "case %(number)s is %(status)s; it cannot be %(action)s now",
                number=case.number,
                status=case.status.value,
                action=action,
            ),
            code="wrong_status",
        )
