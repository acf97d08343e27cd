"""Electronic licences: issued from the licence base (idempotently), in their holder's wallet only, shown as a
signed code anyone verifies — one changed character refused —, revoked when the register drops them."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.public.helpers import NEIGHBOUR, WANG, register, sign_in
from zhongtai.core.database import transaction
from zhongtai.core.principal import SYSTEM
from zhongtai.core.pseudonym import entity_subject, person_subject
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.governance.models import BaseKind, BaseRecord
from zhongtai.licences import service

DEED = "皖(2021)庐州市不动产权第0000001号"
CREDIT = "91340100MA2N0X1X1K"
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _licences(factory: sessionmaker[Session]) -> None:
    now = utcnow()
    with transaction(factory) as session:
        deed = {
            "type": "不动产权证书",
            "holder": WANG.name,
            "holder_id": WANG.id_number,
            "issuer": "庐州市不动产登记中心",
            "subject": "蜀山区幸福路 1 号 3 幢 501",
            "issued_on": "2021-03-01",
        }
        business = {
            "type": "营业执照",
            "holder": "庐州市好味道餐饮有限公司",
            "issuer": "庐州市市场监督管理局",
        }
        for key, data, department in ((DEED, deed, "ZRZYJ"), (CREDIT, business, "SCJGJ")):
            provenance = {"holder": {"department": department}}
            session.add(
                BaseRecord(
                    base=BaseKind.LICENSE,
                    key=key,
                    data=data,
                    provenance=provenance,
                    version=1,
                    valid_from=now,
                )
            )
        unnamed = {"type": "结婚证", "holder": "无名", "holder_id": "not an id"}
        session.add(
            BaseRecord(
                base=BaseKind.LICENSE, key="J1", data=unnamed, provenance={}, version=1, valid_from=now
            )
        )


def test_licences_are_issued_once_into_their_holders_wallets(
    factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    _licences(factory)
    with transaction(factory) as session:
        first = service.sync(session, settings, SYSTEM)
        again = service.sync(session, settings, SYSTEM)
        assert (first.issued, first.skipped) == (2, 1) and (again.issued, again.updated, again.revoked) == (
            0,
            0,
            0,
        )
        deed = service.wallet(session, person_subject(settings, WANG.id_number))
        assert [(lic.number, lic.type, lic.department_code) for lic in deed] == [
            (DEED, "不动产权证书", "ZRZYJ")
        ]
        assert deed[0].holder_masked_id == WANG.id_number[:3] + "*" * 11 + WANG.id_number[-4:]
        assert [lic.type for lic in service.wallet(session, entity_subject(CREDIT))] == ["营业执照"]
        assert service.wallet(session, person_subject(settings, NEIGHBOUR.id_number)) == []


def test_a_shown_licence_verifies_and_a_changed_one_does_not(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    _licences(factory)
    now = utcnow()
    with transaction(factory) as session:
        service.sync(session, settings, SYSTEM)
        licence = service.wallet(session, person_subject(settings, WANG.id_number))[0]
        text = service.show(session, settings, licence, now)
        check = service.verify(session, settings, text, now)
        assert check.valid and check.licence["n"] == DEED and check.licence["h"] == "王**"
        late = service.verify(session, settings, text, now + timedelta(minutes=service.SHOW_MINUTES + 1))
        assert not late.valid and late.stage == "expiry"
        assert not service.verify(session, settings, "AK1:" + text[4:], now).valid  # not a licence prefix
    answer = client.post("/api/v1/licences/verify", json={"code": text})  # anyone, no sign-in
    assert answer.status_code == 200 and answer.json()["valid"] is True
    assert client.post("/api/v1/licences/verify", json={"code": ""}).status_code == 422

    @hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(position=st.integers(min_value=4, max_value=len(text) - 1), char=st.sampled_from(BASE45))
    def one_changed(position: int, char: str) -> None:
        changed = text[:position] + char + text[position + 1 :]
        if changed == text:
            return
        with transaction(factory) as session:
            assert not service.verify(session, settings, changed, now).valid

    one_changed()


def test_a_licence_the_register_drops_is_revoked_and_refused(
    factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    _licences(factory)
    now = utcnow()
    with transaction(factory) as session:
        service.sync(session, settings, SYSTEM)
        licence = service.wallet(session, person_subject(settings, WANG.id_number))[0]
        text = service.show(session, settings, licence, now)
        session.execute(delete(BaseRecord).where(BaseRecord.key == DEED))
        assert service.sync(session, settings, SYSTEM).revoked == 1
        check = service.verify(session, settings, text, now)
        assert not check.valid and check.stage == "register"


def test_the_wallet_page_shows_only_ones_own_licences(
    client: TestClient, factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    _licences(factory)
    with transaction(factory) as session:
        service.sync(session, settings, SYSTEM)
    register(client)
    sign_in(client, WANG)
    wallet = client.get("/m/licences").text
    assert "不动产权证书" in wallet and "营业执照" not in wallet
    shown = client.get(f"/m/licences/{DEED}")
    assert shown.status_code == 200 and "<svg" in shown.text and "LC1:" in shown.text
    assert client.get(f"/m/licences/{CREDIT}").status_code == 404
