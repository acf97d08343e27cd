"""Cron-like schedules (``minute hour day month weekday``), read in the city's time zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from huey import crontab

from zhongtai.core.errors import M_, Invalid
from zhongtai.core.types import CITY_ZONE


def parse_schedule(expression: str) -> Callable[[datetime], bool]:
    """A test for "is this minute due"; raises :class:`Invalid` naming the bad field."""
    fields = expression.split()
    if len(fields) != 5:
        raise Invalid(
            M_(
                "schedule %(expression)r: give five fields: minute hour day month weekday "
                "(e.g. '*/15 * * * *')",
                expression=expression,
            ),
            field="schedule",
        )
    minute, hour, day, month, weekday = fields
    try:
        return crontab(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, strict=True)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise Invalid(
            M_("schedule %(expression)r: %(exc)s", expression=expression, exc=exc), field="schedule"
        ) from None


def slot_of(moment: datetime) -> datetime:
    """The minute a tick at ``moment`` belongs to (UTC, seconds dropped)."""
    return moment.replace(second=0, microsecond=0)


def is_due(expression: str, slot: datetime) -> bool:
    local = slot.astimezone(CITY_ZONE).replace(tzinfo=None)
    return parse_schedule(expression)(local)


def next_due(expression: str, after: datetime, horizon_days: int = 31) -> datetime | None:
    """The next slot after ``after`` (for display); None if none within the horizon."""
    test = parse_schedule(expression)
    moment = slot_of(after) + timedelta(minutes=1)
    for _ in range(horizon_days * 24 * 60):
        if test(moment.astimezone(CITY_ZONE).replace(tzinfo=None)):
            return moment
        moment += timedelta(minutes=1)
    return None
