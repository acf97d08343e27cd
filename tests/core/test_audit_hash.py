"""An audit entry's hash is taken over the standard library's canonical JSON (sorted keys, compact, other
objects as ``str``). orjson writes it where it can; whatever the values, the bytes — and so every hash
already in a trail — stay the standard library's."""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from zhongtai.core.audit import HASHED_FIELDS, canonical_bytes, entry_hash


def reference(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


class Colour(enum.Enum):  # the stdlib writes str(member), orjson would write its value
    RED = 1


class Outcome(enum.StrEnum):
    DENIED = "denied"


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 3, max_value=2**70)  # beyond 64 bits: orjson cannot write them
    | st.floats()  # some spelled differently by orjson (1e-07), NaN and infinities
    | st.sampled_from([1e-07, 1e16, 5e-324, float("nan"), float("-inf")])
    | st.text()
    | st.sampled_from(["\ud800", "张三", "\u2028", "\x00\x1f\x7f", Colour.RED, Outcome.DENIED])
    | st.datetimes(timezones=st.just(UTC))
    | st.dates()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.sampled_from(["\ud800", "b", "Á"]), inner, max_size=4)
        | st.dictionaries(st.integers(0, 9), inner, max_size=3)  # keys the stdlib turns into text
        | st.tuples(inner, inner)
    ),
    max_leaves=20,
)


@given(values)
@example({"b": 1, "a": [1e-07]})
@example({"a": [2**64]})
@example({"a": ["\ud800"]})
@example([Colour.RED, {"k": date(2026, 1, 1)}])
def test_canonical_bytes_are_the_standard_library_s(value: Any) -> None:
    try:
        expected = reference(value)
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8: refused the same way
        with pytest.raises(UnicodeEncodeError):
            canonical_bytes(value)
        return
    assert canonical_bytes(value) == expected


@given(st.dictionaries(st.sampled_from(HASHED_FIELDS), values), st.text(max_size=3))
def test_an_entry_s_hash_is_the_one_its_canonical_json_gives(fields: dict[str, Any], subject: str) -> None:
    fields = {**fields, "occurred_at": datetime(2026, 12, 8, 3, 0, tzinfo=UTC), "subject": subject or None}
    values = [fields.get(name) for name in HASHED_FIELDS]
    values[HASHED_FIELDS.index("occurred_at")] = "2026-12-08T03:00:00.000000+00:00"
    if subject:
        values.append(["subject", subject])
    try:
        expected = hashlib.sha256(reference(["f" * 64, values])).hexdigest()
    except UnicodeEncodeError:
        return  # as above
    assert entry_hash(fields, "f" * 64) == expected
