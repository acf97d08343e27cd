"""What a code says: the claims of a person code and a place code, and the pseudonymous subject id that
stands for a person in codes, evidence and colours (never the ID number)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from stdnum.cn import ric

from zhongtai.core.settings import Settings
from zhongtai.healthcode.envelope import AK_CLAIM, EXP, IAT, ISS
from zhongtai.healthcode.rules import Verdict
from zhongtai.sharing.masking import mask_id_number, mask_name  # the platform's masking formats


def subject_key(settings: Settings) -> bytes:
    """The key behind subject ids, derived from the platform's secret for this use alone."""
    return hmac.new(settings.secret_key.encode(), b"zhongtai healthcode subject", hashlib.sha256).digest()


def subject_of(id_number: str, key: bytes) -> str:
    """A person's pseudonymous subject id: HMAC-SHA256 of the normalized ID number (a lowercase x is an X,
    a first-generation number its upgrade), 20 bytes in Base32. Stable for a key; without the key it
    reveals nothing about the number and cannot be turned back into it."""
    number = ric.compact(id_number).upper()
    digest = hmac.new(key, number.encode("ascii", "replace"), hashlib.sha256).digest()
    return "p-" + base64.b32encode(digest[:20]).decode("ascii").lower()


def person_claims(
    subject: str, name: str, id_number: str, verdict: Verdict, settings: Settings, now: datetime
) -> dict[int, Any]:
    """A person code's CWT claims: valid for minutes, masked name and ID number, colour and rule version."""
    expires = now + timedelta(minutes=settings.healthcode_person_minutes)
    return {
        ISS: settings.healthcode_issuer,
        IAT: int(now.timestamp()),
        EXP: int(expires.timestamp()),
        AK_CLAIM: {
            "t": "person",
            "c": verdict.colour.label,
            "n": mask_name(name),
            "i": mask_id_number(id_number),
            "s": subject,
            "v": verdict.rule_version,
        },
    }


def place_claims(place_code: str, place_name: str, settings: Settings, now: datetime) -> dict[int, Any]:
    """A place code's claims: printed on a poster, valid for ``healthcode_place_days``."""
    expires = now + timedelta(days=settings.healthcode_place_days)
    return {
        ISS: settings.healthcode_issuer,
        IAT: int(now.timestamp()),
        EXP: int(expires.timestamp()),
        AK_CLAIM: {"t": "place", "p": place_code, "n": place_name},
    }
