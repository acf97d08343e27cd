"""Probabilistic matching (概率匹配) of person rows whose ID number is broken, with Splink.

A department row with a mistyped ID number fails GB 11643 and cannot join the population base by key.
Its true number is nearly always one keystroke away (a digit changed, two swapped), and the check digit
still belongs to the true number, so the candidates are the numbers one edit away that carry a valid
check digit and exist in the base. Splink (Fellegi–Sunter, DuckDB) then scores each row against its
candidates on ID-number edit distance, name similarity and birth date; a row is linked to its best
candidate at match probability ≥ ``THRESHOLD``, else left unlinked.

The m and u probabilities are set, not trained per pass: a pass sees a few hundred such rows, too few to
train on, and the error model is known (one keystroke in an ID number; homophones in names; a birth
date is either right or missing). They are stated in ``_settings`` and documented in
``docs/architecture.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.internals.duckdb.database_api import DuckDBAPI
from stdnum.cn import ric

from zhongtai.governance.elements import normalize_width

THRESHOLD = 0.9
log = logging.getLogger("zhongtai.governance.matching")


@dataclass(frozen=True)
class Unkeyed:
    """A row whose ID number failed: what it says about the person."""

    ref: str
    id_text: str
    name: str | None
    birth_date: str | None


@dataclass(frozen=True)
class Candidate:
    key: str
    name: str | None
    birth_date: str | None


@dataclass(frozen=True)
class Match:
    ref: str
    key: str
    probability: float


def nearby_numbers(text: str) -> set[str]:
    """Valid 18-character ID numbers one substitution or one adjacent swap away from ``text``'s first
    17 characters (the check character kept: it was computed from the true number)."""
    number = normalize_width(text).strip().upper()
    if len(number) != 18 or not number[:17].isdigit():
        return set()
    body, check = number[:17], number[17]
    variants: set[str] = set()
    for position in range(17):
        for digit in "0123456789":
            if digit != body[position]:
                variants.add(body[:position] + digit + body[position + 1 :])
        if position < 16 and body[position] != body[position + 1]:
            variants.add(body[:position] + body[position + 1] + body[position] + body[position + 2 :])
    return {v + check for v in variants if ric.calc_check_digit(v + check) == check}


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="link_only",
        probability_two_random_records_match=0.01,
        comparisons=[
            cl.DamerauLevenshteinAtThresholds("id_number", [1, 2]).configure(
                m_probabilities=[0.01, 0.9, 0.07, 0.02], u_probabilities=[1e-7, 1e-4, 1e-3, 0.9989]
            ),
            cl.JaroWinklerAtThresholds("name", [0.8]).configure(
                m_probabilities=[0.9, 0.07, 0.03], u_probabilities=[0.001, 0.01, 0.989]
            ),
            cl.ExactMatch("birth_date").configure(
                m_probabilities=[0.97, 0.03], u_probabilities=[5e-5, 0.99995]
            ),
        ],
        blocking_rules_to_generate_predictions=[block_on("candidate")],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def match(rows: Iterable[Unkeyed], candidates: dict[str, Candidate]) -> list[Match]:
    """Link each row to its most probable candidate among the numbers near its own, if probable enough.

    ``candidates``: base persons by key, at least those whose keys are near the rows' numbers.
    """
    left: dict[str, list[Any]] = {
        "unique_id": [],
        "candidate": [],
        "id_number": [],
        "name": [],
        "birth_date": [],
    }
    for row in rows:
        for key in nearby_numbers(row.id_text):
            if key in candidates:
                left["unique_id"].append(f"{row.ref}|{key}")
                left["candidate"].append(key)
                left["id_number"].append(normalize_width(row.id_text).strip().upper())
                left["name"].append(row.name)
                left["birth_date"].append(row.birth_date)
    if not left["unique_id"]:
        return []
    wanted = sorted(set(left["candidate"]))
    right = {
        "unique_id": wanted,
        "candidate": wanted,
        "id_number": wanted,
        "name": [candidates[k].name for k in wanted],
        "birth_date": [candidates[k].birth_date for k in wanted],
    }
    database = DuckDBAPI()
    linker = Linker(
        [
            database.register(pa.table(left), table_name="unkeyed"),
            database.register(pa.table(right), table_name="base"),
        ],
        _settings(),
        log_level=logging.WARNING,
    )
    scored = linker.inference.predict(threshold_match_probability=THRESHOLD, warning_mode="never")
    best: dict[str, Match] = {}
    for pair in scored.as_record_list():
        left_id = pair["unique_id_l"] if pair["source_dataset_l"] == "unkeyed" else pair["unique_id_r"]
        ref, key = str(left_id).rsplit("|", 1)
        probability = float(pair["match_probability"])
        if ref not in best or probability > best[ref].probability:
            best[ref] = Match(ref, key, probability)
    return list(best.values())
