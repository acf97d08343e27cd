"""The public side's rules (no HTTP): real-name sign-in with a one-time code, lockout against enumeration,
citizens' sessions, and family members proven by the household register. Service functions flush; the
caller commits (a refusal that counts toward lockout is committed on its own, see ``pages``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, Conflict, Invalid, NotFound, TooManyAttempts, Unauthenticated
from zhongtai.core.pseudonym import entity_subject, person_subject
from zhongtai.core.security import token_digest
from zhongtai.core.settings import Settings
from zhongtai.public.models import Citizen, CitizenSession, FamilyMember, SignInCode
from zhongtai.public.repository import PublicRepository
from zhongtai.public.sms import Sender
from zhongtai.sharing.masking import mask_id_number, mask_name

RESEND_SECONDS = 60  # one code a minute per person: a mobile is not a free SMS cannon
FAMILY_LIMIT = 10


@dataclass(frozen=True, slots=True)
class CitizenPrincipal:
    """A signed-in citizen as pages see them (no ORM object, the ID number only masked)."""

    id: int
    subject: str
    name: str
    masked_name: str
    masked_id: str
    csrf_token: str
    kind: str = "person"  # or "enterprise"

    @property
    def is_enterprise(self) -> bool:
        return self.kind == "enterprise"


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a citizen may act for (themselves or a family member), with what a code needs."""

    subject: str
    name: str
    id_number: str
    member_id: int | None = None  # None: the citizen themselves


def person_key(subject: str) -> str:
    """A lockout counter for the person typed (known or not), by pseudonym."""
    return f"id:{subject}"


def address_key(settings: Settings, address: str) -> str:
    """A lockout counter for the caller's address (keyed hash: the table holds no addresses)."""
    return "ip:" + hmac.new(settings.secret_key.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


def lockout_keys(settings: Settings, id_number: str, address: str) -> list[str]:
    """The counters a failure adds to: the person typed and the caller's address."""
    return [person_key(person_subject(settings, id_number)), address_key(settings, address)]


def check_not_locked(session: Session, settings: Settings, keys: list[str], now: datetime) -> None:
    """Refuse (429, with when to retry) while any counter holds ``public_lockout_failures`` failures
    within the last ``public_lockout_minutes``."""
    window = timedelta(minutes=settings.public_lockout_minutes)
    counts = PublicRepository(session).failures_since(keys, now - window)
    locked = [latest for count, latest in counts.values() if count >= settings.public_lockout_failures]
    if locked:
        until = max(locked) + window
        refusal = TooManyAttempts(
            M_("too many failed attempts: sign-in is locked for a while; try again later"), code="locked"
        )
        refusal.retry_after = max(1, int((until - now).total_seconds()))
        raise refusal


def count_failure(session: Session, keys: list[str], now: datetime) -> None:
    PublicRepository(session).add_failures(keys, now)


def no_match() -> Unauthenticated:
    """The one answer for "no such person" and "details do not match" (no enumeration)."""
    return Unauthenticated(
        M_(
            "the details do not match the household register: check the ID number, the name and the "
            "mobile number registered there"
        ),
        code="identity_not_matched",
    )


def _code_hash(settings: Settings, pending: str, code: str) -> str:
    key = hmac.new(settings.secret_key.encode(), b"zhongtai sign-in codes", hashlib.sha256).digest()
    return hmac.new(key, f"{pending}:{code}".encode(), hashlib.sha256).hexdigest()


def begin(
    session: Session,
    settings: Settings,
    sender: Sender,
    person: tuple[str, str, str],
    now: datetime,
) -> str:
    """After the identity matched: a one-time code to the mobile; returns the pending sign-in's handle."""
    id_number, name, mobile = person
    claimant = Claimant("person", person_subject(settings, id_number), name, id_number, mobile)
    return send_code(session, settings, sender, claimant, now)


def begin_enterprise(
    session: Session, settings: Settings, sender: Sender, enterprise: tuple[str, str, str], now: datetime
) -> str:
    """After the legal-entity base matched the credit code, the legal representative and the registered
    mobile: a one-time code to that mobile. ``enterprise``: (credit code, display name, mobile)."""
    credit, name, mobile = enterprise
    claimant = Claimant("enterprise", entity_subject(credit), name, credit, mobile)
    return send_code(session, settings, sender, claimant, now)


@dataclass(frozen=True, slots=True)
class Claimant:
    """Who is signing in: a person by ID number, or an enterprise by credit code (``key``)."""

    kind: str
    subject: str
    name: str
    key: str
    mobile: str


def send_code(session: Session, settings: Settings, sender: Sender, claimant: Claimant, now: datetime) -> str:
    repo = PublicRepository(session)
    recent = repo.latest_code_for(claimant.subject)
    if recent is not None and (now - recent.created_at).total_seconds() < RESEND_SECONDS:
        refusal = TooManyAttempts(M_("a code was sent less than a minute ago; wait for it"), code="code_sent")
        refusal.retry_after = RESEND_SECONDS - int((now - recent.created_at).total_seconds())
        raise refusal
    pending, code = secrets.token_urlsafe(24), f"{secrets.randbelow(1_000_000):06d}"
    box = SecretBox(settings)
    session.add(
        SignInCode(
            token_hash=token_digest(pending),
            kind=claimant.kind,
            subject=claimant.subject,
            name=claimant.name,
            id_number_sealed=box.seal(claimant.key),
            mobile_sealed=box.seal(claimant.mobile),
            code_hash=_code_hash(settings, pending, code),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.public_code_minutes),
        )
    )
    session.flush()
    minutes = settings.public_code_minutes
    sender.send(
        session, claimant.mobile, f"【庐州市城市中台】验证码 {code},{minutes} 分钟内有效。请勿告诉他人。"
    )
    return pending


def pending_subject(session: Session, pending: str) -> str | None:
    """Whose pending sign-in this is (for the lockout counters of a wrong code)."""
    found = PublicRepository(session).pending_code(token_digest(pending))
    return found.subject if found else None


def finish(
    session: Session, settings: Settings, pending: str, code: str, now: datetime
) -> tuple[CitizenPrincipal, str]:
    """The code checked: the citizen (made on first sign-in) and a new session token for the cookie.
    A wrong code counts against the pending sign-in; after ``public_code_attempts`` it is void."""
    found = PublicRepository(session).pending_code(token_digest(pending))
    if found is None or found.used_at is not None or found.expires_at <= now:
        raise Invalid(
            M_("the code has expired or was used; ask for a new one"), field="code", code="code_expired"
        )
    if found.attempts >= settings.public_code_attempts:
        raise Invalid(M_("too many wrong codes; ask for a new one"), field="code", code="code_void")
    if not hmac.compare_digest(found.code_hash, _code_hash(settings, pending, code)):
        found.attempts += 1
        raise Invalid(M_("the code is wrong"), field="code", code="code_wrong")
    found.used_at = now
    citizen = _citizen(session, settings, found, now)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        CitizenSession(
            token_hash=token_digest(token),
            citizen_id=citizen.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=settings.public_session_hours),
        )
    )
    session.flush()
    return _principal(session, settings, citizen, csrf), token


def _citizen(session: Session, settings: Settings, found: SignInCode, now: datetime) -> Citizen:
    repo = PublicRepository(session)
    citizen = repo.citizen_by_subject(found.subject)
    if citizen is None:
        citizen = Citizen(
            kind=found.kind,
            subject=found.subject,
            name=found.name,
            id_number_sealed=found.id_number_sealed,
            mobile_sealed=found.mobile_sealed,
            created_at=now,
        )
        session.add(citizen)
    citizen.name, citizen.mobile_sealed, citizen.last_sign_in_at = found.name, found.mobile_sealed, now
    session.flush()
    return citizen


def _principal(session: Session, settings: Settings, citizen: Citizen, csrf: str) -> CitizenPrincipal:
    key = SecretBox(settings).open(citizen.id_number_sealed)
    if citizen.kind == "enterprise":  # a credit code and an enterprise's name are public
        return CitizenPrincipal(
            citizen.id, citizen.subject, citizen.name, citizen.name, key, csrf, "enterprise"
        )
    return CitizenPrincipal(
        citizen.id, citizen.subject, citizen.name, mask_name(citizen.name), mask_id_number(key), csrf
    )


def signed_in(session: Session, settings: Settings, token: str, now: datetime) -> CitizenPrincipal | None:
    repo = PublicRepository(session)
    found = repo.web_session(token_digest(token))
    if found is None or found.expires_at <= now:
        return None
    citizen = repo.citizen(found.citizen_id)
    return _principal(session, settings, citizen, found.csrf_token) if citizen else None


def sign_out(session: Session, token: str) -> None:
    PublicRepository(session).end_session(token_digest(token))


def myself(session: Session, settings: Settings, citizen: CitizenPrincipal) -> Person:
    found = PublicRepository(session).citizen(citizen.id)
    assert found is not None  # a signed-in citizen exists
    return Person(found.subject, found.name, SecretBox(settings).open(found.id_number_sealed))


def person_for(
    session: Session, settings: Settings, citizen: CitizenPrincipal, member_id: int | None
) -> Person:
    """The citizen, or one of their family members (404 for anyone else's)."""
    if member_id is None:
        return myself(session, settings, citizen)
    member = PublicRepository(session).family_member(citizen.id, member_id)
    if member is None:
        raise NotFound(M_("no such family member"), code="family_member_not_found")
    id_number = SecretBox(settings).open(member.id_number_sealed)
    return Person(member.subject, member.name, id_number, member.id)


def family(session: Session, citizen: CitizenPrincipal) -> list[FamilyMember]:
    return PublicRepository(session).family(citizen.id)


def add_family(
    session: Session,
    settings: Settings,
    citizen: CitizenPrincipal,
    member: tuple[str, str],
    relation: str,
    now: datetime,
) -> FamilyMember:
    """Keep a member whose same household the register confirmed (the caller checked it)."""
    id_number, name = member
    subject = person_subject(settings, id_number)
    repo = PublicRepository(session)
    if subject == citizen.subject:
        raise Invalid(M_("that is you: your own code is on the first page"), field="id_number")
    members = repo.family(citizen.id)
    if any(m.subject == subject for m in members):
        raise Conflict(M_("this family member was already added"), code="family_member_exists")
    if len(members) >= FAMILY_LIMIT:
        raise Conflict(M_("at most %(limit)s family members", limit=FAMILY_LIMIT), code="family_full")
    added = FamilyMember(
        citizen_id=citizen.id,
        subject=subject,
        name=name,
        id_number_sealed=SecretBox(settings).seal(id_number),
        relation=relation,
        added_at=now,
    )
    session.add(added)
    session.flush()
    audit.record_access(
        session,
        actor_username=f"citizen:{citizen.id}",
        department_code=None,
        event_type="public.family.added",
        resource_code="-",
        items=["户号"],
        record_count=1,
        purpose="family-codes",
        grant_id=None,
        target_type="citizen",
        target_id=str(citizen.id),
        subject=subject,
    )
    return added


def remove_family(session: Session, citizen: CitizenPrincipal, member_id: int) -> None:
    member = PublicRepository(session).family_member(citizen.id, member_id)
    if member is None:
        raise NotFound(M_("no such family member"), code="family_member_not_found")
    session.delete(member)
    session.flush()


def enrol(session: Session, settings: Settings, person: tuple[str, str, str], now: datetime) -> Citizen:
    """A citizen on record as if they had signed in once (the demo city's residents who own places)."""
    id_number, name, mobile = person
    subject = person_subject(settings, id_number)
    found = PublicRepository(session).citizen_by_subject(subject)
    if found is not None:
        return found
    box = SecretBox(settings)
    citizen = Citizen(
        subject=subject,
        name=name,
        id_number_sealed=box.seal(id_number),
        mobile_sealed=box.seal(mobile),
        created_at=now,
    )
    session.add(citizen)
    session.flush()
    return citizen
