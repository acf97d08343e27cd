"""The code as a QR image (segno: alphanumeric mode, error correction Q, as the DCC), and a code read back
from a photo a guard uploads (Pillow opens it, zxing-cpp finds the QR code)."""

from __future__ import annotations

import io
import warnings

import segno
import zxingcpp
from PIL import Image, UnidentifiedImageError

from zhongtai.core.errors import M_, Invalid, PayloadTooLarge
from zhongtai.healthcode.envelope import PREFIXES

MAX_PHOTO_BYTES = 8 * 1024 * 1024  # a phone photo; the platform's body limit applies before this
MAX_PHOTO_PIXELS = 40_000_000  # refuse a decompression bomb before it is decoded
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def qr_svg(text: str, scale: int = 6) -> str:
    """The QR code as inline SVG (crisp at any size on a phone or a printed poster)."""
    code = segno.make(text, error="q", mode="alphanumeric", micro=False, boost_error=False)
    return str(code.svg_inline(scale=scale, border=4, dark="#000", light="#fff", omitsize=True))


def qr_url_svg(url: str, scale: int = 5) -> str:
    """A poster's QR: an address a phone's own camera opens (byte mode, error correction Q)."""
    code = segno.make(url, error="q", micro=False, boost_error=False)
    return str(code.svg_inline(scale=scale, border=4, dark="#000", light="#fff", omitsize=True))


def qr_png(text: str, scale: int = 8) -> bytes:
    code = segno.make(text, error="q", mode="alphanumeric", micro=False, boost_error=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def read_photo(data: bytes) -> str:
    """The code's text in a photo of it; a clear refusal when the upload is too big, not an image, or
    holds no readable health code."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge(
            M_("the photo is larger than %(limit)s bytes", limit=MAX_PHOTO_BYTES), code="photo_too_large"
        )
    image = _open(data)
    found = [b.text for b in zxingcpp.read_barcodes(image, formats=_QR_ONLY)]
    codes = [text for text in found if text.startswith(PREFIXES)]
    if codes:
        return codes[0]
    if found:
        raise Invalid(
            M_("the QR code in the photo is not a health code"), field="photo", code="not_a_health_code"
        )
    raise Invalid(M_("no QR code could be read in the photo"), field="photo", code="no_qr_code")


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PHOTO_PIXELS:
                raise Invalid(M_("the photo has too many pixels"), field="photo", code="photo_too_large")
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise Invalid(M_("the upload is not an image"), field="photo", code="not_an_image") from None
    return image.convert("L")
