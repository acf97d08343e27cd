"""The live stream over a real socket: a burst of screens beyond the bound is answered 503 with Retry-After
while the screens within it get their figures and the rest of the platform keeps answering (1,000 at once)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.browser.sites import city_settings
from tests.factories import build_world
from tests.servers import served
from zhongtai.app import create_app
from zhongtai.core.database import build_engine, build_sessionmaker

BOUND = 20
BURST = 1000


def test_a_burst_of_screens_is_bounded_and_the_others_are_served(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = city_settings(sqlite_template, tmp_path).model_copy(
        update={"screen_max_streams": BOUND, "screen_interval_seconds": 0.5}
    )
    world = build_world(build_sessionmaker(build_engine(settings.resolved_database_url)))
    auth = world.auth("admin")

    async def burst(base: str) -> tuple[list[int], int, set[str]]:
        statuses: list[int] = []
        figures = 0
        retry: set[str] = set()
        opened = asyncio.Event()

        async def screen(client: httpx.AsyncClient) -> None:
            nonlocal figures
            async with client.stream("GET", "/api/v1/screen/stream", headers=auth) as answer:
                statuses.append(answer.status_code)
                if answer.status_code != 200:
                    retry.add(answer.headers.get("retry-after", ""))
                    return
                async for line in answer.aiter_lines():
                    if line.startswith("event: figures"):
                        figures += 1
                        break
                await opened.wait()  # hold the slot until every screen has knocked

        limits = httpx.Limits(max_connections=BURST + 10)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
            tasks = [asyncio.create_task(screen(client)) for _ in range(BURST)]
            while len(statuses) < BURST:
                await asyncio.sleep(0.05)
            health = await client.get("/healthz")
            assert health.status_code == 200  # the platform answers while the screens are open
            opened.set()
            await asyncio.gather(*tasks)
        return statuses, figures, retry

    with served(create_app(settings)) as base:
        statuses, figures, retry = asyncio.run(asyncio.wait_for(burst(base), 60))
    assert statuses.count(200) == BOUND and statuses.count(503) == BURST - BOUND
    assert figures == BOUND and retry == {"10"}
