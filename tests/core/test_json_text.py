"""JSON text as the platform stores it: orjson does the work, but the values read back are exactly the
standard library's, and so is the text but for the spelling of some floats — including where orjson
alone would differ (NaN, integers beyond 64 bits, lone surrogates)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from zhongtai.core.types import as_json, from_json

STDLIB = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

exact = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson cannot write them and reads them as floats
    | st.integers(min_value=2**63 - 5, max_value=2**70)
    | st.text()  # lone surrogates, control characters, NUL
    | st.sampled_from(["null", "张三·李", "\u2028", "\ud800", "🙂", "x" * 300])
)
# NaN and infinities (orjson would write null), tiny and huge floats (spelled differently)
floats = st.floats() | st.sampled_from([1e-7, 1e-05, 5e-324, 1e22, -0.0])


def nested(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
        max_leaves=30,
    )


def same(a: Any, b: Any) -> bool:
    """Equality that counts NaN as equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(nested(exact))
@example({"a": [2**64, "\ud800"]})
def test_written_as_the_standard_library_writes(value: Any) -> None:
    assert as_json([value]) == STDLIB([value])  # in a list: a bare None is SQL NULL, not JSON text


@given(nested(exact | floats))
@example(float("nan"))
@example({"a": [float("-inf"), 1e-7, 2**64]})
def test_what_is_written_reads_back_as_the_same_values(value: Any) -> None:
    written = as_json([value]) or ""
    assert same(json.loads(written), [value]) and same(from_json(written), [value])


@given(nested(exact | floats))
def test_read_back_exactly_as_the_standard_library_reads(value: Any) -> None:
    text = STDLIB(value)
    assert same(from_json(text), json.loads(text))


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    number = 123456789012345678901234567890
    assert from_json(as_json({"n": number}) or "") == {"n": number}


def test_none_is_no_text_and_bad_text_is_refused_as_the_standard_library_refuses_it() -> None:
    assert as_json(None) is None and from_json(None) is None
    try:
        from_json("{not json")
    except json.JSONDecodeError:
        pass
    else:
        raise AssertionError("malformed JSON was read")
