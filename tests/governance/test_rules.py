"""The rule engine on its own (no database): cached answers and refusals give the same outcome as the
first time, a refusal met again and again costs no memory, and a kept refusal holds on to nothing of
the pass that met it."""

from __future__ import annotations

import gc
import weakref

from zhongtai.governance.rules import RULES, RawRow, RuleEngine

ENGINE_RULES = [
    {"id": "sfzh", "kind": "standardize", "item": "sfzh"},
    {"id": "xzqh", "kind": "standardize", "item": "xzqh", "on_fail": "clear"},
]
KINDS = {"ID": "id_number", "DIV": "division_code"}
ITEMS: dict[str, str | None] = {"sfzh": "ID", "xzqh": "DIV"}


def engine() -> RuleEngine:
    return RuleEngine(RULES.validate_python(ENGINE_RULES), 1, KINDS, ITEMS)


def rows(count: int, data: dict[str, object]) -> list[RawRow]:
    return [RawRow(1, f"{n:06d}", 1, dict(data)) for n in range(count)]


def test_the_same_value_gets_the_same_outcome_every_time() -> None:
    outcome = engine().apply(
        rows(3, {"sfzh": "11010519491231002x", "xzqh": "999999"}) + rows(2, {"sfzh": "12345", "xzqh": None})
    )
    assert [kept.data for kept in outcome.kept] == [{"sfzh": "11010519491231002X", "xzqh": None}] * 3
    assert all(kept.changes and kept.changes["xzqh"]["rule"] == "xzqh" for kept in outcome.kept)
    assert [(r.rule_id, r.item) for r in outcome.refused] == [("sfzh", "sfzh")] * 2
    assert len({r.reason for r in outcome.refused}) == 1


def test_a_refusal_met_again_and_again_does_not_grow() -> None:
    rules = engine()
    outcome = rules.apply(rows(5_000, {"sfzh": "12345"}))
    assert len(outcome.refused) == 5_000 and not outcome.kept
    (refusal,) = rules.memos["sfzh"].cache.values()
    assert refusal.__traceback__ is None  # a traceback would keep every frame on it


class _PassObject:
    """Something a pass holds while it applies rules (its claims, its pages)."""


def test_a_kept_refusal_does_not_keep_the_pass_that_met_it_alive() -> None:
    rules = engine()

    def governing_pass() -> weakref.ref[_PassObject]:
        held = _PassObject()
        for _ in range(2):  # the first refusal computed and cached, the second raised from the cache
            assert len(rules.apply(rows(2, {"sfzh": "12345"})).refused) == 2
        return weakref.ref(held)

    gc.disable()  # freed by reference counting as the pass returns, not by a later full collection
    try:
        assert governing_pass()() is None
    finally:
        gc.enable()
