"""Catalog export and import, JSON and CSV. Round trips are exact; an import is all-or-nothing.

CSV has one row per information item with the resource's fields repeated (the way catalog spreadsheets
are kept); a resource without items has one row with empty item columns. Lists are joined with ``;``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from zhongtai.catalog import codes
from zhongtai.catalog.models import Resource, ResourceStatus
from zhongtai.catalog.repository import CatalogRepository
from zhongtai.catalog.schemas import ResourceTransfer
from zhongtai.catalog.service import (
    build_resource,
    finish_new,
    item_rows,
    read,
    require_classification,
    require_provider,
)
from zhongtai.core.errors import M_, Conflict, Forbidden, Invalid, PayloadTooLarge
from zhongtai.core.jsonsafe import check_depth
from zhongtai.core.principal import Principal

FORMAT_TAG = "zhongtai-catalog"
FORMAT_VERSION = 1
MAX_IMPORT_RESOURCES = 20_000
MAX_ERRORS_SHOWN = 5

RESOURCE_COLUMNS = [
    "code",
    "classification",
    "name",
    "abstract",
    "provider",
    "format",
    "sharing_type",
    "sharing_conditions",
    "sharing_basis",
    "sharing_modes",
    "open_type",
    "open_conditions",
    "update_cycle",
    "source_system",
    "publish_date",
    "related_codes",
    "status",
]
ITEM_COLUMNS = ["item_name", "item_data_type", "item_length", "item_data_element", "item_sensitive"]
LIST_FIELDS = {"sharing_modes", "related_codes"}


def to_transfer(resource: Resource) -> ResourceTransfer:
    data = read(resource).model_dump(mode="json")
    return ResourceTransfer.model_validate(
        {key: data[key] for key in ResourceTransfer.model_fields if key in data}
    )


def export_records(session: Session, actor: Principal) -> list[ResourceTransfer]:
    return [to_transfer(r) for r in CatalogRepository(session).all_for_export(actor)]


# ---- serialisation (pure) -------------------------------------------------------------------------


def dump_json(records: list[ResourceTransfer]) -> str:
    body = {
        "format": FORMAT_TAG,
        "version": FORMAT_VERSION,
        "resources": [r.model_dump(mode="json") for r in records],
    }
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def dump_csv(records: list[ResourceTransfer]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RESOURCE_COLUMNS + ITEM_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        data = record.model_dump(mode="json")
        base = {
            col: ";".join(data[col]) if col in LIST_FIELDS else ("" if data[col] is None else data[col])
            for col in RESOURCE_COLUMNS
        }
        if not record.items:
            writer.writerow({**base, **dict.fromkeys(ITEM_COLUMNS, "")})
        for item in record.items:
            writer.writerow(
                {
                    **base,
                    "item_name": item.name,
                    "item_data_type": item.data_type.value,
                    "item_length": "" if item.length is None else str(item.length),
                    "item_data_element": item.data_element or "",
                    "item_sensitive": "true" if item.sensitive else "false",
                }
            )
    return out.getvalue()


def _errors_message(errors: list[str]) -> str:
    shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
    more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
    return f"import rejected, nothing was written: {shown}{more}"


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}"


def load_json(text: str) -> list[ResourceTransfer]:
    check_depth(text)
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(
            M_(
                "malformed JSON at line %(lineno)s column %(colno)s: %(msg)s",
                lineno=exc.lineno,
                colno=exc.colno,
                msg=exc.msg,
            ),
            code="malformed_json",
        ) from exc
    if (
        not isinstance(body, dict)
        or body.get("format") != FORMAT_TAG
        or not isinstance(body.get("resources"), list)
    ):
        raise Invalid(
            M_(
                'not a catalog export: expected {"format": "%(format_tag)s", "resources": [...]}',
                format_tag=FORMAT_TAG,
            ),
            code="wrong_format",
        )
    if body.get("version") != FORMAT_VERSION:
        raise Invalid(
            M_("unsupported export version %(value)r", value=body.get("version")), code="wrong_format"
        )
    return _validate([(f"resources[{i}]", raw) for i, raw in enumerate(body["resources"])])


def _validate(raw_records: list[tuple[str, Any]]) -> list[ResourceTransfer]:
    if len(raw_records) > MAX_IMPORT_RESOURCES:
        raise PayloadTooLarge(
            M_(
                "at most %(max_import_resources)s resources per import, got %(count)s",
                max_import_resources=MAX_IMPORT_RESOURCES,
                count=len(raw_records),
            )
        )
    records: list[ResourceTransfer] = []
    errors: list[str] = []
    for where, raw in raw_records:
        try:
            records.append(ResourceTransfer.model_validate(raw))
        except ValidationError as exc:
            errors.append(f"{where}: {_describe(exc)}")
    if errors:
        raise Invalid(_errors_message(errors), code="invalid_records")
    return records


def load_csv(text: str) -> list[ResourceTransfer]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    missing = set(RESOURCE_COLUMNS + ITEM_COLUMNS) - set(reader.fieldnames or [])
    if missing:
        raise Invalid(
            M_("CSV is missing columns: %(items)s", items=", ".join(sorted(missing))), code="wrong_format"
        )
    grouped: dict[str, tuple[str, dict[str, Any]]] = {}
    try:
        for line, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                raise Invalid(
                    M_("CSV line %(line)s: wrong number of columns", line=line), code="malformed_csv"
                )
            _add_csv_row(grouped, line, row)
    except csv.Error as exc:
        raise Invalid(M_("malformed CSV: %(exc)s", exc=exc), code="malformed_csv") from exc
    return _validate(list(grouped.values()))


def _add_csv_row(grouped: dict[str, tuple[str, dict[str, Any]]], line: int, row: dict[str, str]) -> None:
    code = row["code"]
    if code not in grouped:
        record: dict[str, Any] = {}
        for col in RESOURCE_COLUMNS:
            value = row[col]
            if col in LIST_FIELDS:
                record[col] = [v for v in value.split(";") if v]
            elif col in {"source_system", "publish_date"}:
                record[col] = value or None
            else:
                record[col] = value
        record["items"] = []
        grouped[code] = (f"CSV line {line}", record)
    if row["item_name"]:
        grouped[code][1]["items"].append(
            {
                "name": row["item_name"],
                "data_type": row["item_data_type"],
                "length": row["item_length"] or None,
                "data_element": row["item_data_element"] or None,
                "sensitive": row["item_sensitive"].lower() in {"true", "1", "yes", "是"},
            }
        )


def parse(text: str, fmt: str) -> list[ResourceTransfer]:
    if fmt == "json":
        return load_json(text)
    if fmt == "csv":
        return load_csv(text)
    raise Invalid(M_("unknown format %(fmt)r; use json or csv", fmt=fmt), field="format")


def dump(records: list[ResourceTransfer], fmt: str) -> str:
    if fmt == "json":
        return dump_json(records)
    if fmt == "csv":
        return dump_csv(records)
    raise Invalid(M_("unknown format %(fmt)r; use json or csv", fmt=fmt), field="format")


# ---- import into the database --------------------------------------------------------------------


def import_records(session: Session, actor: Principal, records: list[ResourceTransfer]) -> list[str]:
    """Create every record or none: any problem raises, and the caller's transaction rolls back."""
    if not actor.is_operator:
        raise Forbidden(M_("only a platform operator may import catalog entries"), code="missing_role")
    _check_codes(session, records)
    created = [_import_one(session, actor, record) for record in records]
    session.flush()
    return [r.code for r in created]


def _check_codes(session: Session, records: list[ResourceTransfer]) -> None:
    errors: list[str] = []
    seen: set[str] = set()
    for record in records:
        try:
            classification, _ = codes.parse_resource_code(record.code)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if classification != record.classification:
            errors.append(
                f"{record.code}: code does not start with its classification {record.classification}"
            )
        if record.code in seen:
            errors.append(f"{record.code}: appears twice in the file")
        seen.add(record.code)
    repo = CatalogRepository(session)
    related = sorted({code for record in records for code in record.related_codes} - seen)
    known = seen | repo.existing_codes(related)
    for record in records:
        missing = set(record.related_codes) - known
        if missing:
            errors.append(f"{record.code}: unknown related codes {', '.join(sorted(missing))}")
    if errors:
        raise Invalid(_errors_message(errors), code="invalid_records")
    taken = repo.existing_codes(sorted(seen))
    if taken:
        raise Conflict(
            _errors_message([f"resource code {c} already exists" for c in sorted(taken)]),
            code="duplicate_code",
        )


def _import_one(session: Session, actor: Principal, record: ResourceTransfer) -> Resource:
    try:
        provider = require_provider(session, record.provider)
        classification = require_classification(session, record.classification)
        fields = record.model_dump(exclude={"code", "classification", "provider", "items", "status"})
        resource = build_resource(session, fields, provider)
    except Invalid as exc:
        raise Invalid(
            _errors_message([f"{record.code}: {exc.message}"]), field=exc.field, code=exc.code
        ) from exc
    _, sequence = codes.parse_resource_code(record.code)
    resource.code = record.code
    resource.classification_code = classification
    resource.sequence = sequence
    resource.category = codes.category_of(classification)
    resource.status = ResourceStatus(record.status)
    resource.items = item_rows(record.items)
    resource.related_codes = list(dict.fromkeys(record.related_codes))
    try:
        finish_new(session, actor, resource, "import")
    except Invalid as exc:
        raise Invalid(
            _errors_message([f"{record.code}: {exc.message}"]), field=exc.field, code=exc.code
        ) from exc
    return resource
