"""有条件开放: a registered user of the public side (a citizen, or an enterprise by its legal
representative) applies to use a conditionally open dataset with a purpose; an officer or reviewer of the
provider department approves (with a daily quota and a term) or refuses with reasons, within a deadline of
working days. An approved applicant makes an API key scoped to that dataset (shown once, kept as SHA-256);
each call with it is counted against the quota and recorded in the audit trail in the call's own
transaction. The provider (or the bureau) revokes an approval, the holder a key; either ends its use at
once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from zhongtai.catalog.models import Resource
from zhongtai.core import audit
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, NotFound
from zhongtai.core.i18n import N_
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.security import new_token, token_digest
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE
from zhongtai.core.work import WorkItem
from zhongtai.opendata import service
from zhongtai.opendata.models import OpenApiKey, OpenApplication, OpenDataset
from zhongtai.sharing.lifecycle import add_working_days

DEADLINE_DAYS = 5  # working days for the provider to decide
DEFAULT_QUOTA = 1_000  # calls a day
MAX_QUOTA = 1_000_000
DEFAULT_TERM_DAYS = 365
KEY_PREFIX = "ztod"
PURPOSE_LENGTH = (10, 1_000)
SUBMITTED, APPROVED, REFUSED, REVOKED, WITHDRAWN = "submitted", "approved", "refused", "revoked", "withdrawn"
LIVE = (SUBMITTED, APPROVED)


@dataclass(frozen=True)
class Applicant:
    """Who applies: a signed-in citizen or enterprise of the public side."""

    subject: str
    kind: str  # person | enterprise
    name: str

    def principal(self) -> Principal:
        """The applicant as the audit trail names them (their keyed subject, not their ID number)."""
        return Principal(None, self.subject[:64], self.name, None, None)


class KeyRefused(Exception):
    """An API key that may not be used for this call: CKAN's Authorization Error (403), or 429 for a quota
    used up."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _conditional_dataset(session: Session, name: str) -> service.Entry:
    found = service.entry(session, name)
    if found.dataset.access != "conditional":
        raise Invalid(
            M_("dataset %(name)s is open to everyone; no application is needed", name=name[:100]),
            code="not_conditional",
        )
    return found


def apply(session: Session, applicant: Applicant, name: str, purpose: str, now: datetime) -> OpenApplication:
    """An application for a conditionally open dataset, sent to its provider with a deadline."""
    found = _conditional_dataset(session, name)
    purpose = purpose.strip()
    low, high = PURPOSE_LENGTH
    if not low <= len(purpose) <= high:
        raise Invalid(M_("describe the purpose in 10 to 1,000 characters"), field="purpose")
    live = session.scalar(
        select(OpenApplication.number).where(
            OpenApplication.dataset_id == found.dataset.id,
            OpenApplication.applicant == applicant.subject,
            OpenApplication.status.in_(LIVE),
        )
    )
    if live is not None:
        raise Conflict(
            M_("application %(number)s for this dataset is pending or approved already", number=live),
            code="already_applied",
        )
    serial = session.scalar(select(func.count()).select_from(OpenApplication)) or 0
    application = OpenApplication(
        number=f"KF{now.astimezone(CITY_ZONE):%Y%m%d}{serial + 1:05d}",
        dataset_id=found.dataset.id,
        applicant=applicant.subject,
        applicant_kind=applicant.kind,
        applicant_name=applicant.name[:200],
        purpose=purpose,
        status=SUBMITTED,
        reason="",
        daily_quota=DEFAULT_QUOTA,
        submitted_at=now,
        due_at=add_working_days(now, DEADLINE_DAYS),
    )
    session.add(application)
    session.flush()
    audit.record(
        session,
        applicant.principal(),
        "opendata.application.submitted",
        "open_application",
        application.number,
        {"dataset": found.dataset.name, "kind": applicant.kind},
    )
    return application


def withdraw(session: Session, applicant: Applicant, number: str) -> OpenApplication:
    application = mine(session, applicant, number)
    if application.status != SUBMITTED:
        raise Conflict(M_("only a pending application can be withdrawn"), code="wrong_status")
    application.status = WITHDRAWN
    audit.record(
        session, applicant.principal(), "opendata.application.withdrawn", "open_application", number, {}
    )
    return application


def mine(session: Session, applicant: Applicant, number: str) -> OpenApplication:
    """One of the applicant's own applications; anyone else's is as unknown as one that never existed."""
    application = session.scalar(
        select(OpenApplication).where(
            OpenApplication.number == number[:32], OpenApplication.applicant == applicant.subject
        )
    )
    if application is None:
        raise NotFound(M_("no application %(number)s", number=number[:32]), code="application_not_found")
    return application


@dataclass(frozen=True)
class Listed:
    """An application with what a page shows beside it."""

    application: OpenApplication
    dataset: OpenDataset
    provider_department_id: int
    keys: list[OpenApiKey]

    @property
    def live_key(self) -> OpenApiKey | None:
        return next((k for k in self.keys if k.revoked_at is None), None)

    def overdue(self, now: datetime) -> bool:
        due = self.application.due_at
        if due.tzinfo is None:
            due = due.replace(tzinfo=now.tzinfo)
        return self.application.status == SUBMITTED and due < now


def _listed(session: Session, applications: list[OpenApplication]) -> list[Listed]:
    ids = {a.dataset_id for a in applications}
    datasets = {
        d.id: (d, department)
        for d, department in session.execute(
            select(OpenDataset, Resource.provider_department_id)
            .join(Resource, Resource.id == OpenDataset.resource_id)
            .where(OpenDataset.id.in_(ids))
        )
    }
    keys: dict[int, list[OpenApiKey]] = {}
    found_keys = select(OpenApiKey).where(OpenApiKey.application_id.in_([a.id for a in applications]))
    for key in session.scalars(found_keys.order_by(OpenApiKey.id.desc())):
        keys.setdefault(key.application_id, []).append(key)
    return [
        Listed(a, datasets[a.dataset_id][0], datasets[a.dataset_id][1], keys.get(a.id, []))
        for a in applications
    ]


def applications_of(session: Session, applicant: Applicant) -> list[Listed]:
    query = select(OpenApplication).where(OpenApplication.applicant == applicant.subject)
    return _listed(session, list(session.scalars(query.order_by(OpenApplication.id.desc()).limit(200))))


# --- the provider's side --------------------------------------------------------------------------------


def may_decide(actor: Principal, department_id: int) -> bool:
    """The provider department's officers and reviewers decide its datasets' applications."""
    return actor.department_id == department_id and actor.has(Role.OFFICER, Role.REVIEWER)


def may_manage_any(actor: Principal) -> bool:
    """Whether the staff pages of open data (opening resources, applications) are for this user."""
    return actor.sees_all_departments or actor.has(Role.OFFICER, Role.REVIEWER)


def may_see(actor: Principal, department_id: int) -> bool:
    return actor.sees_all_departments or may_decide(actor, department_id)


def may_revoke(actor: Principal, department_id: int) -> bool:
    """The provider, or the bureau's operators (abuse found city-wide)."""
    return actor.is_operator or may_decide(actor, department_id)


def queue(session: Session, actor: Principal, status: str | None = None) -> list[Listed]:
    """Applications for the actor's department's datasets (the bureau and auditors: every department's),
    oldest deadline first."""
    if not (actor.sees_all_departments or actor.has(Role.OFFICER, Role.REVIEWER)):
        raise Forbidden(M_("only the provider department and the bureau see open-data applications"))
    query = select(OpenApplication).join(OpenDataset, OpenDataset.id == OpenApplication.dataset_id)
    if not actor.sees_all_departments:
        query = query.join(Resource, Resource.id == OpenDataset.resource_id).where(
            Resource.provider_department_id == actor.department_id
        )
    if status:
        query = query.where(OpenApplication.status == status[:16])
    query = query.order_by(OpenApplication.status != SUBMITTED, OpenApplication.due_at, OpenApplication.id)
    return _listed(session, list(session.scalars(query.limit(500))))


def pending_for(session: Session, actor: Principal) -> list[WorkItem]:
    """Applications waiting for the actor's decision (the provider department's officers and reviewers),
    each with its deadline."""
    if actor.department_id is None or not actor.has(Role.OFFICER, Role.REVIEWER):
        return []
    return [
        WorkItem(
            N_("home.work.open_application"),
            f"{listed.dataset.title} · {listed.application.applicant_name}",
            f"/open/applications/{listed.application.number}",
            N_("home.do.decide"),
            due=listed.application.due_at,
            reference=listed.application.number,
        )
        for listed in queue(session, actor, SUBMITTED)
        if may_decide(actor, listed.provider_department_id)
    ]


def figures(session: Session) -> dict[str, int]:
    """The home page's open-data figures: datasets the public sees, approved uses of conditional ones."""
    approved = select(func.count()).select_from(OpenApplication).where(OpenApplication.status == APPROVED)
    return {
        "opendata.datasets": len(service.entries(session)),
        "opendata.approved": session.scalar(approved) or 0,
    }


def visible(session: Session, actor: Principal, number: str) -> Listed:
    application = session.scalar(select(OpenApplication).where(OpenApplication.number == number[:32]))
    if application is None:
        raise NotFound(M_("no application %(number)s", number=number[:32]), code="application_not_found")
    listed = _listed(session, [application])[0]
    if not may_see(actor, listed.provider_department_id):
        raise NotFound(M_("no application %(number)s", number=number[:32]), code="application_not_found")
    return listed


def escalate_overdue(session: Session, now: datetime) -> list[str]:
    """Pending applications past their deadline, each recorded once in the audit trail for the bureau (its
    queue shows them first, marked overdue); the provider can still decide them."""
    overdue = session.scalars(
        select(OpenApplication).where(
            OpenApplication.status == SUBMITTED,
            OpenApplication.due_at < now,
            OpenApplication.escalated_at.is_(None),
        )
    ).all()
    for application in overdue:
        application.escalated_at = now
        audit.record(
            session,
            None,
            "opendata.application.escalated",
            "open_application",
            application.number,
            {"due": application.due_at.isoformat()},
        )
    session.flush()
    return [a.number for a in overdue]


def decide(
    session: Session,
    actor: Principal,
    number: str,
    approve: bool,
    reason: str,
    now: datetime,
    daily_quota: int = DEFAULT_QUOTA,
    term_days: int = DEFAULT_TERM_DAYS,
) -> OpenApplication:
    """Approve (with a daily quota and a term) or refuse (with reasons) a pending application."""
    listed = visible(session, actor, number)
    if not may_decide(actor, listed.provider_department_id):
        raise Forbidden(M_("only the provider department's officers and reviewers decide applications"))
    application = listed.application
    if application.status != SUBMITTED:
        raise Conflict(M_("application %(number)s is decided already", number=number), code="wrong_status")
    reason = reason.strip()
    if not approve and len(reason) < 2:
        raise Invalid(M_("give the applicant the reasons"), field="reason")
    if not 1 <= daily_quota <= MAX_QUOTA:
        raise Invalid(M_("a daily quota is 1 to 1,000,000 calls"), field="daily_quota")
    if not 1 <= term_days <= 3 * 365:
        raise Invalid(M_("an approval lasts 1 to 1,095 days"), field="term_days")
    application.status = APPROVED if approve else REFUSED
    application.reason, application.decided_by, application.decided_at = reason, actor.username, now
    if approve:
        application.daily_quota, application.expires_at = daily_quota, now + timedelta(days=term_days)
    session.flush()
    detail: dict[str, Any] = {"dataset": listed.dataset.name, "reason": reason[:200]}
    if approve:
        detail.update(daily_quota=daily_quota, term_days=term_days)
    event = "opendata.application.approved" if approve else "opendata.application.refused"
    audit.record(session, actor, event, "open_application", number, detail)
    return application


def revoke(session: Session, actor: Principal, number: str, reason: str, now: datetime) -> OpenApplication:
    """End an approved use at once: the approval and every key it gave."""
    listed = visible(session, actor, number)
    if not may_revoke(actor, listed.provider_department_id):
        raise Forbidden(M_("only the provider department and the bureau's operators revoke approvals"))
    application = listed.application
    if application.status != APPROVED:
        raise Conflict(M_("only an approved application can be revoked"), code="wrong_status")
    if len(reason.strip()) < 2:
        raise Invalid(M_("give the applicant the reasons"), field="reason")
    application.status, application.reason = REVOKED, reason.strip()
    _revoke_keys(session, application, actor.username, now)
    audit.record(
        session,
        actor,
        "opendata.application.revoked",
        "open_application",
        number,
        {"dataset": listed.dataset.name, "reason": reason[:200]},
    )
    return application


def _revoke_keys(session: Session, application: OpenApplication, by: str, now: datetime) -> int:
    result = session.execute(
        update(OpenApiKey)
        .where(OpenApiKey.application_id == application.id, OpenApiKey.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by[:64], reveal_sealed=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- keys -----------------------------------------------------------------------------------------------


def _usable(application: OpenApplication, now: datetime) -> bool:
    expires = application.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=now.tzinfo)
    return application.status == APPROVED and (expires is None or expires > now)


def issue_key(session: Session, settings: Settings, applicant: Applicant, number: str, now: datetime) -> str:
    """A new API key for an approved application (any earlier key of it stops working); kept as SHA-256,
    and sealed until :func:`reveal_new_keys` shows it to its holder once."""
    application = mine(session, applicant, number)
    if not _usable(application, now):
        raise Conflict(M_("only an approved, unexpired application gives an API key"), code="not_approved")
    replaced = _revoke_keys(session, application, applicant.subject, now)
    key = new_token(KEY_PREFIX)
    session.add(
        OpenApiKey(
            application_id=application.id,
            dataset_id=application.dataset_id,
            digest=token_digest(key),
            prefix=key[: len(KEY_PREFIX) + 7],
            reveal_sealed=SecretBox(settings).seal(key),
            created_at=now,
        )
    )
    session.flush()
    audit.record(
        session,
        applicant.principal(),
        "opendata.key.issued",
        "open_application",
        number,
        {"replaced": replaced},
    )
    return key


def reveal_new_keys(session: Session, settings: Settings, applicant: Applicant) -> dict[str, str]:
    """application number -> its key made since the holder's last look, shown this once (then only its
    SHA-256 is left)."""
    found = session.execute(
        select(OpenApiKey, OpenApplication.number)
        .join(OpenApplication, OpenApplication.id == OpenApiKey.application_id)
        .where(OpenApplication.applicant == applicant.subject, OpenApiKey.reveal_sealed.is_not(None))
    ).all()
    shown: dict[str, str] = {}
    box = SecretBox(settings)
    for api_key, number in found:
        if api_key.revoked_at is None:
            shown[number] = box.open(api_key.reveal_sealed or "")
        api_key.reveal_sealed = None
    session.flush()
    return shown


def revoke_own_key(session: Session, applicant: Applicant, number: str, now: datetime) -> int:
    application = mine(session, applicant, number)
    revoked = _revoke_keys(session, application, applicant.subject, now)
    if revoked:
        audit.record(session, applicant.principal(), "opendata.key.revoked", "open_application", number, {})
    return revoked


def key_from_headers(headers: Any) -> str | None:
    """The API key CKAN clients send: ``Authorization`` (the key itself, or ``Bearer`` and the key) or the
    older ``X-CKAN-API-Key``."""
    raw = headers.get("authorization") or headers.get("x-ckan-api-key") or ""
    raw = raw.strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    return raw[:200] or None


def authorize_key(
    session: Session, key: str, dataset_id: int, now: datetime
) -> tuple[OpenApiKey, OpenApplication]:
    """The key's live approval for this dataset, or :class:`KeyRefused` (before any row is read)."""
    found = session.execute(
        select(OpenApiKey, OpenApplication)
        .join(OpenApplication, OpenApplication.id == OpenApiKey.application_id)
        .where(OpenApiKey.digest == token_digest(key))
    ).first()
    if found is None or found[0].revoked_at is not None:
        raise KeyRefused("the API key is not valid or has been revoked")
    api_key, application = found
    if api_key.dataset_id != dataset_id:
        raise KeyRefused("this API key is for another dataset")
    if not _usable(application, now):
        raise KeyRefused("the approval behind this API key has ended")
    return api_key, application


def use_key(
    session: Session, key: str, dataset_id: int, what: str, now: datetime, rows: int | None = None
) -> None:
    """Let one call of a conditionally open dataset through with ``key``, or raise :class:`KeyRefused`."""
    api_key, application = authorize_key(session, key, dataset_id, now)
    use(session, api_key, application, what, now, rows)


def use(
    session: Session,
    api_key: OpenApiKey | None,
    application: OpenApplication,
    what: str,
    now: datetime,
    rows: int | None = None,
) -> None:
    """One call counted against the application's daily quota — in one conditional update, so no two
    servers can both take the last call — and recorded in the audit trail, both in the call's transaction
    (or :class:`KeyRefused` with 429 when the day's quota is used up)."""
    day = now.astimezone(CITY_ZONE).date().isoformat()
    counted = session.execute(
        update(OpenApplication)
        .where(
            OpenApplication.id == application.id,
            (OpenApplication.day != day) | (OpenApplication.calls < application.daily_quota),
        )
        .values(
            calls=case((OpenApplication.day == day, OpenApplication.calls + 1), else_=1),
            day=day,
        )
        .execution_options(synchronize_session=False)
    )
    if not getattr(counted, "rowcount", 0):
        raise KeyRefused(
            f"the daily quota of {application.daily_quota} calls is used up; it starts again at midnight "
            "Beijing time",
            429,
        )
    if api_key is not None:
        session.execute(
            update(OpenApiKey)
            .where(OpenApiKey.id == api_key.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    detail: dict[str, Any] = {"what": what, "key": api_key.prefix if api_key else "session"}
    if rows is not None:
        detail["rows"] = rows
    applicant = Applicant(application.applicant, application.applicant_kind, application.applicant_name)
    audit.record(
        session, applicant.principal(), "opendata.key.used", "open_application", application.number, detail
    )


def approved_for(session: Session, subject: str, dataset_id: int, now: datetime) -> OpenApplication | None:
    """A signed-in applicant's approved, unexpired application for a dataset (their downloads in the
    browser count on its quota, as calls with its key do)."""
    application = session.scalar(
        select(OpenApplication).where(
            OpenApplication.applicant == subject,
            OpenApplication.dataset_id == dataset_id,
            OpenApplication.status == APPROVED,
        )
    )
    return application if application is not None and _usable(application, now) else None
