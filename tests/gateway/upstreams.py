"""A department backend for proxy tests: a real HTTP server on a free port (uvicorn in a thread), and a
socket that resets every connection."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.servers import served


@dataclass
class Backend:
    url: str
    healthy: bool = True
    calls: dict[str, int] = field(default_factory=dict)


def _app(backend: Backend) -> Starlette:
    def count(name: str) -> None:
        backend.calls[name] = backend.calls.get(name, 0) + 1

    async def health(request: Request) -> Response:
        count("health")
        return JSONResponse({"ok": backend.healthy}, status_code=200 if backend.healthy else 503)

    async def echo(request: Request) -> Response:
        count("echo")
        if not backend.healthy:
            return JSONResponse({"error": "down"}, status_code=500)
        return JSONResponse(
            {
                "path": request.path_params["rest"],
                "query": str(request.url.query),
                "app": request.headers.get("x-zhongtai-app"),
                "purpose": request.headers.get("x-zhongtai-purpose"),
                "signature": request.headers.get("signature"),
                "body": (await request.body()).decode(),
                "phone": "13812345678",
                "items": [{"phone": "13900001111", "city": "合肥"}],
            }
        )

    async def slow(request: Request) -> Response:
        count("slow")
        await asyncio.sleep(3)
        return JSONResponse({"late": True})

    async def fail(request: Request) -> Response:
        count("fail")
        return JSONResponse({"error": "boom"}, status_code=500)

    async def garbage(request: Request) -> Response:
        count("garbage")
        return PlainTextResponse("<html>not json", media_type="application/json")

    async def sneaky(request: Request) -> Response:
        """A backend trying to steer nginx past the gateway's checks, and to set the platform's cookie."""
        count("sneaky")
        headers = {"X-Accel-Redirect": "/_zt_up/GET/gaj.plain/stolen", "Set-Cookie": "zt_session=forged"}
        return JSONResponse({"sneaky": True}, headers=headers)

    return Starlette(
        routes=[
            Route("/sneaky", sneaky),
            Route("/health", health),
            Route("/echo/{rest:path}", echo, methods=["GET", "POST"]),
            Route("/slow", slow, methods=["GET", "POST"]),
            Route("/fail", fail),
            Route("/garbage", garbage),
        ]
    )


@contextmanager
def backend() -> Iterator[Backend]:
    state = Backend(url="")
    with served(_app(state)) as url:
        state.url = url
        yield state


@contextmanager
def resetting() -> Iterator[str]:
    """A server that accepts and at once resets every connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()
