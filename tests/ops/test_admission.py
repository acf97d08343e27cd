"""Admission: a burst of requests far beyond the connection pool is served, not wedged (it was: every
thread waited for a connection held by a request waiting for a thread); a request that waits too long for
a slot is answered 503 with Retry-After, and the others are not disturbed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import anyio
import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse

from tests.factories import World
from tests.servers import served
from zhongtai.app import create_app
from zhongtai.core.database import REQUEST_SLOTS
from zhongtai.core.settings import Settings
from zhongtai.ops.middleware import AdmissionMiddleware

BURST = 300  # more than ten times the request slots, and than the pool's connections


def test_a_burst_far_beyond_the_pool_is_served(settings: Settings, world: World) -> None:
    async def burst(base: str) -> list[int | str]:
        limits = httpx.Limits(max_connections=BURST)
        async with httpx.AsyncClient(base_url=base, timeout=90, limits=limits) as client:
            answers = await asyncio.gather(
                *(client.get("/api/v1/departments", headers=world.auth("admin")) for _ in range(BURST)),
                return_exceptions=True,
            )
        return [a.status_code if isinstance(a, httpx.Response) else type(a).__name__ for a in answers]

    assert BURST > 10 * REQUEST_SLOTS
    with served(create_app(settings)) as base:
        codes = asyncio.run(burst(base))
        assert codes == [200] * BURST
        assert httpx.get(f"{base}/healthz").status_code == 200  # and it keeps answering


def test_a_request_that_waits_too_long_is_told_to_retry() -> None:
    inner = FastAPI()
    release = anyio.Event()

    @inner.get("/slow")
    async def slow() -> PlainTextResponse:
        await release.wait()
        return PlainTextResponse("done")

    @inner.get("/static/x")
    async def static() -> PlainTextResponse:
        return PlainTextResponse("static")

    app = AdmissionMiddleware(
        inner, slots=1, wait_seconds=0.2, exempt=lambda path: path.startswith("/static")
    )

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first = asyncio.create_task(client.get("/slow"))
            await asyncio.sleep(0.05)  # the first holds the only slot
            refused = await client.get("/slow")
            exempt = await client.get("/static/x")  # static files never wait
            release.set()
            return await first, refused, exempt

    first, refused, exempt = asyncio.run(scenario())
    assert first.status_code == 200 and first.text == "done"
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "busy"
    assert exempt.text == "static"


def test_a_slot_is_given_back_when_the_answer_starts() -> None:
    """A long download or a stream read slowly holds nobody up: its work is done once its answer starts."""
    inner = FastAPI()
    release = threading.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b"first part"
        while not release.is_set():  # a slow reader: the rest comes much later
            await asyncio.sleep(0.01)
        yield b" last part"

    @inner.get("/download")
    async def download() -> StreamingResponse:
        return StreamingResponse(trickle())

    @inner.get("/page")
    async def page() -> PlainTextResponse:
        return PlainTextResponse("page")

    app = AdmissionMiddleware(inner, slots=1, wait_seconds=0.5, exempt=lambda path: False)

    with served(app) as base:  # a real server: the test transport would wait for the whole body

        async def scenario() -> tuple[bytes, httpx.Response]:
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                async with client.stream("GET", "/download") as streaming:
                    chunks = streaming.aiter_bytes()
                    first = await chunks.__anext__()
                    other = await client.get("/page")  # admitted while the download is still going
                    release.set()
                    rest = b"".join([chunk async for chunk in chunks])
                return first + rest, other

        body, other = asyncio.run(scenario())
    assert other.status_code == 200 and other.text == "page"
    assert body == b"first part last part"
