"""A person's pseudonymous subject id: how the platform names a person where the ID number must not
appear — in health codes, their evidence and colours, and the audit trail's subject column (so a "who
used my data" view finds a person's entries by an index, and nobody reading the trail learns the number)."""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

from stdnum.cn import ric

from zhongtai.core.settings import Settings


def subject_key(settings: Settings) -> bytes:
    """The key behind subject ids, derived from the platform's secret for this use alone."""
    return hmac.new(settings.secret_key.encode(), b"zhongtai healthcode subject", hashlib.sha256).digest()


# Base32 (RFC 4648, lower case) ten bits at a time: ``base64.b32encode`` is pure Python in 3.11 and
# took half of a gateway lookup's subject (a per-call step)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_PAIRS = tuple(first + second for first in _ALPHABET for second in _ALPHABET)
_SHIFTS = tuple(range(150, -1, -10))
_COMPACT = re.compile(r"[0-9]{17}[0-9X]")  # already what ric.compact(...).upper() returns


@lru_cache(maxsize=8)  # keyed once: keying costs more than hashing an ID number
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def subject_of(id_number: str, key: bytes) -> str:
    """HMAC-SHA256 of the normalized ID number (a lowercase x is an X, full-width digits are digits),
    20 bytes in Base32. Stable for a key; without the key it reveals nothing about the number and cannot
    be turned back into it."""
    number = id_number if _COMPACT.fullmatch(id_number) else ric.compact(id_number).upper()
    mac = _keyed(key).copy()
    mac.update(number.encode("ascii", "replace"))
    digest = mac.digest()
    value = int.from_bytes(digest[:20], "big")
    return "p-" + "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def person_subject(settings: Settings, id_number: str) -> str:
    return subject_of(id_number, subject_key(settings))


def entity_subject(credit_code: str) -> str:
    """An enterprise as a subject: its unified social credit code is public, so it names itself."""
    return "e-" + credit_code.strip().upper()
