"""Catalog pages: browse and search, detail, and the officer's register/edit forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from zhongtai.catalog import service
from zhongtai.catalog.auth import may_register_any
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
from zhongtai.catalog.repository import CatalogRepository
from zhongtai.catalog.schemas import MAX_QUERY, ResourceCreate, ResourceFilter, ResourceUpdate
from zhongtai.core.errors import M_, Forbidden, Invalid, ZhongtaiError
from zhongtai.core.http import DbSession
from zhongtai.core.web import Form, SignedInPage, check_csrf, form_str, validation_message
from zhongtai.orgs.repository import OrgRepository

router = APIRouter(include_in_schema=False)
BLANK_ITEM_ROWS = 5

CHOICES = {
    "category": list(Category),
    "sharing_type": list(SharingType),
    "open_type": list(OpenType),
    "status": list(ResourceStatus),
    "format": list(ResourceFormat),
    "update_cycle": list(UpdateCycle),
    "sharing_mode": list(SharingMode),
    "data_type": list(DataType),
}


def _filters(params: dict[str, str]) -> ResourceFilter:
    cleaned = {k: v for k, v in params.items() if v}
    if len(cleaned.get("q", "")) > MAX_QUERY:
        raise Invalid(
            M_("search text is longer than %(max_query)s characters", max_query=MAX_QUERY),
            field="q",
            code="query_too_long",
        )
    try:
        return ResourceFilter.model_validate(cleaned)
    except ValidationError as exc:
        raise validation_message(exc) from exc


@router.get("/catalog")
def browse(
    page: SignedInPage,
    session: DbSession,
    q: Annotated[str, Query()] = "",
    department: str = "",
    category: str = "",
    sharing_type: str = "",
    open_type: str = "",
    status: str = "",
    page_no: Annotated[str, Query(alias="page")] = "1",
) -> Response:
    assert page.principal is not None
    params = {
        "q": q,
        "department": department,
        "category": category,
        "sharing_type": sharing_type,
        "open_type": open_type,
        "status": status,
        "page": page_no,
    }
    filters = _filters(params)
    rows, total = CatalogRepository(session).search(page.principal, filters)
    pages = max(1, -(-total // filters.page_size))
    return page.render(
        "catalog_list.html",
        rows=[service.summary(r) for r in rows],
        total=total,
        filters=filters,
        params=params,
        pages=pages,
        departments=OrgRepository(session).departments(),
        choices=CHOICES,
        may_register=may_register_any(page.principal),
    )


def _items_from_form(form: FormData) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for index in range(500):
        if f"item-{index}-name" not in form:
            break
        name = form_str(form, f"item-{index}-name")
        if not name:
            continue
        items.append(
            {
                "name": name,
                "data_type": form_str(form, f"item-{index}-data_type") or "string",
                "length": form_str(form, f"item-{index}-length") or None,
                "data_element": form_str(form, f"item-{index}-data_element") or None,
                "sensitive": form.get(f"item-{index}-sensitive") == "on",
            }
        )
    return items


def _fields_from_form(form: FormData) -> dict[str, Any]:
    related = form_str(form, "related_codes").replace(",", " ").replace("，", " ").split()
    return {
        "name": form_str(form, "name"),
        "abstract": form_str(form, "abstract"),
        "format": form_str(form, "format") or "table",
        "sharing_type": form_str(form, "sharing_type"),
        "sharing_conditions": form_str(form, "sharing_conditions"),
        "sharing_basis": form_str(form, "sharing_basis"),
        "sharing_modes": [m for m in form.getlist("sharing_modes") if isinstance(m, str)],
        "open_type": form_str(form, "open_type") or "not_open",
        "open_conditions": form_str(form, "open_conditions"),
        "update_cycle": form_str(form, "update_cycle"),
        "source_system": form_str(form, "source_system") or None,
        "publish_date": form_str(form, "publish_date") or None,
        "related_codes": related,
        "items": _items_from_form(form),
    }


def _form_page(
    page: SignedInPage,
    session: DbSession,
    code: str | None,
    values: dict[str, Any],
    error: ZhongtaiError | None = None,
    status_code: int = 200,
) -> Response:
    assert page.principal is not None
    orgs = OrgRepository(session)
    provider = values.get("provider") or page.principal.department_code
    return page.render(
        "catalog_form.html",
        status_code=status_code,
        code=code,
        values=values,
        error=error,
        choices=CHOICES,
        classifications=CatalogRepository(session).classifications(),
        departments=orgs.departments() if page.principal.is_operator else [],
        systems=orgs.systems(None if page.principal.is_operator else provider),
        item_rows=len(values.get("items", [])) + BLANK_ITEM_ROWS,
    )


@router.get("/catalog/new")
def new_resource(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    if not may_register_any(page.principal):
        raise Forbidden(
            M_("only a department data officer or an operator may register resources"), code="missing_role"
        )
    values: dict[str, Any] = {
        "items": [],
        "sharing_modes": ["api"],
        "sharing_type": "unconditional",
        "open_type": "not_open",
        "update_cycle": "daily",
        "format": "table",
    }
    return _form_page(page, session, None, values)


@router.post("/catalog/new")
def create_resource(page: SignedInPage, form: Form, session: DbSession) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    values = _fields_from_form(form)
    values["classification"] = form_str(form, "classification")
    values["provider"] = form_str(form, "provider") or None
    try:
        data = ResourceCreate.model_validate(values)
    except ValidationError as exc:
        return _form_page(page, session, None, values, validation_message(exc), 422)
    try:
        resource = service.create_resource(session, page.principal, data)
    except Invalid as exc:
        session.rollback()  # nothing half-written: the form comes back, the database is untouched
        return _form_page(page, session, None, values, exc, 422)
    return RedirectResponse(f"/catalog/{resource.code}", status_code=303)


@router.get("/catalog/{code}")
def detail(page: SignedInPage, session: DbSession, code: str) -> Response:
    assert page.principal is not None
    resource = service.get_visible(session, page.principal, code)
    repo = CatalogRepository(session)
    return page.render(
        "catalog_detail.html",
        r=service.read(resource),
        history=service.transitions_of(session, resource),
        versions=repo.versions(resource.id),
        actions=service.allowed_actions(page.principal, resource),
        can_edit=service.can_edit(page.principal, resource),
    )


@router.get("/catalog/{code}/edit")
def edit_resource(page: SignedInPage, session: DbSession, code: str) -> Response:
    assert page.principal is not None
    resource = service.editable_resource(session, page.principal, code)
    values = service.read(resource).model_dump(mode="json")
    return _form_page(page, session, code, values)


@router.post("/catalog/{code}/edit")
def update_resource(page: SignedInPage, form: Form, session: DbSession, code: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    service.editable_resource(session, page.principal, code)
    values = _fields_from_form(form)
    try:
        data = ResourceUpdate.model_validate(values)
    except ValidationError as exc:
        return _form_page(page, session, code, values, validation_message(exc), 422)
    try:
        service.update_resource(session, page.principal, code, data)
    except Invalid as exc:
        session.rollback()
        return _form_page(page, session, code, values, exc, 422)
    return RedirectResponse(f"/catalog/{code}", status_code=303)


@router.post("/catalog/{code}/transition")
def transition(page: SignedInPage, form: Form, session: DbSession, code: str) -> Response:
    check_csrf(page, form)
    assert page.principal is not None
    service.transition(session, page.principal, code, form_str(form, "action"), form_str(form, "comment"))
    return RedirectResponse(f"/catalog/{code}", status_code=303)
