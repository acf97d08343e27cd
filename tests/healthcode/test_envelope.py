"""The signed code envelope: round trips, every single-byte change refused at the stage that catches it,
the DCC's variations (kid unprotected, PS256, certificates sharing a kid) and pycose as the reference."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycose.algorithms import Es256, Ps256
from pycose.headers import KID, Algorithm
from pycose.keys import EC2Key, RSAKey
from pycose.messages import CoseMessage, Sign1Message

from zhongtai.healthcode.envelope import (
    AK_CLAIM,
    AK_PREFIX,
    EXP,
    HC_PREFIX,
    HCERT,
    IAT,
    ISS,
    CodeSigner,
    EnvelopeError,
    Stage,
    TrustList,
    open_code,
    seal,
)

NOW = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SIGNER = CodeSigner(b"\x01\x02\x03\x04\x05\x06\x07\x08", EC_KEY)
TRUST = TrustList({SIGNER.kid: [EC_KEY.public_key()]})


def person_claims(minutes: int = 3, **values: Any) -> dict[int, Any]:
    code = {"t": "person", "c": "green", "n": "王*", "i": "340***********1234", "s": "p-7f3a", "v": 3}
    expires = int((NOW + timedelta(minutes=minutes)).timestamp())
    return {ISS: "CN-340100", IAT: int(NOW.timestamp()), EXP: expires, AK_CLAIM: {**code, **values}}


# One code for the property tests: ECDSA signatures are random, and a drawn position must fit every run.
A_CODE = seal(person_claims(), SIGNER)


def refusal(text: str, at: datetime = NOW, trust: TrustList = TRUST) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as caught:
        open_code(text, trust, at)
    return caught.value


def rewrap(message: bytes, prefix: str = AK_PREFIX) -> str:
    return prefix + base45.b45encode(zlib.compress(message)).decode()


def cose_of(text: str) -> bytes:
    return zlib.decompress(base45.b45decode(text[4:]))


def test_a_code_round_trips_with_its_claims() -> None:
    text = seal(person_claims(), SIGNER)
    assert text.startswith("AK1:") and set(text[4:]) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    opened = open_code(text, TRUST, NOW + timedelta(minutes=1))
    assert (
        opened.claims[AK_CLAIM]["c"] == "green" and opened.kid == SIGNER.kid and opened.issuer == "CN-340100"
    )


@pytest.mark.parametrize(
    ("moment", "stage"),
    [(NOW + timedelta(minutes=3), Stage.EXPIRY), (NOW - timedelta(seconds=1), Stage.EXPIRY)],
)
def test_expired_and_not_yet_valid_codes_are_refused(moment: datetime, stage: Stage) -> None:
    assert refusal(seal(person_claims(), SIGNER), at=moment).stage is stage


def test_each_stage_names_what_it_caught() -> None:
    good = seal(person_claims(), SIGNER)
    assert refusal("XX1:" + good[4:]).stage is Stage.PREFIX
    assert refusal(AK_PREFIX + "a lowercase ~ is not base45").stage is Stage.BASE45
    assert refusal(AK_PREFIX + base45.b45encode(b"not zlib at all").decode()).stage is Stage.ZLIB
    assert refusal(rewrap(b"\xff\xfe not cbor")).stage is Stage.COSE
    assert refusal(rewrap(cbor2.dumps({"a": "map, not COSE"}))).stage is Stage.COSE
    assert refusal(rewrap(cbor2.dumps(cbor2.CBORTag(17, [b"", {}, b"", b""])))).stage is Stage.COSE
    stranger = CodeSigner(b"unknown!", ec.generate_private_key(ec.SECP256R1()))
    assert refusal(seal(person_claims(), stranger)).stage is Stage.KID
    impostor = CodeSigner(SIGNER.kid, ec.generate_private_key(ec.SECP256R1()))  # the right kid, another key
    assert refusal(seal(person_claims(), impostor)).stage is Stage.SIGNATURE
    not_cbor_payload = _sign1_with_payload(b"\xff")
    assert refusal(not_cbor_payload).stage is Stage.PAYLOAD


def _sign1_with_payload(payload: bytes) -> str:
    """A properly signed COSE_Sign1 whose payload is not CBOR (made with pycose)."""
    message = Sign1Message(phdr={Algorithm: Es256, KID: SIGNER.kid}, payload=payload)
    message.key = EC2Key._from_cryptography_key(EC_KEY)
    return rewrap(message.encode())


def test_a_revoked_code_is_refused_online_with_the_reason() -> None:
    text = seal(person_claims(), SIGNER)
    with pytest.raises(EnvelopeError) as caught:
        open_code(text, TRUST, NOW, revoked=lambda opened: "the colour changed to red after issue")
    assert caught.value.stage is Stage.REVOKED and "red" in caught.value.reason
    assert caught.value.payload is not None and caught.value.payload[AK_CLAIM]["c"] == "green"


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    derandomize=True,
)
@given(data=st.data())
def test_every_single_byte_change_of_the_text_is_refused(data: st.DataObject) -> None:
    text = A_CODE
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(
        st.characters(min_codepoint=32, max_codepoint=126).filter(lambda c: c != text[position])
    )
    changed = text[:position] + replacement + text[position + 1 :]
    assert refusal(changed).stage in set(Stage)  # refused, at a named stage: never accepted, never a crash


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(data=st.data())
def test_every_single_byte_change_inside_the_signed_message_is_caught_by_the_signature_check(
    data: st.DataObject,
) -> None:
    """Past the transport layers (Base45, zlib), a changed byte is caught by COSE parsing, the kid lookup or
    — for anything signed or the signature itself — the signature check; never accepted."""
    message = bytearray(cose_of(A_CODE))
    position = data.draw(st.integers(0, len(message) - 1))
    message[position] ^= data.draw(st.integers(1, 255))
    stage = refusal(rewrap(bytes(message))).stage
    assert stage in (Stage.COSE, Stage.KID, Stage.SIGNATURE, Stage.PAYLOAD)


def test_codes_made_here_verify_with_pycose() -> None:
    decoded = CoseMessage.decode(cose_of(seal(person_claims(), SIGNER)))
    decoded.key = EC2Key._from_cryptography_key(EC_KEY.public_key())
    assert decoded.verify_signature()
    assert cbor2.loads(decoded.payload)[AK_CLAIM]["n"] == "王*"


def dcc_by_pycose(key: Any, algorithm: Any, kid: bytes, protected_kid: bool, claims: dict[int, Any]) -> str:
    """An EU DCC as another implementation (pycose) makes it: hcert claim -260, HC1 prefix."""
    phdr: dict[Any, Any] = {Algorithm: algorithm}
    uhdr: dict[Any, Any] = {}
    (phdr if protected_kid else uhdr)[KID] = kid
    message = Sign1Message(phdr=phdr, uhdr=uhdr, payload=cbor2.dumps(claims))
    message.key = (
        EC2Key._from_cryptography_key(key) if algorithm is Es256 else RSAKey._from_cryptography_key(key)
    )
    return rewrap(message.encode(), HC_PREFIX)


CERTIFICATE = {"ver": "1.3.0", "nam": {"fn": "Mustermann", "gn": "Erika"}, "dob": "1964-08-12"}
DCC_CLAIMS = {
    ISS: "DE",
    IAT: int(NOW.timestamp()),
    EXP: int((NOW + timedelta(days=30)).timestamp()),
    HCERT: {1: CERTIFICATE},
}


@pytest.mark.parametrize("protected_kid", [True, False])
@pytest.mark.parametrize(("algorithm", "private"), [(Es256, EC_KEY), (Ps256, RSA_KEY)])
def test_the_same_reader_verifies_eu_dcc_codes(protected_kid: bool, algorithm: Any, private: Any) -> None:
    kid = b"DCC-kid!"
    text = dcc_by_pycose(private, algorithm, kid, protected_kid, DCC_CLAIMS)
    trust = TrustList({kid: [private.public_key()]})
    opened = open_code(text, trust, NOW)
    assert opened.prefix == HC_PREFIX and opened.claims[HCERT][1]["nam"]["fn"] == "Mustermann"
    assert opened.algorithm == (-7 if algorithm is Es256 else -37)
    with pytest.raises(EnvelopeError) as wrong_prefix:
        open_code(text, trust, NOW, prefixes=(AK_PREFIX,))  # a DCC where a 安康码 is expected
    assert wrong_prefix.value.stage is Stage.PREFIX


def test_the_protected_kid_wins_and_every_certificate_sharing_a_kid_is_tried() -> None:
    kid, other = b"sharedk1", b"decoyk22"
    text = _protected_and_unprotected_kid(kid, other)
    decoy_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    trust = TrustList({kid: [decoy_key, EC_KEY.public_key()], other: [EC_KEY.public_key()]})
    assert open_code(text, trust, NOW).kid == kid  # the protected one, and the second key of that kid
    assert refusal(text, trust=TrustList({other: [EC_KEY.public_key()]})).stage is Stage.KID


def _protected_and_unprotected_kid(protected: bytes, unprotected: bytes) -> str:
    message = Sign1Message(
        phdr={Algorithm: Es256, KID: protected}, uhdr={KID: unprotected}, payload=cbor2.dumps(DCC_CLAIMS)
    )
    message.key = EC2Key._from_cryptography_key(EC_KEY)
    return rewrap(message.encode(), HC_PREFIX)


def test_an_oversized_or_inflating_code_is_refused_before_it_costs_memory() -> None:
    bomb = rewrap(b"\x00" * 200_000)
    assert refusal(bomb).stage is Stage.ZLIB
    assert refusal(AK_PREFIX + "0" * 5000).stage is Stage.BASE45


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=600))
def test_fast_base45_matches_the_base45_package(data: bytes) -> None:
    from zhongtai.healthcode import base45fast

    text = base45fast.encode(data)
    assert text == base45.b45encode(data).decode()
    assert base45fast.decode(text) == data


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:abc~", max_size=30))
def test_fast_base45_refuses_what_the_package_refuses(text: str) -> None:
    from zhongtai.healthcode import base45fast

    try:
        expected: bytes | None = bytes(base45.b45decode(text))
    except (ValueError, KeyError):
        expected = None
    try:
        got: bytes | None = base45fast.decode(text)
    except ValueError:
        got = None
    assert got == expected
