"""Rate limits, daily quotas, replay protection and circuit breakers.

Counters and nonces live in Redis when ``ZHONGTAI_GATEWAY_REDIS_URL`` is set, so every gateway instance
shares them (fixed windows: a Redis INCR is exact across instances); otherwise in the process. When Redis
cannot be reached the gateway keeps serving on in-process counters and nonce memory for
``REDIS_RETRY_SECONDS`` and then tries Redis again: limits then hold per instance, and a captured request
could be replayed once on each other instance within its signature's lifetime. Every fallback is logged
and counted (``zhongtai_gateway_redis_fallback_total``). Circuit breakers are per instance: each one
judges the upstream by what it sees.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import redis.asyncio as aioredis
from limits import RateLimitItemPerDay, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from prometheus_client import Counter
from redis.exceptions import RedisError

log = logging.getLogger("zhongtai.gateway")
REDIS_FALLBACK = Counter(
    "zhongtai_gateway_redis_fallback_total",
    "Gateway decisions taken on in-process state because Redis failed",
)
REDIS_RETRY_SECONDS = 5.0
DAY = 86_400
NONCE_MEMORY = 1_000_000  # most nonces one process remembers (oldest forgotten first)


class Verdict(enum.StrEnum):
    OK = "ok"
    RATE = "rate_limited"
    QUOTA = "quota_exhausted"


class _RedisHealth:
    """Remembers a Redis failure for a few seconds so calls don't each wait on a dead server."""

    def __init__(self) -> None:
        self.down_until = 0.0

    @property
    def usable(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, what: str, exc: Exception) -> None:
        REDIS_FALLBACK.inc()
        if self.usable:
            log.warning(
                "gateway redis unavailable, using in-process %s", what, extra={"error": type(exc).__name__}
            )
        self.down_until = time.monotonic() + REDIS_RETRY_SECONDS


class LocalWindows:
    """In-process fixed windows counted as ``limits``' fixed window counts them in Redis (a window opens
    at its first call and lasts its period). Not ``limits``' MemoryStorage: it starts a timer thread every
    10 ms and locks per key, over a tenth of a gateway call's time; the event loop needs neither."""

    def __init__(self) -> None:
        self.windows: dict[tuple[str, str, int], list[float]] = {}  # key -> [closes_at, calls]

    def hit(self, app: str, capability: str, period: int, limit: int, now: float) -> bool:
        """Counts one call if the window has room; False (nothing counted) when it is full."""
        window = self.windows.get((app, capability, period))
        if window is None or window[0] <= now:
            window = self.windows[(app, capability, period)] = [now + period, 0]
        if window[1] >= limit:
            return False
        window[1] += 1
        return True


class Quotas:
    def __init__(self, redis_url: str | None) -> None:
        self.local = LocalWindows()
        self.shared: FixedWindowRateLimiter | None = None
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            storage: Storage = RedisStorage(
                uri, wrap_exceptions=True, implementation="redispy", key_prefix="zhongtai-gw"
            )
            self.shared = FixedWindowRateLimiter(storage)
        self.health = _RedisHealth()

    async def hit(self, app: str, capability: str, per_second: int, per_day: int) -> Verdict:
        """Counts one call against both limits; a call refused by the rate does not use up the quota."""
        if self.shared is not None and self.health.usable:
            rate, quota = _items(per_second, per_day)
            try:
                if not await self.shared.hit(rate, app, capability):
                    return Verdict.RATE
                return Verdict.OK if await self.shared.hit(quota, app, capability) else Verdict.QUOTA
            except StorageError as exc:
                self.health.failed("rate limits", exc)
        now = time.monotonic()
        if not self.local.hit(app, capability, 1, per_second, now):
            return Verdict.RATE
        return Verdict.OK if self.local.hit(app, capability, DAY, per_day, now) else Verdict.QUOTA


@lru_cache(maxsize=4096)
def _items(per_second: int, per_day: int) -> tuple[RateLimitItemPerSecond, RateLimitItemPerDay]:
    return RateLimitItemPerSecond(per_second), RateLimitItemPerDay(per_day)


class Nonces:
    """A nonce is accepted once per key within the signature's lifetime."""

    def __init__(self, redis_url: str | None) -> None:
        self.memory: OrderedDict[str, float] = OrderedDict()
        self.redis = aioredis.Redis.from_url(redis_url, socket_timeout=0.5) if redis_url else None
        self.health = _RedisHealth()

    async def claim(self, key_id: str, nonce: str, until: int) -> bool:
        name = f"{key_id}\x00{nonce}"
        if self.redis is not None and self.health.usable:
            try:
                fresh = await self.redis.set(
                    f"zhongtai-gw:nonce:{key_id}:{nonce}",
                    b"1",
                    nx=True,
                    exat=max(until, int(time.time()) + 1),
                )
                return bool(fresh)
            except (RedisError, OSError) as exc:
                self.health.failed("nonce memory", exc)
        return self._claim_locally(name, until)

    def _claim_locally(self, name: str, until: int) -> bool:
        now = time.time()
        while self.memory:  # forget nonces whose signatures can no longer be accepted
            oldest, expiry = next(iter(self.memory.items()))
            if expiry > now and len(self.memory) < NONCE_MEMORY:
                break
            del self.memory[oldest]
        if name in self.memory:
            return False
        self.memory[name] = float(until)
        return True

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"  # one trial (a health check, or the next call) is finding out


@dataclass
class Breaker:
    """Opens after ``failures`` consecutive upstream failures; after ``reset_seconds`` lets one trial
    through (the health check if the capability has one) and closes again when it succeeds."""

    failures: int
    reset_seconds: float
    state: BreakerState = BreakerState.CLOSED
    consecutive: int = 0
    opened_at: float = 0.0

    def admit(self, now: float) -> bool:
        """Whether a call may go upstream now; moving to half-open makes this caller the trial."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and now - self.opened_at >= self.reset_seconds:
            self.state = BreakerState.HALF_OPEN
            return True
        return False

    def succeeded(self) -> None:
        self.state, self.consecutive = BreakerState.CLOSED, 0

    def failed(self, now: float) -> None:
        self.consecutive += 1
        if self.state is BreakerState.HALF_OPEN or self.consecutive >= self.failures:
            self.state, self.opened_at = BreakerState.OPEN, now

    def retry_after(self, now: float) -> int:
        return max(1, int(self.reset_seconds - (now - self.opened_at)) + 1)
