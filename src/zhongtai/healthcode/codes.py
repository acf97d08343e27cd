"""What a code says: the claims of a person code and a place code. A person is named by the platform's
pseudonymous subject id (``core.pseudonym``), never the ID number."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from zhongtai.core.settings import Settings
from zhongtai.healthcode.envelope import AK_CLAIM, EXP, IAT, ISS
from zhongtai.healthcode.rules import Verdict
from zhongtai.sharing.masking import mask_id_number, mask_name  # the platform's masking formats


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
