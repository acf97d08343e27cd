"""JSON from outside, read with a depth limit: a body nested a thousand levels deep would exhaust the
interpreter's recursion (in the parser, in validation, in the JSON writer) long after it was accepted."""

from __future__ import annotations

import re

from zhongtai.core.errors import M_, BadRequest

MAX_JSON_DEPTH = 32  # the platform's own documents (mappings, rules, schemas) nest less than ten levels
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_OPENING = frozenset(b"[{")


def json_depth(raw: bytes) -> int:
    """How deeply ``raw`` nests arrays and objects, read from its brackets outside strings (no parsing)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b"", raw)):
        if bracket[0] in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check_depth(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> None:
    """400 ``invalid_json`` when ``raw`` nests deeper than ``limit``."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") > limit and json_depth(data) > limit:
        raise BadRequest(M_("the JSON nests deeper than %(limit)s levels", limit=limit), code="invalid_json")
