"""Thin ASGI middleware: request id, access log, Prometheus metrics, the request body limit and admission
(how many requests work at once)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable

import anyio
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zhongtai.core.context import reset_request_id, set_request_id
from zhongtai.core.errors import M_, BadRequest, PayloadTooLarge
from zhongtai.core.jsonsafe import MAX_JSON_DEPTH, check_depth

log = logging.getLogger("zhongtai.access")

REQUESTS = Counter("zhongtai_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "zhongtai_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ADMISSION_REFUSED = Counter(
    "zhongtai_http_admission_refused_total", "Requests answered 503 after waiting too long for a slot"
)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    """Gives every request an id (or keeps a sane incoming X-Request-ID), logs and measures it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = set_request_id(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "route": route,  # the template, never the path: keys in paths are personal data
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            reset_request_id(token)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413, by Content-Length or while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        large_paths: re.Pattern[str] | None = None,
        large_max_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # File uploads stream to disk and have their own, larger limit.
        self.large_paths = large_paths
        self.large_max_bytes = large_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if self.large_paths is not None and self.large_paths.fullmatch(scope["path"]):
            limit = self.large_max_bytes
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._reject(send, limit)
            return
        received = 0
        started = refused = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:  # the 413 is the answer; whatever the app says after it is dropped
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def limited_receive() -> Message:
            # A body streamed without Content-Length is counted as it arrives; past the limit the client
            # gets 413 at once and the app sees a disconnect (an exception here would reach the app's body
            # parser and come back as 400 "error parsing the body").
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        await self._reject(send, limit)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited_receive, guarded_send)

    async def _reject(self, send: Send, limit: int) -> None:
        await _send_json(
            send,
            413,
            PayloadTooLarge(M_("request body is larger than %(limit)s bytes", limit=limit)).to_body(),
        )


class JsonDepthMiddleware:
    """Refuses a JSON body nested deeper than the platform reads (400 ``invalid_json``) before any parser
    sees it; other bodies pass untouched."""

    def __init__(self, app: ASGIApp, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = (
            dict(scope.get("headers", [])).get(b"content-type", b"") if scope["type"] == "http" else b""
        )
        if b"json" not in content_type.lower():
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = bytearray()
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        try:
            check_depth(bytes(body), self.max_depth)
        except BadRequest as exc:
            await _send_json(send, exc.status_code, exc.to_body())
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class AdmissionMiddleware:
    """At most ``slots`` requests do their work at once in this process; the others wait here, holding
    neither a thread nor a database connection, and after ``wait_seconds`` are answered 503 with
    Retry-After. A request gives its slot back when its answer starts: its work (and its session's commit)
    is done by then, and a slow client reading a long download or a stream holds nobody up.

    Why: a request's session keeps its pooled connection from its first query to its commit, and both run
    on the thread pool. With more requests at work than the pool has connections, the threads can all be
    taken by requests waiting for a connection while the requests holding the connections wait for a thread
    to commit — a burst of a few hundred requests wedged the server until the pool's timeout. With the
    slots below the pool's size (``core.database.POOL_SIZE``; a request uses at most two connections at
    once) and the thread pool, every admitted request can finish. Static files and probes pass by."""

    def __init__(self, app: ASGIApp, slots: int, wait_seconds: float, exempt: Callable[[str], bool]) -> None:
        self.app, self.slots, self.wait_seconds, self.exempt = app, slots, wait_seconds, exempt
        self._slots: anyio.Semaphore | None = None  # made on the server's event loop, at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = anyio.Semaphore(self.slots)
        slots = self._slots
        with anyio.move_on_after(self.wait_seconds) as waited:
            await slots.acquire()
        if waited.cancelled_caught:
            ADMISSION_REFUSED.inc()
            body = {
                "error": {"code": "busy", "message": "the server is busy; retry in a second", "field": None}
            }
            await _send_json(send, 503, body, [(b"retry-after", b"1")])
            return
        held = True

        async def send_and_free(message: Message) -> None:
            nonlocal held
            if held and message["type"] == "http.response.start":
                held = False
                slots.release()
            await send(message)

        try:
            await self.app(scope, receive, send_and_free)
        finally:
            if held:
                slots.release()


async def _send_json(
    send: Send, status: int, payload: object, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
