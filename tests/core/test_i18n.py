"""Pages are Chinese first with English switchable: every label a template shows goes through ``t``."""

from __future__ import annotations

import re
from pathlib import Path

import zhongtai
from zhongtai.core.i18n import STRINGS

TEMPLATES = sorted(Path(zhongtai.__file__).parent.rglob("templates/*.html"))
CALLED = re.compile(r"""\bt\(\s*['"]([a-z_]+\.[a-z0-9_.]+)['"]""")


def test_the_templates_are_found() -> None:
    assert len(TEMPLATES) > 30


def test_every_label_a_template_asks_for_has_both_languages() -> None:
    missing = {
        f"{template.name}: {key}"
        for template in TEMPLATES
        for key in CALLED.findall(template.read_text(encoding="utf-8"))
        if key not in STRINGS and not key.endswith(".")  # a prefix, completed when the page renders
    }
    assert not missing, sorted(missing)
    assert all(len(pair) == 2 and all(pair) for pair in STRINGS.values())


def test_no_table_heading_is_left_in_english() -> None:
    bare = {
        f"{template.name}: {heading}"
        for template in TEMPLATES
        for heading in re.findall(r"<th>([a-z][a-z _]*)</th>", template.read_text(encoding="utf-8"))
    }
    assert not bare, sorted(bare)


def test_every_value_a_page_names_by_prefix_has_both_languages() -> None:
    from zhongtai.capabilities.models import CapabilityKind, CapabilityStatus, Operation, SubscriptionStatus
    from zhongtai.catalog.models import (
        Category,
        OpenType,
        ResourceFormat,
        ResourceStatus,
        SharingMode,
        SharingType,
        UpdateCycle,
    )
    from zhongtai.core.audit import CHAINS
    from zhongtai.governance.models import BaseKind, PassStatus, ProblemStatus
    from zhongtai.ingest.models import JobMode, ObjectKind, RunStatus, SourceKind
    from zhongtai.orgs.models import DepartmentKind, SystemStatus
    from zhongtai.requirements.models import RequirementKind, RequirementStatus
    from zhongtai.sharing.masking import Masking
    from zhongtai.sharing.models import ApplicationStatus, DeliveryMode, GrantStatus

    named = {  # the prefix a template puts before a value (t('cap.kind.' ~ k)) -> the values it may get
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
        "error.status.": [400, 401, 403, 404, 409, 413, 422, 429, 500, 503],  # the statuses pages answer with
    }
    missing = [
        prefix + str(v) for prefix, values in named.items() for v in values if prefix + str(v) not in STRINGS
    ]
    assert not missing, missing
