"""The background job queue: Huey, embedded by default, Redis when several worker machines share the load.

``build_queue`` makes the queue from settings and has the caller's ``register`` put every domain's tasks
on it (``zhongtai.tasks.register_all``: ``core`` imports no domain), so the web process (which enqueues)
and ``zhongtai worker`` (which executes) agree on task names. Tasks get the
session factory and settings through :class:`JobContext`, built at start-up, never at import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.settings import Settings


@dataclass
class JobContext:
    settings: Settings
    factory: sessionmaker[Session]
    queue: Huey
    tasks: dict[str, Any] = field(default_factory=dict)  # name -> Huey task wrapper, for enqueueing
    # Called with (job code, run id) after each successful ingestion batch: how governance follows
    # ingestion without ingestion knowing about it.
    after_batch: list[Callable[[str, int], None]] = field(default_factory=list)
    # Called with the resource code after each committed governance pass (sharing delivers its events).
    after_pass: list[Callable[[str], None]] = field(default_factory=list)


def make_huey(settings: Settings, name: str = "zhongtai") -> Huey:
    url = settings.queue_url
    if not url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=str((settings.data_dir / "queue.db").resolve()))
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url)
    if url == "memory://":
        return MemoryHuey(name, immediate=True)
    raise ValueError(f"ZHONGTAI_QUEUE_URL {url!r}: use redis://host:port/db or memory:// (or leave it unset)")


def build_queue(
    settings: Settings,
    factory: sessionmaker[Session],
    register: Callable[[JobContext], None],
    name: str = "zhongtai",
) -> JobContext:
    context = JobContext(settings=settings, factory=factory, queue=make_huey(settings, name))
    register(context)
    return context
