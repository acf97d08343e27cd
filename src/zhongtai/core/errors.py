"""Typed domain errors. One handler (``zhongtai.app``) renders them as a stable JSON body.

Body: ``{"error": {"code": "...", "message": "...", "field": "..."|null}}``.
"""

from __future__ import annotations

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
