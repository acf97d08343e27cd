"""Verifying a code offline, as a gate or a command line does: a report any program can read."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import cbor2

from zhongtai.healthcode.envelope import PREFIXES, EnvelopeError, TrustList, open_code
from zhongtai.healthcode.keys import load_certificate, read_trust_list, trust_from_certificate


def jsonable(value: Any) -> Any:
    """CBOR claims as JSON: map keys as text, byte strings as base64, tags as {tag, value}."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, cbor2.CBORTag):
        return {"tag": value.tag, "value": jsonable(value.value)}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def report(text: str, trust: TrustList, at: datetime, prefixes: tuple[str, ...] = PREFIXES) -> dict[str, Any]:
    """``{"valid", "stage", "reason", "payload"}``: the stage and reason name what refused the code; the
    payload is the claims as far as decoding got."""
    try:
        opened = open_code(text.strip(), trust, at, prefixes)
    except EnvelopeError as exc:
        payload = jsonable(exc.payload) if exc.payload is not None else None
        return {"valid": False, "stage": exc.stage.value, "reason": exc.reason, "payload": payload}
    return {
        "valid": True,
        "stage": None,
        "reason": f"signed by kid {opened.kid.hex()}, valid until {opened.expires_at.isoformat()}",
        "payload": jsonable(opened.claims),
    }


def trust_from_files(
    trust_list: Path | None, certificate: Path | None, root: Path | None, at: datetime
) -> TrustList:
    """The verifier's trust from a trust-list file (its signature checked, its root pinned with ``root``)
    or from one certificate (PEM, DER or base64 DER)."""
    if certificate is not None:
        return trust_from_certificate(load_certificate(certificate.read_bytes()))
    assert trust_list is not None
    pinned = load_certificate(root.read_bytes()) if root is not None else None
    return read_trust_list(json.loads(trust_list.read_text("utf-8")), at, pinned)
