"""Every domain's background jobs, registered on one queue: the web process (which enqueues) and
``zhongtai worker`` (which executes) build the queue with this, so they agree on task names. It lives
beside the app factory, not in ``core``: ``core`` imports no domain."""

from __future__ import annotations

from zhongtai.core.jobs import JobContext
from zhongtai.demo import tasks as demo_tasks
from zhongtai.figures import build_feeds
from zhongtai.governance import tasks as governance_tasks
from zhongtai.healthcode import tasks as healthcode_tasks
from zhongtai.ingest import tasks as ingest_tasks
from zhongtai.licences import tasks as licence_tasks
from zhongtai.opendata import tasks as opendata_tasks
from zhongtai.screen import tasks as screen_tasks
from zhongtai.sharing import tasks as sharing_tasks


def register_all(context: JobContext) -> None:
    ingest_tasks.register(context)
    governance_tasks.register(context)
    sharing_tasks.register(context)
    healthcode_tasks.register(context)
    licence_tasks.register(context)
    opendata_tasks.register(context)
    screen_tasks.register(context, build_feeds(context.settings))
    demo_tasks.register(context)
