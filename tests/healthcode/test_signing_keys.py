"""The platform's signing keys in the database: made once, sealed at rest, rotated with overlap, served
as a signed trust list that verifies the codes the platform issues; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.healthcode.test_envelope import NOW, person_claims
from zhongtai.core.audit import AuditEvent
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.core.settings import Settings
from zhongtai.healthcode import service
from zhongtai.healthcode.envelope import EnvelopeError, Stage, open_code
from zhongtai.healthcode.keys import read_trust_list
from zhongtai.healthcode.models import SigningKey


def test_keys_are_made_once_sealed_and_codes_verify_with_the_published_trust_list(
    factory: sessionmaker[Session], settings: Settings, client: TestClient
) -> None:
    with transaction(factory) as session:
        service.ensure_keys(session, settings, SYSTEM, NOW)
        service.ensure_keys(session, settings, SYSTEM, NOW)  # idempotent
        code = service.issue(session, settings, person_claims(), NOW)
    with factory() as session:
        keys = session.scalars(select(SigningKey)).all()
        assert sorted(k.role.value for k in keys) == ["root", "signer"]
        assert all("PRIVATE KEY" not in k.private_key_sealed for k in keys)  # sealed at rest
        events = [e.event_type for e in session.scalars(select(AuditEvent))]
        assert "healthcode.root.created" in events and "healthcode.key.created" in events
    published = client.get("/api/v1/healthcode/trust-list")  # public: certificates only
    assert published.status_code == 200 and "PRIVATE" not in published.text
    trust = read_trust_list(published.json(), NOW + timedelta(minutes=1))
    assert open_code(code, trust, NOW + timedelta(minutes=1)).claims[-65537]["c"] == "green"


def test_rotation_publishes_before_signing_and_the_old_key_verifies_its_codes(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    with transaction(factory) as session:
        service.ensure_keys(session, settings, SYSTEM, NOW)
        before = service.issue(session, settings, person_claims(), NOW)
        new = service.rotate(session, settings, SYSTEM, NOW)
        new_kid = bytes.fromhex(new.kid)
        lead = NOW + timedelta(minutes=settings.healthcode_publish_lead_minutes)
        still_old = service.issue(session, settings, person_claims(), NOW + timedelta(minutes=1))
        after = service.issue(session, settings, person_claims(), lead)
        listing = service.trust_list(session, settings, NOW)
    trust = read_trust_list(listing, NOW)
    assert new_kid in trust.keys  # published at once …
    assert open_code(still_old, trust, NOW + timedelta(minutes=2)).kid != new_kid  # … signing only later
    assert open_code(after, trust, NOW + timedelta(minutes=1)).kid == new_kid  # signed after the lead
    assert open_code(before, trust, NOW + timedelta(minutes=1)).kid != new_kid  # the old key still verifies

    with transaction(factory) as session:  # long after: the old signer has left the list
        much_later = lead + timedelta(days=settings.healthcode_place_days + 1)
        gone = read_trust_list(service.trust_list(session, settings, much_later), much_later)
    try:
        open_code(before, gone, NOW + timedelta(minutes=1))
    except EnvelopeError as exc:
        assert exc.stage is Stage.KID
    else:
        raise AssertionError("a code of a rotated-out key verified after the key left the trust list")


def test_the_cli_rotates_and_prints_the_trust_list(settings: Settings, monkeypatch: object) -> None:
    from zhongtai.cli import app
    from zhongtai.core.settings import get_settings

    monkeypatch.setenv("ZHONGTAI_DATABASE_URL", settings.resolved_database_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(settings.data_dir))  # type: ignore[attr-defined]
    monkeypatch.setenv("ZHONGTAI_SECRET_KEY", settings.secret_key)  # type: ignore[attr-defined]
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        rotated = runner.invoke(app, ["healthcode", "rotate-key"])
        assert rotated.exit_code == 0, rotated.output
        assert "on the trust list now" in rotated.stdout
        printed = runner.invoke(app, ["healthcode", "trust-list"])
        assert printed.exit_code == 0 and len(json.loads(printed.stdout)["certificates"]) == 2
    finally:
        get_settings.cache_clear()
