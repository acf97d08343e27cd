"""Subject ids: the fast encoding gives exactly what the plain recipe (compact, HMAC, Base32) gives."""

from __future__ import annotations

import base64
import hashlib
import hmac

from hypothesis import example, given
from hypothesis import strategies as st
from stdnum.cn import ric

from zhongtai.core.pseudonym import subject_of


def plainly(id_number: str, key: bytes) -> str:
    number = ric.compact(id_number).upper()
    digest = hmac.new(key, number.encode("ascii", "replace"), hashlib.sha256).digest()
    return "p-" + base64.b32encode(digest[:20]).decode("ascii").lower()


ID_LIKE = st.one_of(
    st.from_regex(r"[0-9]{17}[0-9Xx]", fullmatch=True),
    st.from_regex(r" ?[0-9０-９]{6}[ -]?[0-9]{11}[0-9Xx] ?", fullmatch=True),
    st.text(max_size=30),
)


@given(ID_LIKE, st.binary(min_size=1, max_size=64))
@example("11010519491231002x", b"key")
@example("１１０１０５19491231002X", b"key")
def test_subject_is_the_hmac_of_the_compact_number_in_base32(id_number: str, key: bytes) -> None:
    assert subject_of(id_number, key) == plainly(id_number, key)


@given(st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True), st.binary(min_size=16, max_size=32))
def test_spellings_of_one_number_name_one_subject(number: str, key: bytes) -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number[:6]) + number[6:]
    for spelling in (f" {number.lower()} ", full_width):
        assert subject_of(spelling, key) == subject_of(number, key)
    assert len(subject_of(number, key)) == 34
