"""CKAN's Action API, as existing CKAN clients (``ckanapi``, harvesters) expect it: actions by name, CKAN's
field names for datasets, organisations, groups and resources, its envelope and its error types. Read-only:
the actions that show and search what the portal opens. Every answer comes from ``service.entries`` (only
datasets whose resource is still published and open) and their released rows.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.orm import Session

from zhongtai.core.bulk import select_rows
from zhongtai.core.errors import NotFound
from zhongtai.core.types import utcnow
from zhongtai.opendata import applications, service
from zhongtai.opendata.models import OpenApiKey, OpenApplication
from zhongtai.opendata.service import Entry, dataset_uuid, resource_uuid

MAX_ROWS = 1000  # package_search
MAX_LIMIT = 10_000  # datastore_search
DEFAULT_LIMIT = 100
FORMATS = {
    "csv": ("CSV", "text/csv"),
    "json": ("JSON", "application/json"),
    "xlsx": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
FACETS = ("organization", "tags", "res_format", "groups", "license_id")
# EU data themes (DCAT-AP) and their Chinese names: the CKAN groups of the portal.
THEMES = {
    "AGRI": "农业渔业",
    "ECON": "经济金融",
    "EDUC": "教育文化",
    "ENER": "能源",
    "ENVI": "环境",
    "GOVE": "政府公共部门",
    "HEAL": "卫生健康",
    "INTR": "国际事务",
    "JUST": "司法公共安全",
    "REGI": "区域城市",
    "SOCI": "人口社会",
    "TECH": "科学技术",
    "TRAN": "交通运输",
}


class ActionError(Exception):
    """A CKAN error: its ``__type`` and HTTP status."""

    def __init__(
        self, kind: str, status: int, message: str, fields: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.kind, self.status, self.message, self.fields = kind, status, message, fields or {}

    def body(self) -> dict[str, Any]:
        return {"__type": self.kind, "message": f"{self.kind}: {self.message}", **self.fields}


def not_found(what: str) -> ActionError:
    return ActionError("Not Found Error", 404, what)


def invalid(field: str, message: str) -> ActionError:
    return ActionError("Validation Error", 409, message, {field: [message]})


# --- dictionaries in CKAN's shape ----------------------------------------------------------------------


def organization_dict(found: Entry, count: int | None = None) -> dict[str, Any]:
    code = found.department.code
    made = {
        "id": str(uuid.uuid5(service.NAMESPACE, f"organization:{code}")),
        "name": code.lower(),
        "title": found.department.name,
        "display_name": found.department.name,
        "description": "",
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
    }
    if count is not None:
        made["package_count"] = count
    return made


def group_dict(theme: str, count: int | None = None) -> dict[str, Any]:
    made = {
        "id": str(uuid.uuid5(service.NAMESPACE, f"group:{theme}")),
        "name": theme.lower(),
        "title": THEMES.get(theme, theme),
        "display_name": THEMES.get(theme, theme),
        "description": f"EU data theme {theme}",
        "type": "group",
        "is_organization": False,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
    }
    if count is not None:
        made["package_count"] = count
    return made


def resource_dict(found: Entry, kind: str, base_url: str, position: int) -> dict[str, Any]:
    name = found.dataset.name
    label, mimetype = FORMATS[kind]
    modified = found.release.created_at.isoformat() if found.release else None
    return {
        "id": resource_uuid(name, kind),
        "package_id": dataset_uuid(name),
        "name": f"{found.dataset.title} ({label})",
        "description": "",
        "url": f"{base_url}/open/datasets/{name}/download.{kind}",
        "url_type": None,
        "format": label,
        "mimetype": mimetype,
        "datastore_active": True,
        "state": "active",
        "position": position,
        "created": found.dataset.created_at.isoformat(),
        "last_modified": modified,
        "size": None,
    }


def package_dict(found: Entry, base_url: str) -> dict[str, Any]:
    dataset = found.dataset
    tags = [{"name": t, "display_name": t, "state": "active"} for t in dataset.tags]
    resources = [resource_dict(found, kind, base_url, i) for i, kind in enumerate(FORMATS)]
    return {
        "id": dataset_uuid(dataset.name),
        "name": dataset.name,
        "title": dataset.title,
        "notes": dataset.notes,
        "type": "dataset",
        "state": "active",
        "private": False,
        "url": f"{base_url}/open/datasets/{dataset.name}",
        "version": str(found.release.version) if found.release else None,
        "license_id": dataset.license_id,
        "license_title": service.LICENCES.get(dataset.license_id, dataset.license_id),
        "author": found.department.name,
        "maintainer": found.department.name,
        "metadata_created": dataset.created_at.isoformat(),
        "metadata_modified": dataset.modified_at.isoformat(),
        "owner_org": organization_dict(found)["id"],
        "organization": organization_dict(found),
        "groups": [group_dict(dataset.theme)],
        "tags": tags,
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": [
            {"key": "access", "value": dataset.access},
            {"key": "update_cycle", "value": found.resource.update_cycle.value},
            {"key": "catalog_code", "value": found.resource.code},
            {"key": "downloads", "value": str(dataset.downloads)},
            {"key": "api_calls", "value": str(dataset.api_calls)},
        ],
    }


# --- parameters ------------------------------------------------------------------------------------------


def _int(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(name, f"{name} must be a whole number") from None
    if not low <= number <= high:
        raise invalid(name, f"{name} must be between {low} and {high}")
    return number


def _list(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name)
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    text_value = str(value).strip()
    if text_value.startswith("["):
        try:
            parsed = json.loads(text_value)
        except json.JSONDecodeError:
            raise invalid(name, f"{name} is not a JSON list") from None
        if isinstance(parsed, list):
            return [str(v) for v in parsed]
    return [part.strip() for part in text_value.split(",") if part.strip()]


def _dict(params: dict[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name)
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise invalid(name, f"{name} is not a JSON object") from None
    if not isinstance(value, dict):
        raise invalid(name, f"{name} must be an object")
    return value


# --- search ---------------------------------------------------------------------------------------------

_FQ = re.compile(r'(?P<neg>-?)(?P<field>[a-z_]+):(?P<value>"[^"]*"|[^\s"()]+)')


def _facet_values(found: Entry) -> dict[str, list[str]]:
    return {
        "organization": [found.department.code.lower()],
        "tags": list(found.dataset.tags),
        "res_format": [label for label, _ in FORMATS.values()],
        "groups": [found.dataset.theme.lower()],
        "license_id": [found.dataset.license_id],
        "name": [found.dataset.name],
    }


def _filters(fq: str) -> list[tuple[bool, str, str]]:
    """``fq`` as (negated, field, value) terms joined by AND; anything else is a Search Query Error."""
    rest = fq.replace(" AND ", " ").strip()
    terms = []
    for match in _FQ.finditer(rest):
        field, value = match.group("field"), match.group("value").strip('"')
        if field not in (*FACETS, "name"):
            raise ActionError("Search Query Error", 400, f"unknown field in fq: {field}")
        terms.append((match.group("neg") == "-", field, value))
    leftover = _FQ.sub("", rest).replace("+", "").strip()
    if leftover or rest.count('"') % 2 or rest.count("(") != rest.count(")"):
        raise ActionError("Search Query Error", 400, f"cannot parse fq: {fq[:200]}")
    return terms


def _matches(found: Entry, words: list[str]) -> bool:
    haystack = " ".join(
        [
            found.dataset.name,
            found.dataset.title,
            found.dataset.notes,
            found.department.name,
            *found.dataset.tags,
        ]
    ).lower()
    return all(word in haystack for word in words)


def package_search(session: Session, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    rows = _int(params, "rows", 10, 0, MAX_ROWS)
    start = _int(params, "start", 0, 0, 10**9)
    q = str(params.get("q") or "").strip()
    words = [] if q in ("", "*:*") else [w.lower() for w in q.split() if w]
    terms = _filters(str(params.get("fq") or ""))
    found = [
        e
        for e in service.entries(session)
        if _matches(e, words)
        and all((value in _facet_values(e)[field]) != negated for negated, field, value in terms)
    ]
    sort = str(params.get("sort") or "score desc, metadata_modified desc").split(",")[0].strip().split()
    key, direction = ([*sort, "asc"])[:2] if sort else ("score", "desc")
    orders: dict[str, Callable[[Entry], Any]] = {
        "name": lambda e: e.dataset.name,
        "title_string": lambda e: e.dataset.title,
        "metadata_modified": lambda e: e.dataset.modified_at,
        "metadata_created": lambda e: e.dataset.created_at,
        "score": lambda e: e.dataset.modified_at,
    }
    if key not in orders or direction not in ("asc", "desc"):
        raise ActionError("Search Query Error", 400, f"cannot sort by {' '.join(sort)[:100]}")
    found.sort(key=orders[key], reverse=direction == "desc")
    fields = _list(params, "facet.field")
    unknown = [f for f in fields if f not in FACETS]
    if unknown:
        raise ActionError("Search Query Error", 400, f"unknown facet field {unknown[0][:50]}")
    limit = _int(params, "facet.limit", 50, -1, 1000)
    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, Any] = {}
    for field in fields:
        counted = Counter(v for e in found for v in _facet_values(e)[field])
        top = counted.most_common(None if limit < 0 else limit)
        facets[field] = dict(top)
        search_facets[field] = {
            "title": field,
            "items": [
                {"name": name, "display_name": _display(field, name, found), "count": n} for name, n in top
            ],
        }
    return {
        "count": len(found),
        "results": [package_dict(e, base_url) for e in found[start : start + rows]],
        "sort": " ".join(sort),
        "facets": facets,
        "search_facets": search_facets,
    }


def _display(field: str, name: str, found: list[Entry]) -> str:
    if field == "organization":
        return next((e.department.name for e in found if e.department.code.lower() == name), name)
    if field == "groups":
        return THEMES.get(name.upper(), name)
    return name


# --- datastore ------------------------------------------------------------------------------------------


def _value_sql(dialect: str, column: str) -> tuple[str, list[Any]]:
    """A released column's value in SQL — written as its partial index is, so filters, sorts and totals
    are index lookups — and its parameters (a column name that cannot be written so is bound instead)."""
    try:
        return service.column_sql(dialect, column), []
    except ValueError:
        if dialect == "postgresql":
            return "((data::jsonb) ->> ?)", [column]
        return "json_extract(data, ?)", ['$."' + column.replace('"', "") + '"']


def _candidates(value: Any) -> list[Any]:
    """What a filter value matches: its text, and on SQLite (whose JSON values keep their type) its number."""
    found: list[Any] = [str(value)]
    try:
        number = float(str(value))
    except ValueError:
        return found
    found.append(int(number) if number.is_integer() else number)
    return found


@dataclass
class Where:
    """The WHERE of a datastore query, as SQL text with ``?`` placeholders and its parameters."""

    sql: list[str]
    params: list[Any]
    plain: bool = True  # no filter and no search: the release's own row count is the total


def _where(dialect: str, found: service.Searchable, params: dict[str, Any]) -> Where:
    where = Where([f"release_id = {found.release_id}"], [])  # a literal: the partial indexes apply
    for column, wanted in _dict(params, "filters").items():
        if column not in found.columns:
            raise invalid("filters", f"field {column[:50]!r} not in table")
        values = wanted if isinstance(wanted, list) else [wanted]
        matches = (
            [str(v) for v in values]
            if dialect == "postgresql"
            else [c for v in values for c in _candidates(v)]
        )
        expression, bound = _value_sql(dialect, column)
        where.sql.append(f"{expression} IN ({', '.join('?' for _ in matches)})")
        where.params += [*bound, *matches]
        where.plain = False
    q = params.get("q")
    if isinstance(q, str) and q.strip():
        where.sql.append("data LIKE ? ESCAPE '\\'")
        where.params.append(
            "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        where.plain = False
    return where


def _order(dialect: str, params: dict[str, Any], columns: list[str]) -> tuple[list[str], list[Any]]:
    order: list[str] = []
    bound: list[Any] = []
    for part in _list(params, "sort"):
        name, _, direction = part.strip().partition(" ")
        direction = direction.strip().lower() or "asc"
        if direction not in ("asc", "desc") or (name != "_id" and name not in columns):
            raise invalid("sort", f"cannot sort by {part[:50]!r}")
        expression, more = ("row_number", []) if name == "_id" else _value_sql(dialect, name)
        order.append(f"{expression} {direction.upper()}")
        bound += more
    return [*order, "row_number"], bound


def _approved(
    session: Session, found: service.Searchable, api_key: str | None
) -> tuple[OpenApiKey, OpenApplication] | None:
    """For a conditionally open dataset, the approval the caller's key stands for (CKAN's Authorization
    Error else); None for an open dataset, which needs no key."""
    if found.access == "open":
        return None
    if api_key is None:
        raise ActionError(
            "Authorization Error",
            403,
            "this dataset is open on application only: send the API key of an approved application",
        )
    try:
        return applications.authorize_key(session, api_key, found.dataset_id, utcnow())
    except applications.KeyRefused as exc:
        raise ActionError("Authorization Error", exc.status, exc.message) from None


def datastore_search(
    session: Session, params: dict[str, Any], base_url: str, api_key: str | None = None
) -> dict[str, Any]:
    resource_id = str(params.get("resource_id") or params.get("id") or "")
    if not resource_id:
        raise invalid("resource_id", "Missing value")
    found = service.searchable(session, resource_id[:64])
    if found is None:
        raise not_found("Resource was not found.")
    approved = _approved(session, found, api_key)  # checked before a row is read
    limit = _int(params, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
    offset = _int(params, "offset", 0, 0, 10**9)
    fields = _list(params, "fields") or ["_id", *found.columns]
    unknown = [f for f in fields if f != "_id" and f not in found.columns]
    if unknown:
        raise invalid("fields", f"field {unknown[0][:50]!r} not in table")
    connection = session.connection()
    dialect = connection.dialect.name
    where = _where(dialect, found, params)
    order, order_params = _order(dialect, params, found.columns)
    if where.plain and len(order) == 1:  # plain paging: row numbers are 1..n, no gaps
        sql = f"SELECT row_number, data FROM open_rows WHERE {' AND '.join(where.sql)} AND row_number > ? "  # noqa: S608
        sql += "ORDER BY row_number LIMIT ?"
        rows = select_rows(connection, sql, [*where.params, offset, limit])
    else:
        sql = f"SELECT row_number, data FROM open_rows WHERE {' AND '.join(where.sql)} "  # noqa: S608
        sql += f"ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"
        rows = select_rows(connection, sql, [*where.params, *order_params, limit, offset])
    records = []
    for number, data in rows:
        row = {"_id": number, **orjson.loads(data)}
        records.append({f: row.get(f) for f in fields})
    if approved is not None:  # counted and recorded in this call's transaction: no rows leave unrecorded
        try:
            applications.use(session, *approved, "datastore_search", utcnow(), len(records))
        except applications.KeyRefused as exc:
            raise ActionError("Authorization Error", exc.status, exc.message) from None
    service.count(session, found.dataset_id, "api")
    path = f"/api/3/action/datastore_search?resource_id={resource_id}&limit={limit}"
    answer: dict[str, Any] = {
        "resource_id": resource_id,
        "fields": [{"id": f, "type": "int" if f == "_id" else "text"} for f in fields],
        "records": records,
        "limit": limit,
        "offset": offset,
        "_links": {"start": path, "next": f"{path}&offset={offset + limit}"},
    }
    if str(params.get("include_total", "true")).lower() not in ("false", "0"):
        if where.plain:
            answer["total"] = found.rows
        else:
            counted = f"SELECT count(*) FROM open_rows WHERE {' AND '.join(where.sql)}"  # noqa: S608
            answer["total"] = int(select_rows(connection, counted, where.params)[0][0])
        answer["total_was_estimated"] = False
    return answer


# --- the actions ---------------------------------------------------------------------------------------


def status_show(session: Session, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    from zhongtai import __version__

    return {
        "site_title": "庐州市公共数据开放平台",
        "site_description": "城市中台数据开放 (Zhongtai open data)",
        "site_url": base_url,
        "ckan_version": "2.10.0",
        "zhongtai_version": __version__,
        "locale_default": "zh_Hans_CN",
        "extensions": ["datastore"],
    }


def site_read(session: Session, params: dict[str, Any], base_url: str) -> bool:
    return True


def package_list(session: Session, params: dict[str, Any], base_url: str) -> list[str]:
    names = [e.dataset.name for e in service.entries(session)]
    limit = _int(params, "limit", len(names) or 1, 0, 10**6)
    offset = _int(params, "offset", 0, 0, 10**9)
    return names[offset : offset + limit]


def package_show(session: Session, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    key = str(params.get("id") or params.get("name_or_id") or "")
    if not key:
        raise invalid("id", "Missing value")
    try:
        found = service.entry(session, key)
    except NotFound:  # a hidden dataset is as unknown as one that never existed
        raise not_found("Dataset not found") from None
    return package_dict(found, base_url)


def _organizations(session: Session) -> dict[str, tuple[Entry, int]]:
    found: dict[str, tuple[Entry, int]] = {}
    for e in service.entries(session):
        code = e.department.code.lower()
        found[code] = (e, found[code][1] + 1 if code in found else 1)
    return found


def organization_list(session: Session, params: dict[str, Any], base_url: str) -> list[Any]:
    found = _organizations(session)
    if str(params.get("all_fields", "false")).lower() in ("true", "1"):
        return [organization_dict(e, n) for e, n in found.values()]
    return sorted(found)


def organization_show(session: Session, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    key = str(params.get("id") or "")
    for name, (e, n) in _organizations(session).items():
        made = organization_dict(e, n)
        if key in (name, made["id"]):
            if str(params.get("include_datasets", "false")).lower() in ("true", "1"):
                made["packages"] = [
                    package_dict(x, base_url)
                    for x in service.entries(session)
                    if x.department.code.lower() == name
                ]
            return made
    raise not_found("Organization was not found.")


def _groups(session: Session) -> Counter[str]:
    return Counter(e.dataset.theme for e in service.entries(session))


def group_list(session: Session, params: dict[str, Any], base_url: str) -> list[Any]:
    found = _groups(session)
    if str(params.get("all_fields", "false")).lower() in ("true", "1"):
        return [group_dict(theme, n) for theme, n in sorted(found.items())]
    return sorted(theme.lower() for theme in found)


def group_show(session: Session, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    key = str(params.get("id") or "")
    for theme, n in _groups(session).items():
        made = group_dict(theme, n)
        if key in (made["name"], made["id"]):
            return made
    raise not_found("Group was not found.")


def tag_list(session: Session, params: dict[str, Any], base_url: str) -> list[str]:
    tags = sorted({t for e in service.entries(session) for t in e.dataset.tags})
    query = str(params.get("query") or params.get("q") or "")
    return [t for t in tags if query in t]


def resource_show(session: Session, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    key = str(params.get("id") or "")
    for e in service.entries(session):
        for position, kind in enumerate(FORMATS):
            if key == resource_uuid(e.dataset.name, kind):
                return resource_dict(e, kind, base_url, position)
    raise not_found("Resource was not found.")


def datastore_search_sql(session: Session, params: dict[str, Any], base_url: str) -> Any:
    raise ActionError("Authorization Error", 403, "datastore_search_sql is not enabled on this portal")


Action = Callable[[Session, dict[str, Any], str], Any]
ACTIONS: dict[str, Action] = {
    "status_show": status_show,
    "site_read": site_read,
    "package_list": package_list,
    "package_search": package_search,
    "package_show": package_show,
    "organization_list": organization_list,
    "organization_show": organization_show,
    "group_list": group_list,
    "group_show": group_show,
    "tag_list": tag_list,
    "resource_show": resource_show,
    "datastore_search": datastore_search,
    "datastore_search_sql": datastore_search_sql,
}
