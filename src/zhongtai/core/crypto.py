"""Secrets at rest: source passwords and API tokens are Fernet-encrypted before they touch the database."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zhongtai.core.errors import M_, Invalid
from zhongtai.core.settings import Settings


class SecretBox:
    def __init__(self, settings: Settings) -> None:
        self._fernet = Fernet(settings.secrets_key or _derive_key(settings.secret_key))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise Invalid(
                M_(
                    "the stored secret cannot be decrypted with this platform's key (was "
                    "ZHONGTAI_SECRET_KEY or ZHONGTAI_SECRETS_KEY changed?); enter the password "
                    "again"
                ),
                code="secret_unreadable",
            ) from exc


def _derive_key(secret_key: str, purpose: bytes = b"zhongtai source secrets") -> bytes:
    # A separate key per purpose, so the cookie-signing key itself never encrypts anything.
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw)


class OpaqueTokens:
    """Values handed to clients that they must neither read nor forge (e.g. a list's position): Fernet
    under a key derived from the platform secret for this ``purpose`` alone."""

    def __init__(self, settings: Settings, purpose: bytes) -> None:
        self._fernet = Fernet(_derive_key(settings.secret_key, purpose))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str, max_age: int | None = None) -> str | None:
        """The sealed text, or None for anything this platform did not seal for this purpose (or sealed
        more than ``max_age`` seconds ago)."""
        try:
            return self._fernet.decrypt(token.encode(), ttl=max_age).decode()
        except (InvalidToken, UnicodeError):
            return None
