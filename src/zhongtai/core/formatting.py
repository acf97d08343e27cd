"""How pages show times and numbers: every time in the city's zone, the Chinese way (2026-12-08 23:24),
relative where it helps (3 分钟前), deadlines as working days left, numbers with separators.

Templates reach these as filters (``{{ run.started_at|when }}``, ``|ago``, ``|day``, ``|num``,
``|workdays_left``); the language and zone come from the page's context. APIs keep ISO 8601 with offsets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta
from babel.numbers import format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from zhongtai.core.i18n import BABEL_LOCALES, DEFAULT_LANGUAGE, N_, error_text, gettext
from zhongtai.core.types import CITY_ZONE, utcnow

MINUTE = "%Y-%m-%d %H:%M"
SECOND = "%Y-%m-%d %H:%M:%S"
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> reads and sends


def _lang(context: Context) -> str:
    lang = context.get("lang")
    return lang if isinstance(lang, str) else DEFAULT_LANGUAGE


def _zone(context: Context) -> ZoneInfo:
    zone = context.get("zone")
    return zone if isinstance(zone, ZoneInfo) else CITY_ZONE


def local_time(moment: datetime | str, zone: ZoneInfo = CITY_ZONE) -> datetime:
    """``moment`` on the city's clock; a naive one is taken as UTC (how the database hands them back), text
    as ISO 8601 (provenance and event records keep their times as text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(zone)


def time_text(moment: datetime | str, zone: ZoneInfo = CITY_ZONE, seconds: bool = False) -> str:
    return local_time(moment, zone).strftime(SECOND if seconds else MINUTE)


def relative_text(moment: datetime, lang: str, now: datetime | None = None) -> str:
    """``3 分钟前`` / ``in 2 days``: the distance from now, as the language says it."""
    delta = moment - (now or utcnow())
    if abs(delta) < timedelta(seconds=45):
        return gettext(lang, N_("time.just_now"))
    return format_timedelta(
        delta, add_direction=True, threshold=1.5, format="long", locale=BABEL_LOCALES.get(lang, "zh_Hans_CN")
    )


def working_days_between(start: date, end: date) -> int:
    """Working days (Monday–Friday) from ``start`` to ``end``: positive ahead, negative when past."""
    sign = 1 if end >= start else -1
    low, high = (start, end) if sign > 0 else (end, start)
    days = sum(1 for n in range(1, (high - low).days + 1) if (low + timedelta(days=n)).weekday() < 5)
    return sign * days


def number_text(value: int | float, lang: str) -> str:
    return format_decimal(value, locale=BABEL_LOCALES.get(lang, "zh_Hans_CN"))


@pass_context
def when(context: Context, moment: datetime | str | None, seconds: bool = False) -> Markup | str:
    """``<time>`` with the city-clock text, the exact moment (ISO 8601) for machines and on hover."""
    if not moment:
        return "—"
    zone = _zone(context)
    try:
        exact = local_time(moment, zone).isoformat(timespec="seconds")
    except ValueError:  # text that is not a time: shown as it is
        return str(moment)
    return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(
        exact, time_text(moment, zone, seconds)
    )


@pass_context
def ago(context: Context, moment: datetime | None) -> Markup | str:
    """The relative distance, with the exact city-clock time on hover."""
    if moment is None:
        return "—"
    zone = _zone(context)
    exact = local_time(moment, zone).isoformat(timespec="seconds")
    return Markup('<time datetime="{0}" title="{1}">{2}</time>').format(
        exact, time_text(moment, zone), relative_text(moment, _lang(context))
    )


@pass_context
def day(context: Context, value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = local_time(value, _zone(context)).date()
    return value.isoformat()


@pass_context
def local_input(context: Context, moment: datetime | None) -> str:
    """The value of a ``datetime-local`` input, on the city's clock."""
    return local_time(moment, _zone(context)).strftime(LOCAL_INPUT) if moment else ""


@pass_context
def num(context: Context, value: int | float | None) -> str:
    return "—" if value is None else number_text(value, _lang(context))


@pass_context
def workdays_left(context: Context, deadline: datetime | date | None) -> Markup | str:
    """``还剩 2 个工作日`` / ``逾期 1 个工作日``, marked overdue; the deadline itself on hover."""
    if deadline is None:
        return "—"
    zone = _zone(context)
    today = utcnow().astimezone(zone).date()
    due = local_time(deadline, zone).date() if isinstance(deadline, datetime) else deadline
    left = working_days_between(today, due)
    lang = _lang(context)
    if left > 0:
        text, css = gettext(lang, N_("time.workdays_left"), {"n": left}), "due"
    elif left == 0 and due >= today:
        text, css = gettext(lang, N_("time.due_today")), "due soon"
    else:
        text, css = gettext(lang, N_("time.workdays_overdue"), {"n": -left or 1}), "due overdue"
    title = time_text(deadline, zone) if isinstance(deadline, datetime) else due.isoformat()
    return Markup('<span class="{0}" title="{1}">{2}</span>').format(css, title, escape(text))


class Names:
    """Department and system codes -> names, read from the database the first time a page asks."""

    def __init__(self, load: Callable[[], Mapping[str, tuple[str, str | None]]]) -> None:
        self._load = load
        self._names: Mapping[str, tuple[str, str | None]] | None = None

    def get(self, code: str) -> tuple[str, str | None] | None:
        if self._names is None:
            self._names = self._load()
        return self._names.get(code)


@pass_context
def named(context: Context, code: str | None, code_too: bool = False) -> Markup | str:
    """A department's or system's name for its code (English name in English where known), the code on
    hover or, with ``code_too``, small beside it; an unknown code shows as itself."""
    if not code:
        return "—"
    names = context.get("names")
    found = names.get(code) if isinstance(names, Names) else None
    if found is None:
        return Markup("<code>{0}</code>").format(code)
    name = found[1] if _lang(context) == "en" and found[1] else found[0]
    if code_too:
        return Markup('<span class="named">{0} <small><code>{1}</code></small></span>').format(name, code)
    return Markup('<span class="named" title="{1}">{0}</span>').format(name, code)


def _known(lang: str, key: str) -> str | None:
    text = gettext(lang, key)
    return None if text == key else text


@pass_context
def event_label(context: Context, event_type: str | None) -> Markup | str:
    """An audit event type said in words (``catalog.resource.approve`` → 目录资源·审核通过): the type's own
    label where the catalog has one, else its subject's and its verb's; the code itself on hover."""
    if not event_type:
        return "—"
    lang = _lang(context)
    subject, _, verb = event_type.rpartition(".")
    text = _known(lang, f"audit.event.{event_type}")
    if text is None:
        said_subject, said_verb = _known(lang, f"audit.subject.{subject}"), _known(lang, f"audit.verb.{verb}")
        text = f"{said_subject}·{said_verb}" if said_subject and said_verb else event_type
    return Markup('<span title="{0}">{1}</span>').format(event_type, text)


@pass_context
def label(context: Context, value: object, prefix: str) -> Markup | str:
    """``prefix + value`` from the catalog where it has a label (a purpose code), else the value as code."""
    if value is None or value == "":
        return "—"
    code = str(getattr(value, "value", value))
    text = _known(_lang(context), prefix + code)
    if text is None:
        return Markup("<code>{0}</code>").format(code)
    return Markup('<span title="{0}">{1}</span>').format(code, text)


@pass_context
def said(context: Context, message: str | None) -> str:
    """An error message in the page's language (``core.errors.M_`` templates through the errors catalog)."""
    return error_text(_lang(context), message) if message else ""


FILTERS = {
    "said": said,
    "event_label": event_label,
    "label": label,
    "named": named,
    "when": when,
    "ago": ago,
    "day": day,
    "local_input": local_input,
    "num": num,
    "workdays_left": workdays_left,
}
