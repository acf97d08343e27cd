"""A person code carries a pseudonym and masked values only; a place code names its place."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from tests.healthcode.test_envelope import NOW, SIGNER, TRUST
from tests.healthcode.test_rules import RULES, T0, fact
from zhongtai.core.pseudonym import subject_key, subject_of
from zhongtai.core.settings import Settings
from zhongtai.healthcode.codes import person_claims, place_claims
from zhongtai.healthcode.envelope import AK_CLAIM, open_code, seal
from zhongtai.healthcode.rules import Fact, colour_of

SETTINGS = Settings(secret_key="a-test-secret-that-is-long-enough-for-production-use")
KEY = subject_key(SETTINGS)


def an_id(n: int) -> str:
    stem = f"340104{1950 + n % 60}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return stem + ric.calc_check_digit(stem)


def test_the_subject_id_is_stable_normalized_and_never_the_number() -> None:
    number = an_id(7)
    subject = subject_of(number, KEY)
    assert subject == subject_of(number.lower(), KEY) and subject.startswith("p-")
    assert number not in subject and number[6:14] not in subject
    assert subject != subject_of(an_id(8), KEY)
    other_platform = subject_key(Settings(secret_key="another-platform-secret-of-enough-length-xyz"))
    assert subject != subject_of(number, other_platform)  # no cross-platform linking


@settings(max_examples=100, deadline=None, database=None)
@given(st.integers(0, 10**6), st.sampled_from(["王小明", "欧阳娜娜", "李", "司马相如"]))
def test_a_person_code_shows_only_masked_values(n: int, name: str) -> None:
    number = an_id(n)
    verdict = colour_of([fact(Fact.SYMPTOMS)], RULES, T0)
    claims = person_claims(subject_of(number, KEY), name, number, verdict, SETTINGS, NOW)
    text = seal(claims, SIGNER)
    shown = open_code(text, TRUST, NOW)
    code = shown.claims[AK_CLAIM]
    assert code["c"] == "yellow" and code["v"] == RULES.version and code["t"] == "person"
    assert (
        code["i"].startswith(number[:3])
        and code["i"].endswith(number[-4:])
        and number not in str(shown.claims)
    )
    assert (code["n"][0] == name[0] and name not in str(code["n"])) or len(name) == 1
    assert shown.expires_at - shown.issued_at == timedelta(minutes=SETTINGS.healthcode_person_minutes)


def test_a_place_code_names_its_place_and_lives_long() -> None:
    shown = open_code(
        seal(place_claims("CS-000123", "瑶海区明光路菜市场", SETTINGS, NOW), SIGNER), TRUST, NOW
    )
    assert shown.claims[AK_CLAIM] == {"t": "place", "p": "CS-000123", "n": "瑶海区明光路菜市场"}
    assert shown.expires_at - shown.issued_at == timedelta(days=SETTINGS.healthcode_place_days)
