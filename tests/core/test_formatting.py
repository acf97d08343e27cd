"""Pages show every time on the city's clock, the Chinese way, and numbers with separators."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import jinja2
from hypothesis import given
from hypothesis import strategies as st

from zhongtai.core.formatting import FILTERS, Names, relative_text, time_text, working_days_between
from zhongtai.core.types import utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")


def render(source: str, lang: str = "zh", zone: ZoneInfo = SHANGHAI, **values: object) -> str:
    env = jinja2.Environment(autoescape=True)
    env.filters.update(FILTERS)
    return env.from_string(source).render(lang=lang, zone=zone, **values)


def test_a_utc_moment_shows_on_the_beijing_clock() -> None:
    moment = datetime(2026, 12, 8, 15, 24, 5, tzinfo=UTC)
    assert time_text(moment) == "2026-12-08 23:24"
    html = render("{{ m|when }}", m=moment)
    assert ">2026-12-08 23:24</time>" in html
    assert 'datetime="2026-12-08T23:24:05+08:00"' in html
    assert "2026-12-08 23:24:05" in render("{{ m|when(seconds=True) }}", m=moment)


def test_naive_and_text_moments_are_utc_and_the_zone_is_configurable() -> None:
    assert time_text(datetime(2026, 1, 1, 16, 30)) == "2026-01-02 00:30"  # SQLite hands back naive UTC
    assert ">2026-03-05 08:00<" in render("{{ m|when }}", m="2026-03-05T00:00:00+00:00")
    assert ">2026-03-04 19:00<" in render(
        "{{ m|when }}", zone=ZoneInfo("America/New_York"), m="2026-03-05T00:00Z"
    )
    assert render("{{ m|when }}", m=None) == "—"
    assert render("{{ m|when }}", m="not a time") == "not a time"


def test_relative_times_in_each_language() -> None:
    now = utcnow()
    assert relative_text(now - timedelta(minutes=3), "zh", now) == "3分钟前"
    assert relative_text(now - timedelta(minutes=3), "en", now) == "3 minutes ago"
    assert relative_text(now + timedelta(days=2), "zh", now) == "2天后"
    assert relative_text(now - timedelta(seconds=5), "zh", now) == "刚刚"


def test_deadlines_show_working_days_left_or_overdue() -> None:
    far = utcnow() + timedelta(days=14)
    assert "个工作日" in render("{{ d|workdays_left }}", d=far)
    past = utcnow() - timedelta(days=14)
    overdue = render("{{ d|workdays_left }}", d=past)
    assert "逾期" in overdue and "overdue" in overdue
    assert "working day(s) left" in render("{{ d|workdays_left }}", lang="en", d=far)


def test_working_days_skip_weekends() -> None:
    friday, monday = date(2026, 12, 4), date(2026, 12, 7)
    assert working_days_between(friday, monday) == 1
    assert working_days_between(monday, friday) == -1
    assert working_days_between(monday, monday + timedelta(days=7)) == 5


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 400))
def test_working_days_are_weekdays_counted_either_way(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    forward = working_days_between(start, end)
    assert forward == -working_days_between(end, start)
    assert forward == sum((start + timedelta(days=n)).weekday() < 5 for n in range(1, span + 1))
    assert span * 5 // 7 - 2 <= forward <= span * 5 // 7 + 2


def test_numbers_have_separators() -> None:
    assert render("{{ n|num }}", n=23_000_000_000) == "23,000,000,000"
    assert render("{{ n|num }}", lang="en", n=1328) == "1,328"


def test_names_instead_of_codes() -> None:
    names = Names(lambda: {"WJW": ("市卫生健康委员会", "Municipal Health Commission")})
    assert (
        render("{{ c|named }}", names=names, c="WJW")
        == '<span class="named" title="WJW">市卫生健康委员会</span>'
    )
    assert "Municipal Health Commission" in render("{{ c|named }}", lang="en", names=names, c="WJW")
    assert "<small><code>WJW</code></small>" in render("{{ c|named(code_too=True) }}", names=names, c="WJW")
    assert render("{{ c|named }}", names=names, c="<X>") == "<code>&lt;X&gt;</code>"  # unknown: escaped code
