"""One computation per interval, fanned out to every open screen of this process.

While at least one screen is connected (or the JSON API was asked), the hub advances the rollups and
composes the figures once per interval — in a worker thread, off the event loop — and wakes every open
stream with the same bytes. A hundred screens cost the database what one does. The number of streams is
bounded (``screen_max_streams``); one over the bound is answered 503 with Retry-After and the page retries.
Nothing grows with time: the hub holds the latest payload only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import orjson
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core import rollups
from zhongtai.core.database import transaction
from zhongtai.core.errors import M_, Unavailable
from zhongtai.core.rollups import Feeds
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.screen import service
from zhongtai.screen.service import LocalAlerts

log = logging.getLogger("zhongtai.screen")
PING_SECONDS = 15.0  # a comment line keeps proxies from closing a quiet stream
RECHECK_SECONDS = 60.0  # how often a kiosk stream asks whether its link still holds
RETRY_MS = 3000  # the browser's reconnect delay after a dropped stream


def event(version: int, payload: bytes, name: str = "figures") -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (version, name.encode(), payload)


class Hub:
    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        feeds: Feeds,
        local: LocalAlerts | None = None,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.feeds = feeds
        self.local = local or (lambda: [])
        self.interval = settings.screen_interval_seconds
        self.payload = b""
        self.version = 0
        self.computed_at = -1e9  # monotonic seconds
        self.computations = 0
        self.limit = settings.screen_max_streams
        # The open streams, held weakly: a stream whose response never started (its client gone at once) is
        # forgotten with it, so no slot is ever lost however a connection ends.
        self._live: weakref.WeakSet[AsyncIterator[bytes]] = weakref.WeakSet()
        self._wake: asyncio.Condition | None = None
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None

    # --- computing --------------------------------------------------------------------------------

    def compute(self) -> bytes:
        """Advance the rollups (another process may be doing it: then just read) and compose the panels."""
        now = utcnow()
        try:
            with transaction(self.factory) as session:
                rollups.advance(session, now, self.feeds)
        except Exception as exc:  # the figures are still read; the next interval tries again
            log.warning("rollups not advanced", extra={"error": type(exc).__name__})
        with self.factory() as session:
            found = rollups.read(session, now)
        return orjson.dumps(service.compose(found, self.settings, self.local()))

    def _primitives(self) -> tuple[asyncio.Condition, asyncio.Lock]:
        if self._wake is None or self._lock is None:
            self._wake, self._lock = asyncio.Condition(), asyncio.Lock()
        return self._wake, self._lock

    async def refresh(self, force: bool = False) -> bytes:
        """The latest payload, recomputed if older than an interval (one computation however many ask)."""
        wake, lock = self._primitives()
        async with lock:
            if force or time.monotonic() - self.computed_at >= self.interval:
                self.payload = await anyio.to_thread.run_sync(self.compute)
                self.computed_at = time.monotonic()
                self.computations += 1
                self.version += 1
                async with wake:
                    wake.notify_all()
        return self.payload

    async def _drive(self) -> None:
        """Recompute every interval while anyone watches; stop when the last screen leaves."""
        while self.streams > 0:
            try:
                await self.refresh()
            except (
                Exception
            ):  # a database hiccup: the screens keep the last figures and say when they are from
                log.exception("screen figures not computed")
            await asyncio.sleep(self.interval)

    # --- streaming --------------------------------------------------------------------------------

    @property
    def streams(self) -> int:
        return len(self._live)

    def admit(self, still_valid: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[bytes]:
        """A new stream in a slot of its own, or a refusal with 503 (before the response starts)."""
        if self.streams >= self.limit:
            busy = Unavailable(
                M_("too many screens are open on this server; retrying shortly"), code="too_many_screens"
            )
            busy.retry_after = 10
            raise busy
        stream = self.events(still_valid)
        self._live.add(stream)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drive())
        return stream

    async def events(self, still_valid: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[bytes]:
        """The stream of one screen (made by :meth:`admit`): the figures now, then each new computation."""
        checked = time.monotonic()
        yield b"retry: %d\n\n" % RETRY_MS
        payload = await self.refresh()
        seen = self.version
        yield event(seen, payload)
        while True:
            await self._newer_than(seen)
            if still_valid is not None and time.monotonic() - checked >= RECHECK_SECONDS:
                checked = time.monotonic()
                if not await still_valid():
                    yield event(self.version, b'{"closed": "link"}', "closed")
                    return
            if self.version > seen:
                seen = self.version
                yield event(seen, self.payload)
            else:
                yield b": ping\n\n"

    async def _newer_than(self, version: int) -> None:
        """Wait until a computation newer than ``version`` (or a ping's worth of quiet)."""
        wake, _ = self._primitives()
        async with wake:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait_for(lambda: self.version > version), PING_SECONDS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def local_alerts(app_state: Any) -> LocalAlerts:
    """Alerts only this process knows: its gateway's circuit breakers that are open."""

    def found() -> list[dict[str, Any]]:
        runtime = getattr(app_state, "gateway", None)
        breakers = getattr(getattr(runtime, "upstreams", None), "breakers", {}) or {}
        open_ = sorted(code for code, breaker in breakers.items() if breaker.state.value != "closed")
        return (
            [{"kind": "breaker_open", "level": "critical", "count": len(open_), "detail": open_}]
            if open_
            else []
        )

    return found
