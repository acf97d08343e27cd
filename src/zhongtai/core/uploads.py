"""Files people upload (a service's material, a resumption application's attachments): a PDF, JPEG or PNG
whose first bytes say what its name says, within a size limit — or a 4xx naming the problem."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from zhongtai.core.errors import M_, Invalid, PayloadTooLarge

# What an upload may be, by its first bytes (the name's extension must agree).
FILE_KINDS = {
    "pdf": (b"%PDF-", "application/pdf"),
    "jpg": (b"\xff\xd8\xff", "image/jpeg"),
    "jpeg": (b"\xff\xd8\xff", "image/jpeg"),
    "png": (b"\x89PNG\r\n\x1a\n", "image/png"),
}


@dataclass(frozen=True, slots=True)
class CheckedFile:
    name: str  # as uploaded, at most 200 characters
    extension: str
    media_type: str
    size: int
    sha256: str

    @property
    def stored_name(self) -> str:
        """Stored by its hash: a retried upload rewrites the same file."""
        return f"{self.sha256}.{self.extension}"


def check_file(name: str, data: bytes, max_bytes: int, field: str = "file") -> CheckedFile:
    """The file if it is a PDF, JPEG or PNG by content and name and at most ``max_bytes``."""
    if len(data) > max_bytes:
        limit = f"{max_bytes // (1024 * 1024)} MB"
        raise PayloadTooLarge(M_("a file is at most %(limit)s", limit=limit), field=field)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = FILE_KINDS.get(extension)
    if kind is None:
        raise Invalid(M_("upload a PDF, JPEG or PNG file"), code="file_type", field=field)
    if not data.startswith(kind[0]):
        raise Invalid(
            M_("%(name)s is not a %(ext)s file", name=name[:80], ext=extension.upper()),
            code="file_content",
            field=field,
        )
    return CheckedFile(name[:200], extension, kind[1], len(data), hashlib.sha256(data).hexdigest())
