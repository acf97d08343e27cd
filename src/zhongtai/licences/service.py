"""Electronic licences: issued from the licence base (the departments' registers fused by governance),
kept in step with it (a licence the register no longer holds is revoked), shown by their holder as a
signed code that lives minutes (亮证码: a screenshot is useless tomorrow), verified by anyone — offline
with the platform's trust list (the health code's keys and envelope, prefix ``LC1:``), online against the
register. The gateway's ``license.verify`` capability answers from the same base."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from zhongtai.core import audit
from zhongtai.core.principal import Principal
from zhongtai.core.pseudonym import entity_subject, person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import CITY_ZONE, utcnow
from zhongtai.governance.lookups import BaseLookup, BaseView
from zhongtai.governance.models import BaseKind
from zhongtai.healthcode import service as signing
from zhongtai.healthcode.envelope import AK_CLAIM, EXP, IAT, ISS, EnvelopeError, open_code
from zhongtai.licences.models import Licence, LicenceStatus
from zhongtai.sharing.masking import mask_id_number, mask_name

LICENCE_TYPES = ("营业执照", "结婚证", "不动产权证书")
ENTERPRISE_TYPES = ("营业执照",)
LC_PREFIX = "LC1:"
SHOW_MINUTES = 10
PAGE = 500


@dataclass
class Issued:
    issued: int = 0
    updated: int = 0
    revoked: int = 0
    skipped: int = 0  # a record without a holder the platform can name


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _holder(settings: Settings, view: BaseView) -> tuple[str, str] | None:
    """(subject, masked id) of the holder, or None when the record names nobody the platform can."""
    kind = str(view.data.get("type") or "")
    if kind in ENTERPRISE_TYPES:
        return entity_subject(view.key), view.key
    holder_id = str(view.data.get("holder_id") or "")
    if not ric.is_valid(holder_id):
        return None
    return person_subject(settings, holder_id), mask_id_number(holder_id)


def _digest(view: BaseView) -> str:
    return hashlib.sha256(json.dumps(view.data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def sync(session: Session, settings: Settings, actor: Principal) -> Issued:
    """Issue new licences, update changed ones, revoke those the base no longer holds (idempotent)."""
    counts = Issued()
    known = {lic.number: lic for lic in session.scalars(select(Licence))}
    seen: set[str] = set()
    lookup, after = BaseLookup(session), ""
    while page := lookup.page(BaseKind.LICENSE, after, PAGE):
        for view in page:
            if _apply(session, settings, view, known, counts):
                seen.add(view.key)
        after = page[-1].key
    for number, licence in known.items():
        if number not in seen and licence.status is LicenceStatus.VALID:
            licence.status, licence.synced_at = LicenceStatus.REVOKED, utcnow()
            counts.revoked += 1
    session.flush()
    if counts.issued or counts.updated or counts.revoked:
        audit.record(session, actor, "licences.synced", "licence_register", "-", counts.__dict__)
    return counts


def _apply(
    session: Session, settings: Settings, view: BaseView, known: dict[str, Licence], counts: Issued
) -> bool:
    kind = str(view.data.get("type") or "")
    holder = _holder(settings, view) if kind in LICENCE_TYPES else None
    if holder is None:
        counts.skipped += 1
        return False
    digest = _digest(view)
    licence = known.get(view.key)
    if licence is not None and licence.source_digest == digest and licence.status is LicenceStatus.VALID:
        return True
    if licence is None:
        licence = Licence(number=view.key)
        session.add(licence)
        counts.issued += 1
    else:
        counts.updated += 1
    provenance = view.provenance.get("holder") or {}
    licence.type, licence.holder_subject, licence.holder_masked_id = kind, holder[0], holder[1]
    licence.holder_name = str(view.data.get("holder") or "")
    licence.issuer = str(view.data.get("issuer") or "")
    licence.department_code = str(provenance.get("department") or "")
    licence.subject_line = str(view.data.get("subject") or "")[:2000]
    licence.issued_on = _date(view.data.get("issued_on"))
    licence.valid_from = _date(view.data.get("valid_from")) or licence.issued_on
    licence.valid_to = _date(view.data.get("valid_to"))
    licence.source_digest, licence.status, licence.synced_at = digest, LicenceStatus.VALID, utcnow()
    return True


def wallet(session: Session, subject: str) -> list[Licence]:
    query = select(Licence).where(Licence.holder_subject == subject).order_by(Licence.type, Licence.number)
    return list(session.scalars(query))


def holds(licence: Licence, today: date) -> bool:
    if licence.status is not LicenceStatus.VALID:
        return False
    return (licence.valid_from is None or licence.valid_from <= today) and (
        licence.valid_to is None or today <= licence.valid_to
    )


def held(session: Session, subject: str, kind: str, today: date) -> Licence | None:
    """The holder's valid licence of ``kind`` (the newest), or None."""
    found = [lic for lic in wallet(session, subject) if lic.type == kind and holds(lic, today)]
    return max(found, key=lambda lic: lic.issued_on or date.min) if found else None


def own_licence(session: Session, subject: str, number: str) -> Licence | None:
    found = session.scalars(select(Licence).where(Licence.number == number)).first()
    return found if found is not None and found.holder_subject == subject else None


def shown_name(licence: Licence) -> str:
    return licence.holder_name if licence.type in ENTERPRISE_TYPES else mask_name(licence.holder_name)


def show(session: Session, settings: Settings, licence: Licence, now: datetime) -> str:
    """The licence as a signed code valid for minutes: number, type, holder (masked), issuer, validity."""
    claims = {
        ISS: settings.healthcode_issuer,
        IAT: int(now.timestamp()),
        EXP: int((now + timedelta(minutes=SHOW_MINUTES)).timestamp()),
        AK_CLAIM: {
            "t": "licence",
            "n": licence.number,
            "y": licence.type,
            "h": shown_name(licence),
            "i": licence.issuer,
            "f": licence.valid_from.isoformat() if licence.valid_from else None,
            "u": licence.valid_to.isoformat() if licence.valid_to else None,
        },
    }
    return signing.issue(session, settings, claims, now, LC_PREFIX)


@dataclass(frozen=True)
class Check:
    """What a verification found: valid or not, why, and what the licence says (holder masked)."""

    valid: bool
    reason: str
    stage: str | None
    licence: dict[str, Any]


def verify(session: Session, settings: Settings, text: str, now: datetime) -> Check:
    """A shown licence checked: signature and time by the trust list, then the register (revoked or
    outside its validity is refused, with the reason)."""
    try:
        opened = open_code(text.strip(), signing.trust(session, settings, now), now, (LC_PREFIX,))
    except EnvelopeError as exc:
        return Check(False, str(exc.reason), exc.stage.value, {})
    claim = opened.claims.get(AK_CLAIM)
    if not isinstance(claim, dict) or claim.get("t") != "licence":
        return Check(False, "the code is not a licence", "claims", {})
    shown = {k: claim.get(k) for k in ("n", "y", "h", "i", "f", "u")}
    licence = session.scalars(select(Licence).where(Licence.number == str(claim.get("n")))).first()
    if licence is None or licence.status is not LicenceStatus.VALID:
        return Check(False, "the licence register no longer holds this licence", "register", shown)
    if not holds(licence, now.astimezone(CITY_ZONE).date()):
        return Check(False, "the licence is outside its validity", "register", shown)
    return Check(True, "", None, shown)


def holder_name(session: Session, subject: str) -> str | None:
    """The name a holder's licences give them (an enterprise's name on its business licence)."""
    found = wallet(session, subject)
    return found[0].holder_name if found else None
