"""A person's pseudonymous subject id: how the platform names a person where the ID number must not
appear — in health codes, their evidence and colours, and the audit trail's subject column (so a "who
used my data" view finds a person's entries by an index, and nobody reading the trail learns the number)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from stdnum.cn import ric

from zhongtai.core.settings import Settings


def subject_key(settings: Settings) -> bytes:
    """The key behind subject ids, derived from the platform's secret for this use alone."""
    return hmac.new(settings.secret_key.encode(), b"zhongtai healthcode subject", hashlib.sha256).digest()


def subject_of(id_number: str, key: bytes) -> str:
    """HMAC-SHA256 of the normalized ID number (a lowercase x is an X, full-width digits are digits),
    20 bytes in Base32. Stable for a key; without the key it reveals nothing about the number and cannot
    be turned back into it."""
    number = ric.compact(id_number).upper()
    digest = hmac.new(key, number.encode("ascii", "replace"), hashlib.sha256).digest()
    return "p-" + base64.b32encode(digest[:20]).decode("ascii").lower()


def person_subject(settings: Settings, id_number: str) -> str:
    return subject_of(id_number, subject_key(settings))


def entity_subject(credit_code: str) -> str:
    """An enterprise as a subject: its unified social credit code is public, so it names itself."""
    return "e-" + credit_code.strip().upper()
