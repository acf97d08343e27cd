"""Health code tables. Signing keys: the platform's root and the code-signing certificates it issued, each
private key sealed at rest (Fernet, the platform's secrets key)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhongtai.core.database import Base
from zhongtai.core.types import UTCDateTime, str_enum, utcnow


class KeyRole(enum.StrEnum):
    ROOT = "root"  # signs certificates and the trust list
    SIGNER = "signer"  # signs codes


class SigningKey(Base):
    __tablename__ = "healthcode_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(16), unique=True)  # hex of the DCC kid (8 bytes)
    role: Mapped[KeyRole] = mapped_column(str_enum(KeyRole))
    certificate: Mapped[bytes] = mapped_column(LargeBinary)  # DER
    private_key_sealed: Mapped[str] = mapped_column(Text)
    usage: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A signer is on the trust list from its creation, signs from ``signs_from`` (after verifiers had
    # time to fetch the list) and until ``retired_at``; it stays listed while codes it signed may live.
    signs_from: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
