"""The open-data portal (``/open``), for anyone, no sign-in: datasets searched in Chinese with facets
(department, theme, tag, format), each with its metadata, a preview of its released rows, its downloads by
version and its DCAT-AP metadata — the same datasets and figures CKAN clients get from the Action API."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select

from zhongtai.core.http import DbSession
from zhongtai.core.i18n import N_
from zhongtai.core.web import Page
from zhongtai.opendata import ckan, rules, service
from zhongtai.opendata.models import OpenRelease

router = APIRouter(include_in_schema=False)
PER_PAGE = 20
PREVIEW = 20
FACET_FIELDS = ["organization", "groups", "tags", "res_format"]
LABELS = (
    N_("open.facet.organization"),
    N_("open.facet.groups"),
    N_("open.facet.tags"),
    N_("open.facet.res_format"),
    N_("open.access.open"),
    N_("open.access.conditional"),
)


@router.get("/open")
def portal(
    page: Page,
    session: DbSession,
    q: str = Query("", max_length=200),
    fq: str = Query("", max_length=500),
    start: int = Query(0, ge=0, le=100_000),
) -> Response:
    base = str(page.request.base_url).rstrip("/")
    params: dict[str, Any] = {
        "q": q,
        "fq": fq,
        "rows": PER_PAGE,
        "start": start,
        "facet.field": json.dumps(FACET_FIELDS),
        "sort": "metadata_modified desc",
    }
    try:
        found = ckan.package_search(session, params, base)
        problem = ""
    except ckan.ActionError as exc:  # a malformed filter: say so, show everything
        found = ckan.package_search(session, {**params, "fq": ""}, base)
        problem = exc.message
    return page.render(
        "open_portal.html",
        q=q,
        fq=fq,
        start=start,
        per_page=PER_PAGE,
        found=found,
        problem=problem,
        themes=ckan.THEMES,
    )


@router.get("/open/datasets/{name}")
def dataset_page(page: Page, session: DbSession, name: str) -> Response:
    found = service.entry(session, name)
    base = str(page.request.base_url).rstrip("/")
    releases = list(
        session.scalars(
            select(OpenRelease)
            .where(OpenRelease.dataset_id == found.dataset.id)
            .order_by(OpenRelease.version.desc())
        )
    )
    preview: list[dict[str, Any]] = []
    if found.dataset.access == "open" and found.release is not None:
        for row in service.rows(session, found.release):
            preview.append(row)
            if len(preview) >= PREVIEW:
                break
    return page.render(
        "open_dataset.html",
        found=found,
        package=ckan.package_dict(found, base),
        releases=releases,
        columns=found.release.columns if found.release else [],
        preview=preview,
        themes=ckan.THEMES,
        base=base,
        count_column=rules.COUNT_COLUMN,
    )
