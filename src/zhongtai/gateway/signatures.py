"""HTTP Message Signatures (RFC 9421) as the gateway verifies them, within a budget of microseconds.

Clients sign with any RFC 9421 library (the docs use ``http-message-signatures``; its verifier takes
~300 µs a request, too slow for the gateway's hot path, so verification is done here and tested against
that library's signatures). The profile the gateway accepts:

* exactly one signature, algorithm ``hmac-sha256`` or ``ed25519`` (the key decides; ``alg``, if given,
  must agree);
* parameters ``keyid``, ``created`` and ``nonce`` required, ``expires`` optional; the signature is at
  most ``max_age`` old, ``created`` no further in the future than the allowed clock skew, not expired;
* covered components include ``@method`` and ``@target-uri`` (or ``@authority`` + ``@path`` +
  ``@query``), every ``X-Purpose`` / ``X-End-User`` header sent, and ``content-digest`` when there is
  a body (the digest is checked against the body, SHA-256 or SHA-512);
* components carry no parameters.

Headers in the canonical serialization every library produces are read by a strict expression; anything
else goes through ``http_sf``, the structured-field parser, and is serialized back canonically.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import http_sf
from cryptography.exceptions import InvalidSignature

from zhongtai.capabilities.models import KeyAlgorithm
from zhongtai.core.errors import Unauthenticated
from zhongtai.gateway.state import KeyEntry

_CHARACTERS = r"[\x20\x21\x23-\x5b\x5d-\x7e]*"  # of a structured-field string
_STRING = f'"{_CHARACTERS}"'
_PARAM = rf"[a-z*][a-z0-9_.*-]*=(?:-?[0-9]{{1,15}}|{_STRING})"
_NAME = '"[a-z0-9@_.-]+"'
_FAST_INPUT = re.compile(
    rf"(?P<label>[a-z*][a-z0-9_.*-]*)=(?P<params>\((?P<components>(?:{_NAME}(?: {_NAME})*)?)\)"
    rf"(?P<rest>(?:;{_PARAM})*))"
)
_FAST_PARAM = re.compile(rf"([a-z*][a-z0-9_.*-]*)=(-?[0-9]{{1,15}}|{_STRING})")
# The exact shape ``GatewaySigner`` (``http-message-signatures``) writes, read by one match; any other
# order or set of parameters takes the general expression above
_INTEGER = "(-?[0-9]{1,15})"
_VALUE = f'"({_CHARACTERS})"'
_OUR_INPUT = re.compile(
    rf"([a-z*][a-z0-9_.*-]*)=(\(((?:{_NAME}(?: {_NAME})*)?)\);created={_INTEGER};keyid={_VALUE};"
    rf"alg={_VALUE};expires={_INTEGER};nonce={_VALUE})"
)
_FAST_SIGNATURE = re.compile(r"(?P<label>[a-z*][a-z0-9_.*-]*)=:(?P<value>[A-Za-z0-9+/=]*):")
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
SIGNED_HEADERS = ("x-purpose", "x-end-user")


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, per call.
@dataclass(slots=True)
class SignatureInput:
    label: str
    components: tuple[str, ...]
    params: dict[str, Any]
    serialized: str  # the @signature-params value


@dataclass(slots=True)
class Verified:
    key: KeyEntry
    nonce: str
    created: int
    expires_at: int  # until when the nonce must be remembered


@dataclass(slots=True)
class RequestParts:
    method: str
    scheme: str
    authority: str
    path: str
    query: str  # without "?"
    headers: Mapping[str, str]  # lower-case names, repeated fields joined with ", "
    body: bytes


def refuse(code: str, message: str) -> Unauthenticated:
    return Unauthenticated(message, code=code)


def parse_input(header: str) -> SignatureInput:
    ours = _OUR_INPUT.fullmatch(header)
    if ours is not None:
        return _ours(ours)
    fast = _FAST_INPUT.fullmatch(header)
    if fast is not None:
        components = _components(fast["components"])
        params: dict[str, Any] = {}
        for name, raw in _FAST_PARAM.findall(fast["rest"]):
            if name in params:
                raise refuse("signature_malformed", f"Signature-Input repeats the parameter {name}")
            params[name] = raw[1:-1] if raw.startswith('"') else int(raw)
        return SignatureInput(fast["label"], components, params, fast["params"])
    return _parse_input_slowly(header)


def _ours(match: re.Match[str]) -> SignatureInput:
    label, serialized, components, created, key_id, algorithm, expires, nonce = match.groups()
    params = {
        "created": int(created),
        "keyid": key_id,
        "alg": algorithm,
        "expires": int(expires),
        "nonce": nonce,
    }
    return SignatureInput(label, _components(components), params, serialized)


@lru_cache(maxsize=256)  # a client signs the same components on every call
def _components(listed: str) -> tuple[str, ...]:
    return tuple(name.strip('"') for name in listed.split(" ")) if listed else ()


def _parse_input_slowly(header: str) -> SignatureInput:
    try:
        parsed: Any = http_sf.parse(header.encode("latin-1"), tltype="dictionary")
    except (ValueError, UnicodeEncodeError) as exc:
        raise refuse("signature_malformed", "Signature-Input is not a structured-field dictionary") from exc
    if not isinstance(parsed, dict) or len(parsed) != 1:
        raise refuse("signature_malformed", "send exactly one signature (one Signature-Input member)")
    label, (members, params) = next(iter(parsed.items()))
    if not isinstance(members, list):
        raise refuse("signature_malformed", "a Signature-Input member must be an inner list")
    components = []
    for value, component_params in members:
        if not isinstance(value, str):
            raise refuse("signature_malformed", "covered components must be strings")
        if component_params:
            raise refuse("signature_unsupported", f"component parameters are not supported ({value})")
        components.append(value)
    serialized = http_sf.ser({label: (members, params)})[len(label) + 1 :]
    return SignatureInput(label, tuple(components), dict(params), serialized)


def parse_signature(header: str, label: str) -> bytes:
    fast = _FAST_SIGNATURE.fullmatch(header)
    if fast is not None:
        if fast["label"] != label:
            raise refuse("signature_malformed", "Signature and Signature-Input have different labels")
        try:
            return base64.b64decode(fast["value"], validate=True)
        except binascii.Error as exc:
            raise refuse("signature_malformed", "the signature is not valid base64") from exc
    try:
        parsed: Any = http_sf.parse(header.encode("latin-1"), tltype="dictionary")
    except (ValueError, UnicodeEncodeError) as exc:
        raise refuse("signature_malformed", "Signature is not a structured-field dictionary") from exc
    if not isinstance(parsed, dict) or list(parsed) != [label]:
        raise refuse("signature_malformed", "Signature and Signature-Input have different labels")
    value = parsed[label][0]
    if not isinstance(value, bytes):
        raise refuse("signature_malformed", "the signature must be a byte sequence")
    return value


def _query(request: RequestParts) -> str:
    return f"?{request.query}" if request.query else ""


DERIVED: dict[str, Callable[[RequestParts], str]] = {
    "@method": lambda r: r.method,
    "@target-uri": lambda r: f"{r.scheme}://{r.authority}{r.path}{_query(r)}",
    "@authority": lambda r: r.authority,
    "@scheme": lambda r: r.scheme,
    "@path": lambda r: r.path,
    "@query": lambda r: f"?{r.query}",
    "@request-target": lambda r: f"{r.path}{_query(r)}",
}


def _component(name: str, request: RequestParts) -> str:
    if name.startswith("@"):
        derive = DERIVED.get(name)
        if derive is None:
            raise refuse("signature_unsupported", f"the derived component {name} is not supported")
        return derive(request)
    value = request.headers.get(name)
    if value is None:
        raise refuse("signature_invalid", f"the covered header {name} is not in the request")
    return value


def signature_base(signature_input: SignatureInput, request: RequestParts) -> bytes:
    lines = [f'"{name}": {_component(name, request)}' for name in signature_input.components]
    lines.append(f'"@signature-params": {signature_input.serialized}')
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError as exc:
        raise refuse("signature_invalid", "covered values must be ASCII (percent-encode the URL)") from exc


def _check_coverage(components: tuple[str, ...], request: RequestParts) -> None:
    covered = set(components)
    if len(covered) != len(components):
        raise refuse("signature_malformed", "a component is covered twice")
    whole_target = "@target-uri" in covered or {"@authority", "@path", "@query"} <= covered
    if "@method" not in covered or not whole_target:
        raise refuse(
            "signature_coverage",
            "the signature must cover @method and @target-uri (or @authority, @path, @query)",
        )
    for header in SIGNED_HEADERS:
        if header in request.headers and header not in covered:
            raise refuse("signature_coverage", f"the signature must cover the {header} header")
    if request.body and "content-digest" not in covered:
        raise refuse("signature_coverage", "a request with a body must sign its content-digest")


def _check_digest(request: RequestParts) -> None:
    header = request.headers.get("content-digest")
    if not request.body and header is None:
        return
    if header is None:
        raise refuse("digest_mismatch", "Content-Digest is missing")
    try:
        parsed: Any = http_sf.parse(header.encode("latin-1"), tltype="dictionary")
    except (ValueError, UnicodeEncodeError) as exc:
        raise refuse("digest_mismatch", "Content-Digest is not a structured-field dictionary") from exc
    known = {name: value[0] for name, value in parsed.items() if name in _DIGESTS}
    if not known:
        raise refuse("digest_mismatch", "Content-Digest must carry sha-256 or sha-512")
    for name, expected in known.items():
        if not isinstance(expected, bytes) or not hmac.compare_digest(
            _DIGESTS[name](request.body).digest(), expected
        ):
            raise refuse("digest_mismatch", "the body does not match its Content-Digest")


def _check_times(params: Mapping[str, Any], now: float, skew: int, max_age: int) -> tuple[int, int]:
    created, expires = params.get("created"), params.get("expires")
    if type(created) is not int:
        raise refuse("signature_malformed", "the created parameter (an integer) is required")
    if expires is not None and type(expires) is not int:
        raise refuse("signature_malformed", "the expires parameter must be an integer")
    if created > now + skew:
        raise refuse("clock_skew", f"created lies more than {skew} s in the future: check the client's clock")
    if created < now - max_age - skew:
        raise refuse("signature_expired", f"the signature is older than {max_age} s")
    if expires is not None and expires < now - skew:
        raise refuse("signature_expired", "the signature has expired")
    until = created + max_age + skew if expires is None else min(expires + skew, created + max_age + skew)
    return created, int(until)


def _check_cryptography(key: KeyEntry, base: bytes, signature: bytes) -> None:
    if key.algorithm is KeyAlgorithm.HMAC_SHA256 and key.mac is not None:
        mac = key.mac.copy()
        mac.update(base)
        if hmac.compare_digest(mac.digest(), signature):
            return
    elif key.algorithm is KeyAlgorithm.ED25519 and key.public_key is not None:
        try:
            key.public_key.verify(signature, base)
            return
        except InvalidSignature:
            pass
    raise refuse("signature_invalid", "the signature does not match the request")


def verify(
    request: RequestParts, keys: Mapping[str, KeyEntry], now: float, skew: int, max_age: int
) -> Verified:
    """The key that signed ``request``, or Unauthenticated naming what is wrong."""
    raw_input = request.headers.get("signature-input")
    raw_signature = request.headers.get("signature")
    if raw_input is None or raw_signature is None:
        raise refuse(
            "signature_missing", "sign the request (RFC 9421: Signature-Input and Signature headers)"
        )
    signature_input = parse_input(raw_input)
    signature = parse_signature(raw_signature, signature_input.label)
    params = signature_input.params
    key_id, nonce = params.get("keyid"), params.get("nonce")
    if not isinstance(key_id, str) or not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
        raise refuse("signature_malformed", "keyid and a nonce (8 to 128 characters) are required")
    created, until = _check_times(params, now, skew, max_age)
    key = keys.get(key_id)
    if key is None:
        raise refuse("unknown_key", "the key is unknown or was revoked")
    if "alg" in params and params["alg"] != key.algorithm.value:
        raise refuse("signature_invalid", f"this key signs with {key.algorithm.value}")
    _check_coverage(signature_input.components, request)
    _check_cryptography(key, signature_base(signature_input, request), signature)
    _check_digest(request)
    return Verified(key, nonce, created, until)
