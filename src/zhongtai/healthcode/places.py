"""Places and gates (business rules, no HTTP): a place code applied for, approved or returned by the
street / district office, printed on a poster; gates whose guards verify person codes online (every scan an
entry/exit record, a fever there a yellow reason); citizens' visits by scanning a poster, a repeat within
a minute counted once. A place's owner sees counts, never a list of people."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhongtai.core import audit
from zhongtai.core.errors import M_, Conflict, Invalid, NotFound
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import Principal
from zhongtai.core.security import token_digest
from zhongtai.core.settings import Settings
from zhongtai.healthcode import colouring, service
from zhongtai.healthcode.codes import place_claims
from zhongtai.healthcode.envelope import AK_CLAIM, AK_PREFIX, EnvelopeError, open_code
from zhongtai.healthcode.gate import GateAnswer, NotAPersonCode
from zhongtai.healthcode.models import Gate, Passage, Place, PlaceStatus, Visit
from zhongtai.healthcode.rules import Colour, Evidence, Fact
from zhongtai.healthcode.trail import person_access

KINDS = ("shop", "office", "residential", "restaurant", "hospital", "school", "transport", "other")
REPEAT_SECONDS = 60  # a second scan of the same poster within a minute is the same visit
DIRECTIONS = ("in", "out")


@dataclass(frozen=True, slots=True)
class PlaceApplication:
    name: str
    kind: str
    address: str
    street: str
    office: str  # department code of the street / district office


def _text(value: str, field: str, limit: int) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > limit:
        raise Invalid(M_("%(field)s: 1 to %(limit)s characters", field=field, limit=limit), field=field)
    return cleaned


def check_application(data: PlaceApplication, offices: dict[str, str]) -> PlaceApplication:
    if data.kind not in KINDS:
        raise Invalid(M_("choose the kind of place"), field="kind")
    if data.office not in offices:
        raise Invalid(M_("choose the street or district office the place belongs to"), field="office")
    return PlaceApplication(
        _text(data.name, "name", 100),
        data.kind,
        _text(data.address, "address", 200),
        _text(data.street, "street", 60),
        data.office,
    )


def apply(session: Session, owner_citizen_id: int, data: PlaceApplication, now: datetime) -> Place:
    number = (session.scalar(select(func.count()).select_from(Place)) or 0) + 1
    place = Place(
        code=f"CS{now:%Y%m%d}{number:06d}{secrets.randbelow(100):02d}",
        name=data.name,
        kind=data.kind,
        address=data.address,
        street=data.street,
        office=data.office,
        owner_citizen_id=owner_citizen_id,
        status=PlaceStatus.PENDING,
        applied_at=now,
    )
    session.add(place)
    session.flush()
    return place


def may_decide(actor: Principal, place: Place) -> bool:
    """The place's office decides: its reviewers and officers (the platform's operators too)."""
    return actor.is_operator or (
        actor.department_code == place.office and actor.has(Role.REVIEWER, Role.OFFICER)
    )


def may_decide_any(actor: Principal) -> bool:
    return actor.is_operator or actor.has(Role.REVIEWER, Role.OFFICER)


def queue(session: Session, actor: Principal) -> list[Place]:
    query = select(Place).order_by(Place.status != PlaceStatus.PENDING, Place.applied_at.desc())
    if not actor.is_operator:
        query = query.where(Place.office == (actor.department_code or ""))
    return list(session.scalars(query.limit(200)))


def decide(
    session: Session,
    settings: Settings,
    actor: Principal,
    place_id: int,
    approve: bool,
    comment: str,
    now: datetime,
) -> Place:
    place = session.get(Place, place_id)
    if place is None or not may_decide(actor, place):
        raise NotFound(M_("no such place application"), code="place_not_found")
    if place.status is not PlaceStatus.PENDING:
        raise Conflict(M_("the application was already decided"), code="place_decided")
    if not approve and not comment.strip():
        raise Invalid(M_("say why the application is returned"), field="comment")
    place.status = PlaceStatus.APPROVED if approve else PlaceStatus.RETURNED
    place.decided_by, place.decided_at, place.comment = actor.username, now, comment.strip()[:500]
    if approve:
        place.code_text = service.issue(
            session, settings, place_claims(place.code, place.name, settings, now), now
        )
    audit.record(
        session,
        actor,
        f"healthcode.place.{place.status.value}",
        "place",
        place.code,
        {"comment": place.comment},
    )
    session.flush()
    return place


def owned(session: Session, citizen_id: int) -> list[Place]:
    query = select(Place).where(Place.owner_citizen_id == citizen_id).order_by(Place.id.desc())
    return list(session.scalars(query))


def owned_place(session: Session, citizen_id: int, place_id: int) -> Place:
    place = session.get(Place, place_id)
    if place is None or place.owner_citizen_id != citizen_id:
        raise NotFound(M_("no such place"), code="place_not_found")
    return place


def counts(session: Session, place_id: int, now: datetime) -> dict[str, int]:
    """What the owner sees: visits and gate passages today and in the last 7 days (numbers only)."""
    day = now - timedelta(days=1)
    week = now - timedelta(days=7)

    def visits(since: datetime) -> int:
        query = select(func.count()).select_from(Visit).where(Visit.place_id == place_id, Visit.at >= since)
        return session.scalar(query) or 0

    def passages(since: datetime) -> int:
        query = (
            select(func.count()).select_from(Passage).where(Passage.place_id == place_id, Passage.at >= since)
        )
        return session.scalar(query) or 0

    return {
        "visits_24h": visits(day),
        "visits_7d": visits(week),
        "passages_24h": passages(day),
        "passages_7d": passages(week),
    }


def add_gate(session: Session, place: Place, name: str) -> tuple[Gate, str]:
    """A gate of an approved place; returns the gate and its secret link token (shown once)."""
    if place.status is not PlaceStatus.APPROVED:
        raise Conflict(M_("only an approved place has gates"), code="place_not_approved")
    token = secrets.token_urlsafe(24)
    gate = Gate(place_id=place.id, name=_text(name, "name", 60), token_hash=token_digest(token))
    session.add(gate)
    session.flush()
    return gate, token


def gates(session: Session, place_id: int) -> list[Gate]:
    return list(session.scalars(select(Gate).where(Gate.place_id == place_id).order_by(Gate.id)))


def gate_by_token(session: Session, token: str) -> tuple[Gate, Place]:
    gate = session.scalars(select(Gate).where(Gate.token_hash == token_digest(token))).first()
    place = session.get(Place, gate.place_id) if gate else None
    if (
        gate is None
        or gate.revoked_at is not None
        or place is None
        or place.status is not PlaceStatus.APPROVED
    ):
        raise NotFound(M_("this gate link is unknown or was withdrawn"), code="gate_not_found")
    return gate, place


@dataclass(frozen=True, slots=True)
class ScanInput:
    text: str
    temperature: float | None = None
    direction: str = "in"
    plate: str | None = None


def check_scan(raw: dict[str, Any]) -> ScanInput:
    text = str(raw.get("code") or "").strip()
    if not text:
        raise Invalid(M_("no code was given: scan it or upload a photo of it"), field="code")
    temperature = raw.get("temperature")
    reading: float | None = None
    if temperature not in (None, ""):
        try:
            reading = float(str(temperature))
        except ValueError:
            raise Invalid(M_("the temperature is a number in °C"), field="temperature") from None
        if not 30.0 <= reading <= 45.0:
            raise Invalid(M_("a body temperature is between 30 and 45 °C"), field="temperature")
    direction = str(raw.get("direction") or "in")
    if direction not in DIRECTIONS:
        raise Invalid(M_("direction is in or out"), field="direction")
    plate = str(raw.get("plate") or "").strip().upper() or None
    if plate is not None and len(plate) > 16:
        raise Invalid(M_("a plate has at most 16 characters"), field="plate")
    return ScanInput(text, reading, direction, plate)


@dataclass(frozen=True, slots=True)
class ScanResult:
    decision: str  # pass | restricted | barred | refused
    colour: Colour | None
    masked_name: str
    fever: bool
    stage: str | None = None
    reason: str | None = None


def scan(
    session: Session, settings: Settings, gate: Gate, place: Place, given: ScanInput, now: datetime
) -> ScanResult:
    """Verify a person code online at a gate: the entry/exit record kept whatever the outcome; a fever
    there is evidence (a yellow reason on the person's code, recomputed at once)."""
    try:
        answer = service.verify_online(session, settings, given.text, now, given.temperature)
    except EnvelopeError as exc:
        _passage(session, gate, place, given, now, None, None, "refused", exc.stage.value)
        return ScanResult("refused", None, "", False, exc.stage.value, exc.reason)
    except NotAPersonCode as exc:
        _passage(session, gate, place, given, now, None, None, "refused", "payload")
        return ScanResult("refused", None, "", False, "payload", str(exc))
    subject = answer.subject or None
    _passage(session, gate, place, given, now, subject, answer, answer.decision.value, None)
    if subject and given.temperature is not None:
        record = f"{place.code}/{gate.id}/{int(now.timestamp())}"
        colouring.record_evidence(
            session, [(subject, Evidence(Fact.GATE_TEMPERATURE, now, "GATE", record, given.temperature))]
        )
        colouring.recompute(session, now, [subject])
    return ScanResult(answer.decision.value, answer.colour, answer.masked_name, answer.fever)


def _passage(
    session: Session,
    gate: Gate,
    place: Place,
    given: ScanInput,
    now: datetime,
    subject: str | None,
    answer: GateAnswer | None,
    decision: str,
    refusal: str | None,
) -> None:
    session.add(
        Passage(
            gate_id=gate.id,
            place_id=place.id,
            subject=subject,
            at=now,
            colour=int(answer.colour) if answer else None,
            decision=decision,
            refusal=refusal,
            temperature=given.temperature,
            direction=given.direction,
            plate=given.plate,
        )
    )
    session.flush()
    if subject:
        person_access(
            session,
            actor=f"gate:{gate.id}",
            event="healthcode.gate.scanned",
            subject=subject,
            target=("place", place.code),
            items=["colour", "masked_name"],
            purpose="epidemic.gate",
            department=place.office,
            detail={"decision": decision},
        )


def place_of_code(session: Session, settings: Settings, text: str, now: datetime) -> Place:
    """The approved place a scanned poster names (its signed code verified)."""
    try:
        opened = open_code(text, service.trust(session, settings, now), now, (AK_PREFIX,))
    except EnvelopeError as exc:
        raise Invalid(
            M_(
                "this is not a valid place code (%(stage)s: %(reason)s)",
                stage=exc.stage.value,
                reason=exc.reason,
            ),
            field="code",
            code="place_code_invalid",
        ) from None
    claim = opened.claims.get(AK_CLAIM)
    if not isinstance(claim, dict) or claim.get("t") != "place":
        raise Invalid(
            M_("this is a person code, not a place's poster"), field="code", code="not_a_place_code"
        )
    place = session.scalars(select(Place).where(Place.code == str(claim.get("p", "")))).first()
    if place is None or place.status is not PlaceStatus.APPROVED:
        raise NotFound(M_("the place of this code is not (or no longer) registered"), code="place_not_found")
    return place


def visit(session: Session, place: Place, subject: str, colour: Colour, now: datetime) -> bool:
    """Record the visit; False when the same person scanned the same place within a minute (counted once)."""
    recent = session.scalars(
        select(Visit)
        .where(
            Visit.subject == subject,
            Visit.place_id == place.id,
            Visit.at > now - timedelta(seconds=REPEAT_SECONDS),
        )
        .limit(1)
    ).first()
    if recent is not None:
        return False
    session.add(Visit(place_id=place.id, subject=subject, at=now, colour=int(colour)))
    session.flush()
    person_access(
        session,
        actor="citizen",
        event="healthcode.place.visited",
        subject=subject,
        target=("place", place.code),
        items=["place", "time"],
        purpose="epidemic.place-registration",
    )
    return True
