"""Rate limits and daily quotas: in-process by default, shared by several gateway processes through Redis
(exact counts), and still serving on in-process counters when Redis cannot be reached."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import TEST_SECRET
from tests.factories import World
from tests.gateway.helpers import (
    CAP,
    Credentials,
    data_capability,
    governed_people,
    grant_api,
    new_app,
    new_key,
    sign,
    subscribe,
)
from tests.servers import free_port
from tests.sharing.helpers import id_number
from zhongtai.app import create_app
from zhongtai.core.settings import Settings
from zhongtai.gateway.protection import DAY, REDIS_FALLBACK, LocalWindows

REDIS_URL = os.environ.get("ZHONGTAI_TEST_REDIS_URL")
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def limited(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World, **limits: int
) -> tuple[str, Credentials]:
    """A lookup capability with the given limits and a fresh app (unique code: counters live in Redis)."""
    resource = governed_people(factory, settings)
    grant_api(client, world, resource)
    data_capability(client, world, resource, "person.by-id", "lookup", key_item="公民身份号码")
    changed = client.patch(f"{CAP}/person.by-id", json=limits, headers=world.auth("developer_a"))
    assert changed.status_code == 200, changed.text
    app = new_app(client, world, code=f"app-{uuid.uuid4().hex[:12]}")
    subscribe(client, world, app, "person.by-id")
    return app, new_key(client, world, app)


def lookups(client: TestClient, key: Credentials, count: int) -> list[int]:
    path = f"/gw/person.by-id/{id_number(1)}"
    return [client.get(path, headers=sign(key, "GET", path)).status_code for _ in range(count)]


@sqlite_only
def test_daily_quota_and_rate_limit_in_process(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    _, key = limited(client, factory, settings, world, daily_quota=3, rate_per_second=1000)
    statuses = lookups(client, key, 5)
    assert statuses == [200, 200, 200, 429, 429]
    path = f"/gw/person.by-id/{id_number(1)}"
    refused = client.get(path, headers=sign(key, "GET", path))
    assert refused.json()["error"]["code"] == "quota_exhausted" and refused.headers["retry-after"]
    client.patch(
        f"{CAP}/person.by-id",
        json={"daily_quota": 1000, "rate_per_second": 2},
        headers=world.auth("developer_a"),
    )
    burst = lookups(client, key, 5)  # five calls within at most two one-second windows
    assert burst.count(429) >= 1 and set(burst) <= {200, 429}


@sqlite_only
def test_unreachable_redis_falls_back_to_in_process_limits(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    broken = settings.model_copy(update={"gateway_redis_url": "redis://127.0.0.1:1/0"})
    before = REDIS_FALLBACK._value.get()
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        _, key = limited(client, factory, broken, world, daily_quota=2, rate_per_second=1000)
        assert lookups(client, key, 3) == [200, 200, 429]  # still served, still limited (per instance)
    assert REDIS_FALLBACK._value.get() > before


@contextmanager
def gateway_process(settings: Settings, redis_url: str) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "ZHONGTAI_ENV": "test",
        "ZHONGTAI_DATABASE_URL": settings.resolved_database_url,
        "ZHONGTAI_SECRET_KEY": TEST_SECRET,
        "ZHONGTAI_DATA_DIR": str(settings.data_dir),
        "ZHONGTAI_QUEUE_URL": "memory://",
        "ZHONGTAI_GATEWAY_REDIS_URL": redis_url,
        "ZHONGTAI_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "zhongtai.app:create_app", "--port", str(port)],
        env=env,
        cwd=Path(settings.data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@sqlite_only
@pytest.mark.skipif(
    REDIS_URL is None, reason="shared-limit tests need ZHONGTAI_TEST_REDIS_URL (set by .ci/run)"
)
def test_two_gateway_processes_share_one_quota_through_redis(
    client: TestClient, factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    assert REDIS_URL is not None
    _, key = limited(client, factory, settings, world, daily_quota=30, rate_per_second=10_000)
    path = f"/gw/person.by-id/{id_number(1)}"
    with gateway_process(settings, REDIS_URL) as one, gateway_process(settings, REDIS_URL) as two:
        statuses = []
        for index in range(50):
            base = (one, two)[index % 2]
            headers = sign(key, "GET", path, base_url=base)
            statuses.append(httpx.get(base + path, headers=headers, timeout=10).status_code)
        # behind one load balancer both instances see the same host: a nonce used on one is used on both
        headers = {**sign(key, "GET", path, base_url="http://gateway.city"), "Host": "gateway.city"}
        first = httpx.get(one + path, headers=headers, timeout=10)
        again = httpx.get(two + path, headers=headers, timeout=10)
    assert statuses.count(200) == 30 and statuses.count(429) == 20  # exact across both processes
    assert first.json()["error"]["code"] == "quota_exhausted"
    assert again.status_code == 401 and again.json()["error"]["code"] == "replayed"


@given(
    limit=st.integers(min_value=0, max_value=50),
    moments=st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), max_size=200),
)
def test_in_process_windows_admit_exactly_the_limit_per_window(limit: int, moments: list[float]) -> None:
    """A window opens at its first call and lasts its period; within it, exactly ``limit`` calls pass,
    refused calls count for nothing, and other apps and periods have windows of their own."""
    windows = LocalWindows()
    admitted: list[float] = []
    opened: float | None = None
    expected: list[bool] = []
    for now in sorted(moments):
        if opened is None or now >= opened + 1:
            opened, admitted = now, []
        expected.append(len(admitted) < limit)
        if expected[-1]:
            admitted.append(now)
    assert [windows.hit("app", "cap", 1, limit, now) for now in sorted(moments)] == expected
    assert windows.hit("other-app", "cap", 1, 1, 0.0) and windows.hit("app", "cap", DAY, 1, 0.0)
