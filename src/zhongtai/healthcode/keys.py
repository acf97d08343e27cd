"""Keys for signed codes: the platform's own root (X.509), signing certificates it issues, and the trust
list verifiers refresh — a signed JSON document of every certificate that may have signed a live code.

Rotation with overlap: a new certificate is on the trust list before it signs, and an old one stays on it
until the last code it signed has expired (person codes live minutes, place codes months). Validity for a
verifier is being on the current list, inside the certificate's own dates.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from zhongtai.healthcode.envelope import PublicKey, TrustList, key_id

TRUST_LIST_FORMAT = "zhongtai-healthcode-trust-list/1"
USAGES = ("person", "place", "enterprise")


class TrustError(ValueError):
    """A certificate, key or trust list that cannot be read or does not verify; the message says why."""


@dataclass(frozen=True)
class Issued:
    """A key pair with its certificate (DER), as the platform issues and stores them."""

    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def kid(self) -> bytes:
        return key_id(self.der)

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Zhongtai city platform"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    """A root signs certificates and the trust list; a signer signs codes (digital signature) only."""
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_root(city: str, now: datetime, years: int = 10) -> Issued:
    """The platform's own root: a self-signed CA certificate that signs the code-signing certificates and
    the trust list."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{city} health code root")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(key, certificate)


def issue_signer(root: Issued, city: str, now: datetime, days: int) -> Issued:
    """A code-signing certificate (ES256, P-256) issued by ``root``, valid ``days`` from ``now``."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{city} health code signer {now:%Y%m%d%H%M%S}"))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .sign(root.private_key, hashes.SHA256())
    )
    return Issued(key, certificate)


def load_certificate(text: bytes | str) -> x509.Certificate:
    """A certificate given as PEM, DER or base64 DER (what ``--certificate`` takes)."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        if raw[:1] == b"\x30":  # a DER SEQUENCE, taken as it is: its last byte may look like whitespace
            return x509.load_der_x509_certificate(raw)
        stripped = raw.strip()
        if stripped.startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(stripped)
        return x509.load_der_x509_certificate(base64.b64decode(stripped, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise TrustError(f"not a certificate in PEM, DER or base64 DER: {exc}") from None


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def trust_list_document(root: Issued, entries: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """The trust list as published: the certificates (base64 DER, kid, usage, validity), signed by the
    root (ECDSA P-256 SHA-256 over the canonical JSON of everything but the signature)."""
    body = {
        "format": TRUST_LIST_FORMAT,
        "issued_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "root": base64.b64encode(root.certificate.public_bytes(serialization.Encoding.DER)).decode("ascii"),
        "certificates": entries,
    }
    signature = root.private_key.sign(_canonical(body), ec.ECDSA(hashes.SHA256()))
    return {**body, "signature": base64.b64encode(signature).decode("ascii")}


def trust_entry(certificate: x509.Certificate, usage: list[str]) -> dict[str, Any]:
    der = certificate.public_bytes(serialization.Encoding.DER)
    return {
        "kid": base64.b64encode(key_id(der)).decode("ascii"),
        "certificate": base64.b64encode(der).decode("ascii"),
        "usage": usage,
        "not_before": certificate.not_valid_before_utc.isoformat(timespec="seconds"),
        "not_after": certificate.not_valid_after_utc.isoformat(timespec="seconds"),
    }


def read_trust_list(document: Any, at: datetime, pinned_root: x509.Certificate | None = None) -> TrustList:
    """A verifier's trust from a published list: its signature checked against its root (and that root
    against ``pinned_root`` when the verifier holds one); certificates outside their dates at ``at``, or
    not issued by the root, are left out."""
    if not isinstance(document, dict) or document.get("format") != TRUST_LIST_FORMAT:
        raise TrustError(f"not a trust list (expected format {TRUST_LIST_FORMAT})")
    try:
        root = x509.load_der_x509_certificate(base64.b64decode(document["root"], validate=True))
        signature = base64.b64decode(document["signature"], validate=True)
        entries = list(document["certificates"])
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise TrustError(f"the trust list is malformed: {exc}") from None
    if pinned_root is not None and root != pinned_root:
        raise TrustError("the trust list is signed by another root than the one this verifier trusts")
    body = {k: v for k, v in document.items() if k != "signature"}
    root_key = root.public_key()
    if not isinstance(root_key, ec.EllipticCurvePublicKey):
        raise TrustError("the trust list's root is not an EC key")
    try:
        root_key.verify(signature, _canonical(body), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise TrustError("the trust list's signature does not verify: it was changed or forged") from None
    trust = TrustList()
    for entry in entries:
        certificate = _entry_certificate(entry)
        if certificate is None or certificate.issuer != root.subject:
            continue
        if not (certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc):
            continue
        add_certificate(trust, certificate)
    return trust


def add_certificate(trust: TrustList, certificate: x509.Certificate) -> None:
    """Trust ``certificate`` under its kid (several certificates may share one)."""
    trust.add(key_id(certificate.public_bytes(serialization.Encoding.DER)), _public(certificate))


def _entry_certificate(entry: Any) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(base64.b64decode(entry["certificate"], validate=True))
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None


def _public(certificate: x509.Certificate) -> PublicKey:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise TrustError("a code-signing certificate must hold an EC or RSA key")
    return key


def trust_from_certificate(certificate: x509.Certificate) -> TrustList:
    """Trust in one certificate (``--certificate``): its kid and key."""
    trust = TrustList()
    add_certificate(trust, certificate)
    return trust
