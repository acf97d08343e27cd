"""Pages are Chinese first with English switchable: every label goes through the gettext catalogs, and both
catalogs translate every message the code and templates use."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

import zhongtai
from zhongtai.core.i18n import LANGUAGES, accepted_language, catalog_path, gettext, pick_language

PACKAGE = Path(zhongtai.__file__).parent
ROOT = PACKAGE.parent.parent
TEMPLATES = sorted(PACKAGE.rglob("templates/*.html"))
PLACEHOLDER = re.compile(r"%\((\w+)\)[sr]")


def catalog(lang: str, domain: str = "messages") -> Catalog:
    with catalog_path(lang, domain=domain).open("rb") as source:
        return read_po(source)


def messages(cat: Catalog) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in cat if m.id}


def extracted_now(tmp_path: Path, *keywords: str) -> set[str]:
    """What ``make i18n`` would extract from the code and templates as they are, for these keywords."""
    out = tmp_path / "now.pot"
    words = [arg for keyword in keywords for arg in ("-k", keyword)]
    command = [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg"]
    subprocess.run([*command, "--no-default-keywords", *words, "-o", str(out), "."], cwd=ROOT, check=True)
    with out.open("rb") as source:
        return set(messages(read_po(source)))


def test_the_templates_are_found() -> None:
    assert len(TEMPLATES) > 30


@pytest.mark.skipif(not (ROOT / "babel.cfg").exists(), reason="runs from a source checkout only")
def test_both_catalogs_translate_exactly_what_the_code_and_templates_use(tmp_path: Path) -> None:
    used = extracted_now(tmp_path, "_", "N_", "gettext", "ngettext:1,2")
    assert len(used) > 400
    for lang in LANGUAGES:
        have = messages(catalog(lang))
        assert not sorted(used - set(have)), f"{lang}: not in the catalog; run make i18n and translate"
        assert not sorted(set(have) - used), f"{lang}: no longer used; run make i18n"
        assert not [key for key, text in have.items() if not text.strip()], f"{lang}: untranslated"


@pytest.mark.skipif(not (ROOT / "babel.cfg").exists(), reason="runs from a source checkout only")
def test_every_error_message_has_its_chinese(tmp_path: Path) -> None:
    used = extracted_now(tmp_path, "M_")
    assert len(used) > 200
    have = messages(catalog("zh", "errors"))
    assert not sorted(used - set(have)), "error messages not in the zh catalog; run make i18n and translate"
    assert not sorted(set(have) - used), "no longer used; run make i18n"
    assert not [key for key, text in have.items() if not text.strip()]
    differing = [
        k for k, text in have.items() if set(PLACEHOLDER.findall(k)) != set(PLACEHOLDER.findall(text))
    ]
    assert not differing


def test_catalogs_are_clean_and_agree_on_placeholders() -> None:
    zh, en = catalog("zh"), catalog("en")
    for cat in (zh, en, catalog("zh", "errors")):
        assert not cat.fuzzy
        assert not [m.id for m in cat if m.id and m.fuzzy]
        assert not [(m.id, errors) for m, errors in cat.check() if errors]
    en_texts = messages(en)
    differing = {
        key: text
        for key, text in messages(zh).items()
        if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(en_texts.get(key, "")))
    }
    assert not differing


def test_a_label_in_each_language_with_its_values() -> None:
    assert gettext("zh", "nav.catalog") == "资源目录"
    assert gettext("en", "nav.catalog") == "Catalog"
    assert gettext("zh", "catalog.total", {"n": "1,234"}) == "共 1,234 条"
    assert gettext("fr", "nav.catalog") == "资源目录"  # an unknown language falls back to Chinese


def test_language_choice() -> None:
    assert pick_language("en", "zh") == "en"
    assert pick_language(None, "en") == "en"
    assert pick_language("xx", None) == "zh"
    assert accepted_language(None) == "zh"
    assert accepted_language("en-US,en;q=0.9") == "en"
    assert accepted_language("fr-FR, en;q=0.5, zh-CN;q=0.8") == "zh"
    assert accepted_language("zh;q=0, en;q=0.1") == "en"
    assert accepted_language("de, fr;q=x") == "zh"


def test_no_table_heading_is_left_in_english() -> None:
    bare = {
        f"{template.name}: {heading}"
        for template in TEMPLATES
        for heading in re.findall(r"<th>([a-z][a-z _]*)</th>", template.read_text(encoding="utf-8"))
    }
    assert not bare, sorted(bare)


def test_every_value_a_page_names_by_prefix_has_both_languages() -> None:
    from zhongtai.capabilities.models import (
        AppStatus,
        CapabilityKind,
        CapabilityStatus,
        KeyAlgorithm,
        KeyStatus,
        Operation,
        SubscriptionStatus,
    )
    from zhongtai.capabilities.openapi import REFUSALS
    from zhongtai.catalog.lifecycle import TRANSITIONS as CATALOG_ACTIONS
    from zhongtai.catalog.models import (
        Category,
        DataType,
        OpenType,
        ResourceFormat,
        ResourceStatus,
        SharingMode,
        SharingType,
        UpdateCycle,
    )
    from zhongtai.core.audit import CHAINS
    from zhongtai.governance.elements import KINDS
    from zhongtai.governance.models import BaseKind, PassStatus, ProblemStatus
    from zhongtai.ingest.models import JobMode, ObjectKind, RunStatus, SourceKind
    from zhongtai.orgs.models import DepartmentKind, SystemStatus
    from zhongtai.requirements.models import RequirementKind, RequirementStatus
    from zhongtai.sharing.masking import Masking
    from zhongtai.sharing.models import ApplicationStatus, DeliveryMode, GrantStatus

    named = {  # the prefix a template puts before a value (_('cap.kind.' ~ k)) -> the values it may get
        "cap.kind.": CapabilityKind,
        "cap.op.": Operation,
        "cap.status.": CapabilityStatus,
        "cap.sub.": SubscriptionStatus,
        "base.": BaseKind,
        "category.": Category,
        "format.": ResourceFormat,
        "sharing_type.": SharingType,
        "sharing_mode.": SharingMode,
        "open_type.": OpenType,
        "update_cycle.": UpdateCycle,
        "status.": [*ResourceStatus, *SystemStatus],
        "kind.": DepartmentKind,
        "problem.": ProblemStatus,
        "req.kind.": RequirementKind,
        "req.status.": RequirementStatus,
        "source_kind.": SourceKind,
        "object_kind.": ObjectKind,
        "mode.": JobMode,
        "run.": [*RunStatus, *PassStatus],
        "mask.": Masking,
        "share.mode.": DeliveryMode,
        "share.status.": ApplicationStatus,
        "share.grant_status.": GrantStatus,
        "audit.chain.": CHAINS,
        "error.status.": [
            400,
            401,
            403,
            404,
            405,
            409,
            413,
            422,
            429,
            500,
            503,
        ],  # statuses pages answer with
        "data_type.": DataType,
        "history.": ["create", "import", *CATALOG_ACTIONS],
        "app.status.": AppStatus,
        "key.algorithm.": KeyAlgorithm,
        "key.status.": KeyStatus,
        "audit.outcome.": ["success", "failure", "denied", "dead"],
        "element_kind.": KINDS,
        "cap.refusal.": REFUSALS,
    }
    for lang in LANGUAGES:
        have = messages(catalog(lang))
        missing = [
            prefix + str(v) for prefix, values in named.items() for v in values if prefix + str(v) not in have
        ]
        assert not missing, (lang, missing)


def test_an_error_says_itself_in_the_callers_language() -> None:
    from zhongtai.core.errors import M_
    from zhongtai.core.i18n import error_text

    message = M_("unknown department code %(code)r", code="NOPE")
    assert message == "unknown department code 'NOPE'"  # logs and the command line read English
    assert error_text("zh", message) == "未知的部门编码 'NOPE'"
    assert error_text("en", message) == "unknown department code 'NOPE'"
    assert error_text("zh", "a library's own words") == "a library's own words"
