"""Each capability's OpenAPI 3.1 description, generated from what it is (no hand-written docs to drift)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from zhongtai.capabilities.models import Capability, CapabilityKind, Operation
from zhongtai.catalog.models import Resource
from zhongtai.core.errors import ERROR_BODY

REFUSALS = {
    "400": "Bad request",
    "401": "Missing, malformed, expired, replayed or unknown signature",
    "403": "Not subscribed, wrong purpose, no grant, app suspended",
    "404": "No such capability, or no record available to this app",
    "405": "Method not allowed",
    "413": "Body too large",
    "422": "Invalid input (names the field)",
    "429": "Rate limit or daily quota reached (Retry-After)",
    "502": "The backend failed or answered garbage",
    "503": "Circuit open, or the audit trail cannot be written",
    "504": "The backend did not answer in time",
}
HEADERS = [
    {
        "name": "X-Purpose",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
        "description": "The purpose code the app subscribed with (covered by the signature)",
    },
    {
        "name": "X-End-User",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,64}$"},
        "description": "The app's own id of the person it acts for, if any (recorded in the audit trail)",
    },
]
SIGNING = (
    "Every request is signed with HTTP Message Signatures (RFC 9421): `Signature-Input` covering "
    '`"@method" "@target-uri"`, the `x-purpose` (and `x-end-user`) header and `content-digest` when there '
    "is a body, with `created`, `nonce` and `keyid` parameters; `Signature` with HMAC-SHA256 or Ed25519."
)


def _responses(ok: dict[str, Any]) -> dict[str, Any]:
    refusals = {
        status: {"description": text, "content": {"application/json": {"schema": ERROR_BODY}}}
        for status, text in REFUSALS.items()
    }
    return {"200": {"description": "OK", "content": {"application/json": {"schema": ok}}}, **refusals}


def _record_schema(items: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Only the items the consumer's grant covers, masked unless granted unmasked",
        "properties": {item: {"type": ["string", "number", "boolean", "null"]} for item in items},
    }


def _operation(capability: Capability, items: list[str]) -> tuple[str, str, dict[str, Any]]:
    base = f"/gw/{capability.code}"
    op: dict[str, Any] = {
        "summary": capability.name,
        "description": capability.description,
        "parameters": HEADERS,
    }
    if capability.operation is Operation.LOOKUP:
        op["parameters"] = [
            {"name": "key", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}},
            *HEADERS,
        ]
        op["responses"] = _responses({"type": "object", "properties": {"record": _record_schema(items)}})
        return "get", base + "/{key}", op
    if capability.operation is Operation.LIST:
        paging = [
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
            {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
            {
                "name": "after",
                "in": "query",
                "description": "the previous page's `next` (instead of `page`: any depth, same cost)",
                "schema": {"type": "string", "maxLength": 2000},
            },
        ]
        op["parameters"] = [*paging, *HEADERS]
        op["description"] += "\n\nFilter with `?item=value` on items the grant covers unmasked."
        listing = {
            "type": "object",
            "properties": {
                "records": {"type": "array", "items": _record_schema(items)},
                "page": {"type": ["integer", "null"]},
                "page_size": {"type": "integer"},
                "has_more": {"type": "boolean"},
                "next": {"type": ["string", "null"], "description": "send as `after` for the next page"},
            },
        }
        op["responses"] = _responses(listing)
        return "get", base, op
    if capability.operation is Operation.VERIFY:
        names = [capability.key_item or "key", *capability.verify_items]
        body = {
            "type": "object",
            "required": [names[0]],
            "additionalProperties": False,
            "properties": {name: {"type": "string", "maxLength": 500} for name in names},
        }
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"] = _responses({"type": "object", "properties": {"match": {"type": "boolean"}}})
        return "post", base, op
    if capability.operation is Operation.LICENSE_VERIFY:
        body = {
            "type": "object",
            "required": ["number", "holder"],
            "properties": {
                "number": {"type": "string", "maxLength": 100},
                "holder": {"type": "string", "maxLength": 200},
            },
        }
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"] = _responses({"type": "object", "properties": {"valid": {"type": "boolean"}}})
        return "post", base, op
    if capability.operation is Operation.HEALTHCODE_VERIFY:
        body = {
            "type": "object",
            "required": ["code"],
            "properties": {
                "code": {"type": "string", "maxLength": 4000, "description": "The scanned text (AK1:…)"},
                "temperature": {"type": "number", "minimum": 30, "maximum": 45},
            },
        }
        answer = {
            "type": "object",
            "properties": {
                "valid": {"type": "boolean"},
                "decision": {"type": "string", "enum": ["pass", "restricted", "barred"]},
                "colour": {"type": "string", "enum": ["green", "yellow", "red"]},
                "masked_name": {"type": "string"},
                "fever": {"type": "boolean"},
                "stage": {"type": "string", "description": "When not valid: the stage that refused it"},
                "reason": {"type": "string"},
            },
        }
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"] = _responses(answer)
        return "post", base, op
    op["parameters"] = [
        {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}},
        *HEADERS,
    ]
    if capability.request_schema:
        op["requestBody"] = {"content": {"application/json": {"schema": capability.request_schema}}}
    op["responses"] = _responses({})
    methods = capability.methods or ["GET"]
    return methods[0].lower(), base + "/{path}", op


def document(session: Session, capability: Capability, server: str) -> dict[str, Any]:
    resource = session.get(Resource, capability.resource_id) if capability.resource_id else None
    items = [item.name for item in resource.items] if resource else []
    method, path, op = _operation(capability, items)
    paths: dict[str, Any] = {path: {method: op}}
    if capability.kind is CapabilityKind.PROXY:
        for other in capability.methods[1:]:
            paths[path][other.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{capability.name} ({capability.code})",
            "version": capability.version,
            "description": f"{capability.description}\n\n{SIGNING}",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "x-zhongtai": {
            "kind": capability.kind.value,
            "status": capability.status.value,
            "sla": capability.sla,
            "rate_per_second": capability.rate_per_second,
            "daily_quota": capability.daily_quota,
            "catalog": capability.catalog_codes,
        },
    }
