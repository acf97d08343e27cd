"""Signing certificates from the platform's root, the signed trust list, rotation with overlap, and the
offline verifier on the command line."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from tests.healthcode.test_envelope import NOW, person_claims
from zhongtai.cli import app
from zhongtai.healthcode.envelope import CodeSigner, EnvelopeError, Stage, open_code, seal
from zhongtai.healthcode.keys import (
    Issued,
    TrustError,
    issue_signer,
    load_certificate,
    make_root,
    read_trust_list,
    trust_entry,
    trust_list_document,
)

ROOT = make_root("庐州市", NOW - timedelta(days=1))
OLD = issue_signer(ROOT, "庐州市", NOW - timedelta(days=1), days=30)
NEW = issue_signer(ROOT, "庐州市", NOW, days=30)


def signer(issued: Issued) -> CodeSigner:
    return CodeSigner(issued.kid, issued.private_key)


def published(*issued: Issued) -> dict[str, object]:
    return trust_list_document(ROOT, [trust_entry(i.certificate, ["person", "place"]) for i in issued], NOW)


def test_a_code_verifies_with_the_trust_list_and_rotation_overlaps() -> None:
    code_by_old = seal(person_claims(), signer(OLD))
    both = read_trust_list(published(OLD, NEW), NOW, pinned_root=ROOT.certificate)
    assert open_code(code_by_old, both, NOW).kid == OLD.kid  # the old key verifies until its codes expire
    assert (
        open_code(seal(person_claims(), signer(NEW)), both, NOW).kid == NEW.kid
    )  # published before it signs
    only_new = read_trust_list(published(NEW), NOW)
    with pytest.raises(EnvelopeError) as rotated_out:
        open_code(code_by_old, only_new, NOW)
    assert rotated_out.value.stage is Stage.KID


def test_a_certificate_past_its_dates_is_left_out_of_the_trust() -> None:
    later = NOW + timedelta(days=31)
    trust = read_trust_list(published(OLD, NEW), later)
    assert OLD.kid not in trust.keys and NEW.kid not in trust.keys


def test_a_changed_forged_or_foreign_trust_list_is_refused() -> None:
    document = published(OLD)
    changed = json.loads(json.dumps(document))
    changed["certificates"][0]["usage"] = ["enterprise"]
    with pytest.raises(TrustError, match="does not verify"):
        read_trust_list(changed, NOW)
    other_root = make_root("另一市", NOW)
    with pytest.raises(TrustError, match="another root"):
        read_trust_list(document, NOW, pinned_root=other_root.certificate)
    with pytest.raises(TrustError, match="not a trust list"):
        read_trust_list({"certificates": []}, NOW)


def test_certificates_load_from_pem_der_and_base64_der() -> None:
    der = NEW.der
    pem = NEW.certificate.public_bytes(serialization.Encoding.PEM)
    for form in (pem, der, base64.b64encode(der)):
        assert load_certificate(form) == NEW.certificate
    with pytest.raises(TrustError):
        load_certificate(b"no certificate here")


def test_a_der_certificate_ending_in_a_whitespace_byte_loads() -> None:
    """DER is taken as it is: a signature's last byte is random, and one in about forty is a byte that
    stripping text would remove (it once failed CI that way)."""
    for _ in range(2_000):
        root = make_root("庐州市", NOW)
        if root.der[-1:].isspace():
            break
    else:
        pytest.fail("no certificate ending in a whitespace byte was made")
    assert load_certificate(root.der) == root.certificate


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"list": tmp_path / "trust.json", "cert": tmp_path / "signer.pem", "root": tmp_path / "root.pem"}
    paths["list"].write_text(json.dumps(published(OLD, NEW)), "utf-8")
    paths["cert"].write_bytes(NEW.certificate.public_bytes(serialization.Encoding.PEM))
    paths["root"].write_bytes(ROOT.certificate.public_bytes(serialization.Encoding.PEM))
    return paths


def run(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, ["healthcode", "verify", *args])
    return result.exit_code, json.loads(result.stdout)


def test_the_offline_verifier_says_valid_and_exits_0(files: dict[str, Path]) -> None:
    code = seal(person_claims(), signer(NEW))
    at = (NOW + timedelta(minutes=1)).isoformat()
    status, answer = run(code, "--trust-list", str(files["list"]), "--root", str(files["root"]), "--at", at)
    assert status == 0 and answer["valid"] is True and answer["stage"] is None
    assert answer["payload"]["-65537"]["c"] == "green"  # type: ignore[index]
    status, answer = run(code, "--certificate", str(files["cert"]), "--at", at)
    assert status == 0 and answer["valid"] is True


@pytest.mark.parametrize(
    ("change", "stage"),
    [
        (lambda code: "HC2:" + code[4:], "prefix"),
        (lambda code: code[:10] + "~" + code[11:], "base45"),
        (lambda code: code + "", "expiry"),  # the same code, verified a day late
    ],
)
def test_the_offline_verifier_names_the_stage_and_exits_1(
    files: dict[str, Path], change: object, stage: str
) -> None:
    code = change(seal(person_claims(), signer(NEW)))  # type: ignore[operator]
    at = (NOW + timedelta(days=1) if stage == "expiry" else NOW).isoformat()
    status, answer = run(code, "--trust-list", str(files["list"]), "--at", at)
    assert status == 1 and answer["valid"] is False and answer["stage"] == stage and answer["reason"]
    if stage == "expiry":
        assert answer["payload"]["-65537"]["n"] == "王*"  # type: ignore[index]


def test_the_offline_verifier_refuses_to_guess_its_trust_or_clock(files: dict[str, Path]) -> None:
    code = seal(person_claims(), signer(NEW))
    assert run(code)[0] == 2
    assert run(code, "--certificate", str(files["cert"]), "--at", "yesterday")[0] == 2
    assert run(code, "--certificate", str(files["cert"]), "--at", "2026-12-08T09:30:00")[0] == 2  # no zone
    bad = files["list"].with_name("bad.json")
    bad.write_text("{}", "utf-8")
    status, answer = run(code, "--trust-list", str(bad), "--at", NOW.isoformat())
    assert status == 2 and "trust" in str(answer["reason"])
    assert datetime.fromisoformat(NOW.isoformat()).tzinfo == UTC
