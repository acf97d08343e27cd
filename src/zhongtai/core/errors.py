"""Typed domain errors. One handler (``zhongtai.app``) renders them as a stable JSON body.

Body: ``{"error": {"code": "...", "message": "...", "field": "..."|null}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The JSON Schema of that body, for the OpenAPI of the platform API and of every capability.
ERROR_BODY: dict[str, object] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"], "description": "The input at fault, if one is"},
                "request_id": {"type": "string"},
            },
        }
    },
}


class Message(str):
    """An error message: the English text (what logs, the command line and English callers read) that also
    keeps the template and values it was made from, so the error handler can say it in the caller's
    language (the ``errors`` catalog translates the template; ``make i18n`` extracts every ``M_``)."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, **values: object) -> Message:
        text = super().__new__(cls, template % values if values else template)
        text.template, text.values = template, values
        return text


def M_(template: str, **values: object) -> Message:
    """An error message from an English template with ``%(name)s`` placeholders."""
    return Message(template, **values)


# How pydantic's commonest complaints read; the rest keep pydantic's (English) wording after the field.
_VALIDATION: dict[str, Message] = {
    "missing": M_("%(field)s is required"),
    "string_too_short": M_("%(field)s: at least %(min_length)s characters"),
    "string_too_long": M_("%(field)s: at most %(max_length)s characters"),
    "too_short": M_("%(field)s: at least %(min_length)s entries"),
    "too_long": M_("%(field)s: at most %(max_length)s entries"),
    "string_pattern_mismatch": M_("%(field)s: not in the expected form"),
    "string_type": M_("%(field)s: must be text"),
    "int_parsing": M_("%(field)s: must be a whole number"),
    "int_type": M_("%(field)s: must be a whole number"),
    "float_parsing": M_("%(field)s: must be a number"),
    "bool_parsing": M_("%(field)s: must be true or false"),
    "greater_than_equal": M_("%(field)s: must be at least %(ge)s"),
    "less_than_equal": M_("%(field)s: must be at most %(le)s"),
    "greater_than": M_("%(field)s: must be more than %(gt)s"),
    "less_than": M_("%(field)s: must be less than %(lt)s"),
    "enum": M_("%(field)s: must be one of %(expected)s"),
    "literal_error": M_("%(field)s: must be one of %(expected)s"),
    "extra_forbidden": M_("%(field)s: is not an accepted field"),
    "date_from_datetime_parsing": M_("%(field)s: must be a date such as 2026-12-08"),
    "date_parsing": M_("%(field)s: must be a date such as 2026-12-08"),
    "datetime_parsing": M_("%(field)s: must be a date-time such as 2026-12-08T09:30:00+08:00"),
    "datetime_from_date_parsing": M_("%(field)s: must be a date-time such as 2026-12-08T09:30:00+08:00"),
    "url_parsing": M_("%(field)s: must be a URL"),
    "url_scheme": M_("%(field)s: must be an http(s) URL"),
    "json_invalid": M_("%(field)s: not valid JSON"),
    "dict_type": M_("%(field)s: must be an object"),
    "list_type": M_("%(field)s: must be a list"),
}


def validation_text(error: Mapping[str, Any], field: str | None) -> Message:
    """One pydantic error as a message naming the field, in the catalog's words where it knows them."""
    where = field or "request"
    known = _VALIDATION.get(str(error.get("type")))
    context = {
        k: (", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in (error.get("ctx") or {}).items()
    }
    if known is not None:
        try:
            return M_(known.template, field=where, **context)
        except (KeyError, TypeError, ValueError):  # a context without the value the wording names
            pass
    return M_("%(field)s: %(detail)s", field=where, detail=str(error.get("msg", "invalid")))


class ZhongtaiError(Exception):
    status_code = 400
    code = "bad_request"
    retry_after: int | None = None  # seconds, sent as Retry-After where set

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class BadRequest(ZhongtaiError):
    status_code = 400
    code = "bad_request"


class Unauthenticated(ZhongtaiError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(ZhongtaiError):
    status_code = 403
    code = "forbidden"


class NotFound(ZhongtaiError):
    status_code = 404
    code = "not_found"


class MethodNotAllowed(ZhongtaiError):
    status_code = 405
    code = "method_not_allowed"


class Conflict(ZhongtaiError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ZhongtaiError):
    status_code = 413
    code = "payload_too_large"


class Invalid(ZhongtaiError):
    """Well-formed request whose content breaks a rule (unknown reference, bad file)."""

    status_code = 422
    code = "invalid"


class TooManyAttempts(ZhongtaiError):
    status_code = 429
    code = "too_many_attempts"


class Unavailable(ZhongtaiError):
    """Something the request needs is down (e.g. the audit trail cannot be written): nothing was done."""

    status_code = 503
    code = "unavailable"


class BadGateway(ZhongtaiError):
    """An upstream answered with an error or with something that is not what it promised."""

    status_code = 502
    code = "bad_gateway"


class GatewayTimeout(ZhongtaiError):
    """An upstream did not answer within the time budget."""

    status_code = 504
    code = "gateway_timeout"


class DatabaseNotMigrated(RuntimeError):
    """Raised at start-up when the schema is not at the code's revision."""
