"""A client for the gateway: ``httpx`` with requests signed by ``http-message-signatures`` (RFC 9421).

This is the sample client of the docs, and what the developer portal's "try it" and the demo app use::

    from zhongtai.gateway.client import GatewaySigner
    signer = GatewaySigner("wjw-health-code.1a2b3c4d", "epidemic.health-code", secret="…base64url…")
    with httpx.Client(base_url="http://127.0.0.1:8000", auth=signer) as gateway:
        gateway.get("/gw/person.by-id/340104199003070014").json()

Every request gets ``created`` / ``expires`` (60 s), a fresh nonce, the purpose (and the end user, when
given) as signed headers, and a ``Content-Digest`` of its body.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Generator
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

LIFETIME = dt.timedelta(seconds=60)


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key: bytes | Ed25519PrivateKey) -> None:
        self.key = key

    def resolve_private_key(self, key_id: str) -> Any:
        return self.key

    def resolve_public_key(self, key_id: str) -> Any:  # signing only
        raise NotImplementedError


class _Message:
    """What the signer reads and writes: method, absolute URL, headers."""

    def __init__(self, request: httpx.Request) -> None:
        self.method = request.method
        self.url = str(request.url)
        self.headers = request.headers


class GatewaySigner(httpx.Auth):
    """httpx authentication that signs each request for the Zhongtai gateway."""

    requires_request_body = True

    def __init__(
        self,
        key_id: str,
        purpose: str,
        secret: str | None = None,
        private_key_pem: str | None = None,
        end_user: str | None = None,
    ) -> None:
        if (secret is None) == (private_key_pem is None):
            raise ValueError("give an HMAC secret or an Ed25519 private key, not both")
        self.key_id, self.purpose, self.end_user = key_id, purpose, end_user
        if secret is not None:
            key: bytes | Ed25519PrivateKey = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
            algorithm: type[algorithms.HTTPSignatureAlgorithm] = algorithms.HMAC_SHA256
        else:
            assert private_key_pem is not None
            loaded = load_pem_private_key(private_key_pem.encode(), None)
            if not isinstance(loaded, Ed25519PrivateKey):
                raise ValueError("the private key must be an Ed25519 key")
            key, algorithm = loaded, algorithms.ED25519
        self.signer = HTTPMessageSigner(signature_algorithm=algorithm, key_resolver=_OneKey(key))

    def sign(self, request: httpx.Request) -> None:
        covered = ["@method", "@target-uri", "x-purpose"]
        request.headers["X-Purpose"] = self.purpose
        if self.end_user:
            request.headers["X-End-User"] = self.end_user
            covered.append("x-end-user")
        body = request.content
        now = dt.datetime.now(dt.UTC)
        self.signer.sign(
            _Message(request),
            key_id=self.key_id,
            created=now,
            expires=now + LIFETIME,
            nonce=secrets.token_urlsafe(16),
            covered_component_ids=tuple(covered),
            body=body if body else None,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request
