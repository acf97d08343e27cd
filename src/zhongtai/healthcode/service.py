"""Health code business rules (no HTTP): the platform's signing keys, rotation, the trust list, issuing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.bulk import utc_moment
from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, Unavailable
from zhongtai.core.principal import SYSTEM, Principal
from zhongtai.core.settings import Settings
from zhongtai.healthcode.codes import person_claims
from zhongtai.healthcode.colouring import current_rules
from zhongtai.healthcode.envelope import (
    AK_CLAIM,
    AK_PREFIX,
    EXP,
    CodeSigner,
    EnvelopeError,
    Opened,
    TrustList,
    open_code,
    seal,
)
from zhongtai.healthcode.gate import GateAnswer, NotAPersonCode, decide
from zhongtai.healthcode.keys import (
    Issued,
    add_certificate,
    issue_signer,
    make_root,
    trust_entry,
    trust_list_document,
)
from zhongtai.healthcode.models import (
    ColourChange,
    ContactStatus,
    KeyRole,
    PersonColour,
    SigningKey,
    TraceContact,
    TraceStatus,
    TravelDeclaration,
)
from zhongtai.healthcode.models import Trace as TraceRow
from zhongtai.healthcode.repository import HealthCodeRepository
from zhongtai.healthcode.rules import Colour, Verdict
from zhongtai.healthcode.trail import person_access

USAGE = ["person", "place", "enterprise", "licence"]


class Holder(Protocol):
    """Whose code is shown: the pseudonym, and what the code masks (from the public side's Person)."""

    @property
    def subject(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def id_number(self) -> str: ...


def _store(
    session: Session, settings: Settings, issued: Issued, role: KeyRole, actor: str, **when: Any
) -> SigningKey:
    key = SigningKey(
        kid=issued.kid.hex(),
        role=role,
        certificate=issued.der,
        private_key_sealed=SecretBox(settings).seal(issued.private_pem()),
        usage=USAGE if role is KeyRole.SIGNER else [],
        not_after=issued.certificate.not_valid_after_utc,
        created_by=actor,
        **when,
    )
    HealthCodeRepository(session).add(key)
    return key


def _issued(settings: Settings, key: SigningKey) -> Issued:
    pem = SecretBox(settings).open(key.private_key_sealed).encode("ascii")
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)  # the platform makes P-256 keys only
    return Issued(private, x509.load_der_x509_certificate(key.certificate))


def _no_signing_key() -> Unavailable:
    return Unavailable(
        M_("no signing key is live: run zhongtai healthcode rotate-key"), code="no_signing_key"
    )


def ensure_keys(session: Session, settings: Settings, actor: Principal, now: datetime) -> None:
    """A root and a first signer, made once (the first code issued, or ``zhongtai healthcode rotate-key``)."""
    repo = HealthCodeRepository(session)
    if repo.root() is None:
        root = make_root(settings.healthcode_city, now)
        _store(session, settings, root, KeyRole.ROOT, actor.username, signs_from=now)
        audit.record(session, actor, "healthcode.root.created", "healthcode_key", root.kid.hex())
    if not repo.signers():
        _new_signer(session, settings, actor, now, signs_from=now)


def _new_signer(
    session: Session, settings: Settings, actor: Principal, now: datetime, signs_from: datetime
) -> SigningKey:
    root = HealthCodeRepository(session).root()
    assert root is not None
    issued = issue_signer(
        _issued(settings, root), settings.healthcode_city, now, settings.healthcode_signer_days
    )
    key = _store(session, settings, issued, KeyRole.SIGNER, actor.username, signs_from=signs_from)
    audit.record(
        session,
        actor,
        "healthcode.key.created",
        "healthcode_key",
        key.kid,
        {"signs_from": signs_from.isoformat()},
    )
    return key


def rotate(session: Session, settings: Settings, actor: Principal, now: datetime) -> SigningKey:
    """A new signer, on the trust list at once and signing after ``healthcode_publish_lead_minutes`` (so
    verifiers have fetched it first); the current signer stops signing then and stays listed while codes it
    signed may still be valid."""
    ensure_keys(session, settings, actor, now)
    starts = now + timedelta(minutes=settings.healthcode_publish_lead_minutes)
    for old in HealthCodeRepository(session).signers():
        if old.retired_at is None or old.retired_at > starts:
            old.retired_at = starts
    return _new_signer(session, settings, actor, now, signs_from=starts)


def current_signer(session: Session, settings: Settings, now: datetime) -> CodeSigner:
    """The signer that signs codes now: the newest one whose time has come and which is not retired."""
    live = [
        k
        for k in HealthCodeRepository(session).signers()
        if k.signs_from <= now and (k.retired_at is None or k.retired_at > now) and k.not_after > now
    ]
    if not live:
        raise _no_signing_key()
    newest = max(live, key=lambda k: k.signs_from)
    return CodeSigner(bytes.fromhex(newest.kid), _issued(settings, newest).private_key)


def listed(key: SigningKey, settings: Settings, now: datetime) -> bool:
    """On the trust list: within its certificate, and not retired longer ago than a code may live."""
    longest = timedelta(days=settings.healthcode_place_days)
    return key.not_after > now and (key.retired_at is None or key.retired_at + longest > now)


def trust_list(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """The signed trust list verifiers fetch: every certificate that may have signed a live code."""
    repo = HealthCodeRepository(session)
    root = repo.root()
    if root is None:
        raise _no_signing_key()
    entries = [
        trust_entry(x509.load_der_x509_certificate(k.certificate), k.usage)
        for k in repo.signers()
        if listed(k, settings, now)
    ]
    return trust_list_document(_issued(settings, root), entries, now)


def issue(
    session: Session, settings: Settings, claims: dict[int, Any], now: datetime, prefix: str = AK_PREFIX
) -> str:
    """A signed code's text for ``claims`` with the live signer (the city's first code makes its keys);
    other signed documents of the platform (an electronic licence shown, ``LC1:``) use it with their own
    prefix."""
    if HealthCodeRepository(session).root() is None:
        ensure_keys(session, settings, SYSTEM, now)
    return seal(claims, current_signer(session, settings, now), prefix)


TRUST_SECONDS = 60  # a cached trust is rebuilt after this, or at once when the keys change


@dataclass
class _CachedTrust:
    fingerprint: tuple[Any, ...]
    built: float
    trust: TrustList


_trusts: dict[str, _CachedTrust] = {}


def trust(session: Session, settings: Settings, now: datetime) -> TrustList:
    """The platform's own trust, from its keys as the trust list publishes them. Cached per database
    (parsing certificates on every gate scan was a third of its time), rebuilt when a key is added or
    retired (a cheap fingerprint query) or after ``TRUST_SECONDS`` (validity moves with the clock)."""
    repo = HealthCodeRepository(session)
    fingerprint = repo.keys_fingerprint()
    where = str(session.get_bind().engine.url)
    cached = _trusts.get(where)
    if (
        cached is not None
        and cached.fingerprint == fingerprint
        and time.monotonic() - cached.built < TRUST_SECONDS
    ):
        return cached.trust
    found = TrustList()
    for key in repo.signers():
        if listed(key, settings, now):
            add_certificate(found, x509.load_der_x509_certificate(key.certificate))
    _trusts[where] = _CachedTrust(fingerprint, time.monotonic(), found)
    return found


def revoked_by_colour(session: Session) -> Callable[[Opened], str | None]:
    """Online verification's revocation: a person code whose holder's colour changed after it was issued
    no longer holds (a screenshot of a green code is refused once the person turned red)."""

    def why(opened: Opened) -> str | None:
        claim = opened.claims.get(AK_CLAIM)
        if not isinstance(claim, dict) or claim.get("t") != "person":
            return None
        current = HealthCodeRepository(session).colour_of(str(claim.get("s", "")))
        now_shown = Colour(current[0]).label if current else Colour.GREEN.label  # nothing known: green
        if now_shown == str(claim.get("c", "")):
            return None
        changed = f" (changed {utc_moment(current[1]).isoformat(timespec='minutes')})" if current else ""
        return f"the holder's colour is now {now_shown}{changed}, not what this code shows"

    return why


def verify_online(
    session: Session, settings: Settings, text: str, now: datetime, temperature: float | None = None
) -> GateAnswer:
    """A gate's online verification: the envelope against the platform's trust, refused when the colour
    changed since issue, then the gate's rule (a fever there counted)."""
    opened = open_code(text, trust(session, settings, now), now, (AK_PREFIX,), revoked_by_colour(session))
    return decide(opened, current_rules(session), temperature)


@dataclass(frozen=True, slots=True)
class ShownCode:
    """A person code as the person's page shows it: the signed text, its colour and reasons, its expiry."""

    text: str
    colour: Colour
    reasons: list[dict[str, Any]]
    rule_version: int
    since: datetime | None
    expires: datetime


def current_verdict(session: Session, subject: str) -> tuple[Verdict, list[dict[str, Any]], datetime | None]:
    """The person's stored colour with its reasons (green under the current rules when nothing is known)."""
    stored = HealthCodeRepository(session).stored_colour(subject)
    if stored is None:
        return Verdict(Colour.GREEN, (), current_rules(session).version), [], None
    return Verdict(Colour(stored.colour), (), stored.rule_version), list(stored.reasons), stored.since


def show_person_code(
    session: Session, settings: Settings, holder: Holder, viewer: str, now: datetime
) -> ShownCode:
    """Issue the holder's code for their page (valid for minutes), recorded in the access trail with the
    holder as its subject."""
    verdict, reasons, since = current_verdict(session, holder.subject)
    claims = person_claims(holder.subject, holder.name, holder.id_number, verdict, settings, now)
    text = issue(session, settings, claims, now)
    person_access(
        session,
        actor=viewer,
        event="healthcode.code.shown",
        subject=holder.subject,
        target=("person_code", holder.subject),
        items=["colour", "reasons"],
    )
    expires = datetime.fromtimestamp(claims[EXP], UTC)
    return ShownCode(text, verdict.colour, reasons, verdict.rule_version, since, expires)


def colour_history(session: Session, subject: str) -> list[ColourChange]:
    return HealthCodeRepository(session).history_of(subject)


def checked_at_gate(
    session: Session, settings: Settings, text: str, now: datetime, temperature: float | None = None
) -> tuple[dict[str, Any], str | None]:
    """A gate app's answer for a code (the ``healthcode.verify`` capability): valid with the decision,
    colour and masked name; or not valid, naming the stage that refused it and why. With it, whose code
    it was (the pseudonym, for the audit entry; not part of the answer)."""
    try:
        answer = verify_online(session, settings, text, now, temperature)
    except EnvelopeError as exc:
        return {"valid": False, "stage": exc.stage.value, "reason": exc.reason}, None
    except NotAPersonCode as exc:
        return {"valid": False, "stage": "payload", "reason": str(exc)}, None
    body = {
        "valid": True,
        "decision": answer.decision.value,
        "colour": answer.colour.label,
        "masked_name": answer.masked_name,
        "fever": answer.fever,
    }
    return body, answer.subject or None


RISK_GROUPS = ("red", "yellow", "arrival", "contact")
ARRIVAL_DAYS = 14


def risk_groups(session: Session, now: datetime) -> dict[str, set[str]]:
    """The people of each risk group, by pseudonym, for aggregate counts only (the big screen's
    profiling): codes now red or yellow, arrivals from a declared area in the last two weeks (行程申报),
    contacts of open traces not dismissed. A person may be in several groups."""
    groups: dict[str, set[str]] = {group: set() for group in RISK_GROUPS}
    coloured = select(PersonColour.subject, PersonColour.colour).where(PersonColour.colour > Colour.GREEN)
    for subject, colour in session.execute(coloured):
        groups[Colour(colour).label].add(subject)
    since = now.date() - timedelta(days=ARRIVAL_DAYS)
    groups["arrival"].update(
        session.scalars(select(TravelDeclaration.subject).where(TravelDeclaration.on >= since))
    )
    contacts = (
        select(TraceContact.subject)
        .join(TraceRow, TraceRow.id == TraceContact.trace_id)
        .where(TraceRow.status == TraceStatus.OPEN, TraceContact.status != ContactStatus.DISMISSED)
    )
    groups["contact"].update(session.scalars(contacts))
    return groups
