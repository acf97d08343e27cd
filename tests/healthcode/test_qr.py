"""The code as a QR image and back from a guard's photo; uploads that are not what they should be."""

from __future__ import annotations

import io
import re
import zlib

import pytest
import segno
from PIL import Image

from tests.healthcode.test_envelope import A_CODE, NOW, TRUST
from zhongtai.core.errors import Invalid, PayloadTooLarge
from zhongtai.healthcode.envelope import open_code
from zhongtai.healthcode.qr import MAX_PHOTO_BYTES, qr_png, qr_svg, read_photo


def photo_of(png: bytes, angle: int = 0) -> bytes:
    """The QR on a larger grey card, turned, saved as JPEG: roughly what a phone camera uploads."""
    card = Image.new("L", (900, 700), 200)
    card.paste(Image.open(io.BytesIO(png)).convert("L").resize((420, 420)), (240, 140))
    out = io.BytesIO()
    card.rotate(angle, expand=True, fillcolor=200).save(out, "JPEG", quality=85)
    return out.getvalue()


def test_a_code_is_an_alphanumeric_qr_with_error_correction_q() -> None:
    code = segno.make(A_CODE, error="q", mode="alphanumeric", boost_error=False)
    assert code.mode == "alphanumeric" and code.error == "Q"
    assert re.search(r"<svg[^>]*>", qr_svg(A_CODE))


@pytest.mark.parametrize("angle", [0, 90, 12])
def test_a_photo_of_a_code_reads_back_to_the_same_verifiable_code(angle: int) -> None:
    text = read_photo(photo_of(qr_png(A_CODE), angle))
    assert text == A_CODE
    assert open_code(text, TRUST, NOW).claims


def test_a_photo_without_a_code_or_with_another_qr_is_refused_by_name() -> None:
    empty = io.BytesIO()
    Image.new("L", (400, 300), 255).save(empty, "PNG")
    with pytest.raises(Invalid) as none:
        read_photo(empty.getvalue())
    assert none.value.code == "no_qr_code"
    with pytest.raises(Invalid) as other:
        read_photo(photo_of(qr_png("HTTPS://EXAMPLE.GOV/")))
    assert other.value.code == "not_a_health_code"


def test_an_upload_that_is_not_an_image_too_big_or_a_bomb_is_refused() -> None:
    with pytest.raises(Invalid) as not_image:
        read_photo(b"%PDF-1.7 not a photo")
    assert not_image.value.code == "not_an_image"
    with pytest.raises(PayloadTooLarge):
        read_photo(b"\x00" * (MAX_PHOTO_BYTES + 1))
    # A PNG claiming 20000 x 20000 pixels in a few hundred bytes: refused before it is decoded.
    header = b"\x89PNG\r\n\x1a\n"
    ihdr = (20000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    chunk = len(ihdr).to_bytes(4, "big") + b"IHDR" + ihdr + zlib.crc32(b"IHDR" + ihdr).to_bytes(4, "big")
    with pytest.raises(Invalid) as bomb:
        read_photo(header + chunk)
    assert bomb.value.code in ("photo_too_large", "not_an_image")
