"""Governance pages: an officer edits rules, governs, sees quality and works a problem; the bureau reads a
fused record with provenance, conflicts and history; every page also renders in English."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.core.test_identity import login
from tests.factories import World
from tests.governance.helpers import PERSON_RULES, person_source, raw_batch
from tests.governance.test_api import LI, ZHANG
from tests.ingest.test_pages import post_form
from zhongtai.core.settings import Settings
from zhongtai.governance.pipeline import run_pass


def test_an_officer_governs_a_resource_from_its_page(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    resource, job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    raw_batch(
        factory,
        job,
        {"1": {"姓名": "张 伟", "公民身份号码": ZHANG}, "2": {"姓名": "坏😀名", "公民身份号码": LI}},
    )
    assert login(client, "officer_a") == 303
    page = f"/catalog/{resource}/governance"
    rules = json.dumps(
        [*PERSON_RULES, {"id": "xb-required", "kind": "required", "item": "性别"}], ensure_ascii=False
    )
    saved = post_form(
        client, f"{page}/rules", page, {"rules": rules, "auto_apply": "on", "comment": "加必填"}
    )
    assert saved.status_code == 303  # type: ignore[attr-defined]
    broken = post_form(client, f"{page}/rules", page, {"rules": "[{", "comment": ""})
    assert broken.status_code == 422 and "不是有效的 JSON" in broken.text  # type: ignore[attr-defined]
    applied = post_form(client, f"{page}/apply", page, {})
    assert applied.status_code == 303  # type: ignore[attr-defined]
    text = client.get(page).text
    assert "v2" in text and "加必填" in text and "xb-required" in text
    assert "质量得分" in text and "规则 xb-required:性别 拒绝了 1 行" in text  # measured after the pass
    assert "/governance/passes/" in text
    clean = client.get(f"/catalog/{resource}/clean").text
    assert "clean" in clean and "0" in clean  # both rows refused: nothing clean yet
    problems = client.get("/governance/problems").text
    assert "xb-required" in problems and "指派" in problems
    english = client.get("/governance/problems?lang=en").text
    assert "Quality problems" in english and "rule xb-required:性别: 1 row(s) refused" in english
    overview = client.get("/governance?lang=zh").text
    assert "各部门数据质量" in overview and "<svg" in overview


def test_the_bureau_reads_a_fused_person_with_provenance_conflict_and_history(
    client: TestClient, world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    police, police_job = person_source(factory, settings, "GAJ", "GAJ-RK", priority=1)
    civil, civil_job = person_source(factory, settings, "MZJ", "MZJ-HY", priority=2)
    run_pass(
        factory, civil, run_id=raw_batch(factory, civil_job, {"m": {"姓名": "张玮", "公民身份号码": ZHANG}})
    )
    run_pass(
        factory, police, run_id=raw_batch(factory, police_job, {"p": {"姓名": "张伟", "公民身份号码": ZHANG}})
    )
    assert login(client, "admin") == 303
    found = client.get("/base", params={"base": "person", "key": ZHANG.lower()}, follow_redirects=True)
    assert found.status_code == 200
    text = found.text
    assert "张伟" in text and "张玮" in text and "GAJ" in text and "MZJ" in text
    assert "未解决" in text  # the open name conflict, next to the value
    assert "v1" in text  # the earlier version, when civil affairs' spelling was all there was
    assert client.get("/base/person/110105199001010011").status_code == 404
    conflicts = client.get("/governance/conflicts").text
    assert ZHANG in conflicts and f'href="/base/person/{ZHANG}"' in conflicts
    assert login(client, "officer_b") == 303  # civil affairs takes part in the conflict and sees it
    theirs = client.get("/governance/conflicts").text
    assert ZHANG in theirs and f'href="/base/person/{ZHANG}"' not in theirs  # no link to a 403
    assert client.get(f"/base/person/{ZHANG}").status_code == 403
    assert 'action="/base"' not in client.get("/base").text  # nor a search form that cannot answer
    assert login(client, "auditor") == 303  # audits access; the values themselves are not for the auditor
    assert ZHANG not in client.get("/governance/conflicts").text
