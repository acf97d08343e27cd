"""RFC 9421 verification against signatures made by the third-party ``http-message-signatures`` library:
accepted as signed, refused when one byte of what was signed changes."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.gateway.helpers import BASE_URL as BASE
from tests.gateway.helpers import Credentials, Message, ed25519_pem, sign
from zhongtai.capabilities.models import KeyAlgorithm
from zhongtai.core.errors import Unauthenticated
from zhongtai.gateway.signatures import RequestParts, _parse_input_slowly, parse_input, verify
from zhongtai.gateway.state import KeyEntry, _ed25519, secret_bytes

SECRET = base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")
HMAC_KEY = KeyEntry("app.k1", 1, KeyAlgorithm.HMAC_SHA256, secret_bytes(SECRET), None)
PUBLIC, PRIVATE = ed25519_pem()
ED_KEY = KeyEntry("app.k2", 1, KeyAlgorithm.ED25519, None, _ed25519(PUBLIC))
KEYS = {HMAC_KEY.key_id: HMAC_KEY, ED_KEY.key_id: ED_KEY}
HMAC = Credentials("app.k1", secret=SECRET)
ED = Credentials("app.k2", private_pem=PRIVATE)


def parts(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> RequestParts:
    target, _, query = path.partition("?")
    lowered = {name.lower(): value for name, value in headers.items()}
    if body and "content-digest" not in lowered:
        raise AssertionError("the signer should have added Content-Digest")
    return RequestParts(method, "http", "testserver", target, query, lowered, body)


def check(request: RequestParts) -> str:
    return verify(request, KEYS, time.time(), 30, 300).key.key_id


@pytest.mark.parametrize("credentials", [HMAC, ED], ids=["hmac-sha256", "ed25519"])
def test_library_signature_is_accepted_and_one_changed_byte_is_refused(credentials: Credentials) -> None:
    body = json.dumps({"公民身份号码": "110101199003070014", "姓名": "张三"}, ensure_ascii=False).encode()
    path = "/gw/person.verify?x=1"
    headers = sign(credentials, "POST", path, body=body, end_user="u-42")
    assert check(parts("POST", path, headers, body)) == credentials.key_id
    flipped = bytearray(body)
    flipped[5] ^= 1
    for altered in (
        parts("POST", path, headers, bytes(flipped)),  # the body
        parts("POST", "/gw/person.verify?x=2", headers, body),  # the query
        parts("PUT", path, headers, body),  # the method
        parts("POST", path, {**headers, "X-Purpose": headers["X-Purpose"] + "x"}, body),  # a covered header
        parts("POST", path, {**headers, "X-End-User": "u-43"}, body),
    ):
        with pytest.raises(Unauthenticated) as refused:
            check(altered)
        assert refused.value.code in ("signature_invalid", "digest_mismatch")


def test_uncovered_purpose_and_bodies_without_digest_are_refused() -> None:
    path = "/gw/person.by-id/1"
    headers = sign(HMAC, "GET", path, purpose=None)
    request = parts("GET", path, {**headers, "X-Purpose": "sneaked-in"})
    with pytest.raises(Unauthenticated) as refused:
        check(request)
    assert refused.value.code == "signature_coverage"
    signed = sign(HMAC, "POST", "/gw/person.verify", body=b"{}")
    without_digest = {k: v for k, v in signed.items() if k.lower() != "content-digest"}
    with pytest.raises(Unauthenticated):
        check(
            parts("POST", "/gw/person.verify", without_digest | {"content-digest": "sha-256=:AAAA:"}, b"{}")
        )


def test_a_key_signs_only_with_its_own_algorithm() -> None:
    path = "/gw/x/1"
    impostor = Credentials("app.k2", secret=SECRET)  # HMAC claiming the Ed25519 key's id
    with pytest.raises(Unauthenticated):
        check(parts("GET", path, sign(impostor, "GET", path)))
    other = Credentials("app.k2", private_pem=ed25519_pem()[1])  # another Ed25519 key, same id
    with pytest.raises(Unauthenticated) as refused:
        check(parts("GET", path, sign(other, "GET", path)))
    assert refused.value.code == "signature_invalid"


@settings(max_examples=200, deadline=None)
@given(
    label=st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True),
    components=st.lists(
        st.sampled_from(["@method", "@target-uri", "@authority", "x-purpose", "content-digest"]),
        unique=True,
        min_size=1,
    ),
    created=st.integers(min_value=0, max_value=2**40),
    nonce=st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters='"\\'),
        min_size=1,
        max_size=30,
    ),
    key_id=st.from_regex(r"[a-z0-9.-]{1,20}", fullmatch=True),
    expires=st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40)),
    order=st.sampled_from(["ours", "shuffled"]),
    data=st.data(),
)
def test_fast_parser_agrees_with_the_structured_field_parser(
    label: str,
    components: list[str],
    created: int,
    nonce: str,
    key_id: str,
    expires: int | None,
    order: str,
    data: st.DataObject,
) -> None:
    """Both fast paths — the exact order our signer writes, and any order — read what the structured-
    field parser reads."""
    names = " ".join(f'"{c}"' for c in components)
    params = [f"created={created}", f'keyid="{key_id}"', 'alg="hmac-sha256"']
    params += [f"expires={expires}"] if expires is not None else []
    params.append(f'nonce="{nonce}"')
    if order == "shuffled":
        params = data.draw(st.permutations(params))
    header = f"{label}=({names});{';'.join(params)}"
    fast, slow = parse_input(header), _parse_input_slowly(header)
    assert (fast.label, fast.components, fast.params, fast.serialized) == (
        slow.label,
        slow.components,
        slow.params,
        slow.serialized,
    )


@given(st.text(max_size=200))
def test_any_header_is_refused_cleanly_or_parsed(header: str) -> None:
    try:
        parsed = parse_input(header)
    except Unauthenticated as refused:  # a named refusal, never another exception
        assert refused.code.startswith("signature_")
    else:
        assert parsed.serialized.startswith("(")


class _PublicKeys(HTTPSignatureKeyResolver):
    """The library's verifier looks keys up by id: the HMAC secret, or the Ed25519 public key."""

    def resolve_public_key(self, key_id: str) -> Any:
        entry = KEYS[key_id]
        return entry.secret if entry.secret is not None else entry.public_key

    def resolve_private_key(self, key_id: str) -> Any:
        raise NotImplementedError


def _library_accepts(method: str, url: str, headers: dict[str, str], credentials: Credentials) -> bool:
    """The reference: ``http-message-signatures``' own verifier (the signature and its base only — the
    library checks no digest, coverage, nonce or key policy)."""
    verifier = HTTPMessageVerifier(signature_algorithm=credentials.algorithm, key_resolver=_PublicKeys())
    try:
        verifier.verify(Message(method, url, dict(headers)), max_age=dt.timedelta(minutes=5))
    except (
        HTTPMessageSignaturesException,
        InvalidSignature,
        ValueError,
        KeyError,
        TypeError,
        AssertionError,
    ):
        return False
    return True


def _ours_accepts(method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        check(parts(method, path, headers, body) if body else parts(method, path, headers))
    except Unauthenticated:
        return False
    return True


MUTATIONS = st.sampled_from(
    ["none", "method", "query", "purpose", "end-user", "signature", "input-order", "input-param", "label"]
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([HMAC, ED]),
    MUTATIONS,
    st.integers(0, 10_000),
    st.text(alphabet="abcxyz0123456789-", min_size=1, max_size=12),
)
def test_the_fast_verifier_and_the_library_agree_on_what_is_validly_signed(
    credentials: Credentials, mutation: str, position: int, text: str
) -> None:
    """Differential: the same requests, signed by the library and then altered one way or another, are
    accepted by the gateway's verifier only where the library's own verifier accepts them, and every
    unaltered one by both."""
    path = f"/gw/person.by-id/{text}?x={position}"
    headers = sign(credentials, "GET", path, end_user="u-1")
    method, sent = "GET", path
    if mutation == "method":
        method = "DELETE"
    elif mutation == "query":
        sent = f"/gw/person.by-id/{text}?x={position + 1}"
    elif mutation == "purpose":
        headers["X-Purpose"] += text
    elif mutation == "end-user":
        headers["X-End-User"] = text
    elif mutation == "signature":
        label, value = headers["Signature"].split("=", 1)
        raw = bytearray(base64.b64decode(value.strip(":")))
        raw[position % len(raw)] ^= 1 + position % 255
        headers["Signature"] = f"{label}=:{base64.b64encode(bytes(raw)).decode()}:"
    elif mutation == "input-order":
        headers["Signature-Input"] = headers["Signature-Input"].replace(
            '("@method" "@target-uri"', '("@target-uri" "@method"'
        )
    elif mutation == "input-param":
        headers["Signature-Input"] = headers["Signature-Input"].replace(";created=", ";created=1")
    elif mutation == "label":
        headers["Signature"] = "other" + headers["Signature"][headers["Signature"].index("=") :]
    library = _library_accepts(method, BASE + sent, headers, credentials)
    ours = _ours_accepts(method, sent, headers, b"")
    assert not ours or library, f"the gateway accepted what the library refuses ({mutation})"
    if mutation == "none":
        assert ours and library
    else:
        assert not ours, f"the gateway accepted an altered request ({mutation})"
