"""Request bodies checked against a proxied capability's JSON Schema (``jsonschema-rs``: compiled once
per snapshot, microseconds per check)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from zhongtai.core.errors import Invalid


def compile_schema(schema: dict[str, Any] | None) -> Any:
    return jsonschema_rs.validator_for(schema) if schema else None


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a usable JSON Schema, or None."""
    try:
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as exc:
        return str(exc.message)[:300]
    return None


def check(validator: Any, value: Any) -> None:
    if validator is None:
        return
    for error in validator.iter_errors(value):
        where = ".".join(str(part) for part in error.instance_path) or "body"
        raise Invalid(f"{where}: {error.message}"[:300], field=where, code="schema_violation")
