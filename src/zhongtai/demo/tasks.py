"""Background jobs of the demo city: its departments keep working while the demo runs."""

from __future__ import annotations

from huey import crontab

from zhongtai.core.jobs import JobContext
from zhongtai.demo.sources import department_activity


def register(context: JobContext) -> None:
    @context.queue.periodic_task(crontab(), name="demo.department_activity")  # type: ignore[untyped-decorator]
    def activity() -> None:
        department_activity(context.settings)
