"""Every page of the demo city, as every demo role: no link leads to a 403 or a 404, no button (a form's
submit) is refused with 403, no page fails, and the Chinese pages show no untranslated interface word (no
English label, no raw state or type code, no UTC)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.core.test_identity import login
from zhongtai.app import create_app
from zhongtai.core.settings import Settings
from zhongtai.demo.city import DEMO_PASSWORD
from zhongtai.demo.organizations import DEMO_USERS

# Interface words that must not reach a Chinese page: English labels, lifecycle states and actions, data
# types, audit outcomes, and the clock's name (every time is Beijing time).
ENGLISH_UI = re.compile(
    r"\b(create|submit|approve|approved|draft|under_review|published|retired|string|integer|datetime|"
    r"success|failure|denied|active|revoked|suspended|pending|expired|None|True|False|UTC|Save|Cancel|"
    r"Search|Name|Status|Department|Description|Action|Actions|Next|Previous|Edit|Delete|identity\.login|"
    r"gateway\.call|catalog\.resource\.\w+|sharing\.\w+\.\w+)\b"
)
NOT_CRAWLED = ("/logout", "/docs", "/static", "/openapi.json", "/api/", "/gw/", "/metrics", "/healthz")
PAGES_PER_SHAPE = 2  # /catalog/101001-000001 and /catalog/102001-000002 are one shape: two of each suffice
MAX_PAGES = 140


NOT_PRESSED = ("/logout", "/m/logout")  # signing out ends the walk


@dataclass
class Button:
    """One way to submit a POST form: its action and the fields a browser would send, as rendered."""

    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)


class PageText(HTMLParser):
    """A page's visible text (code, scripts and form values aside), its same-site links, and a Button
    for each submit button of each POST form (the form's fields as they stand, plus the button's value)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.text: list[str] = []
        self.links: list[str] = []
        self.buttons: list[Button] = []
        self._hidden = 0
        self._form: Button | None = None
        self._pressed: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag in ("script", "style", "code", "pre", "textarea"):
            self._hidden += 1
        href = found.get("href", "")
        if tag == "a" and href.startswith("/") and not href.startswith("//"):
            self.links.append(href)
        if tag == "form" and found.get("method", "get").lower() == "post":
            self._form, self._pressed = Button(found.get("action") or self.path), []
        if self._form is None:
            return
        kind = found.get("type", "submit" if tag == "button" else "text").lower()  # a button submits
        name = found.get("name", "")
        if tag == "input" and kind not in ("submit", "checkbox", "radio") and name:
            self._form.fields.append((name, found.get("value", "")))
        elif tag == "input" and kind in ("checkbox", "radio") and name and "checked" in found:
            self._form.fields.append((name, found.get("value", "on")))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select is not None:
            self._form.fields.append((self._select, found.get("value", "")))
            self._select = None  # the first option stands as chosen
        elif tag == "textarea" and name:
            self._textarea = name
            self._form.fields.append((name, ""))
        elif (tag == "button" and kind == "submit") or (tag == "input" and kind == "submit"):
            self._pressed.append((name, found.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "pre", "textarea"):
            self._hidden -= 1
        if tag == "textarea":
            self._textarea = None
        if tag == "select":
            self._select = None
        if tag == "form" and self._form is not None:
            for name, value in self._pressed or [("", "")]:
                extra = [(name, value)] if name else []
                self.buttons.append(Button(self._form.action, [*self._form.fields, *extra]))
            self._form = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self._form is not None:
            name, typed = self._form.fields[-1]
            self._form.fields[-1] = (name, typed + data)
        if not self._hidden:
            self.text.append(data)


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The demo city as `make demo` builds it (smaller), gathered and governed, on SQLite."""
    data = tmp_path_factory.mktemp("demo-city")
    env = {
        "ZHONGTAI_DATA_DIR": str(data),
        "ZHONGTAI_LOG_FILE": str(data / "log" / "zhongtai.log"),
        "PATH": "",
    }
    command = [
        sys.executable,
        "-c",
        "from zhongtai.cli import main; main()",
        "demo",
        "--no-serve",
        "--persons",
        "200",
    ]
    built = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    yield Settings(data_dir=Path(data), webhook_allowed_hosts=["127.0.0.1/32"])


def crawl(
    client: TestClient, buttons: list[tuple[str, Button]], start: str = "/"
) -> Iterator[tuple[str, str, int, str]]:
    """(path, linked from, status, visible text) for each page reached from ``start``; the buttons found
    on them are added to ``buttons`` as (page, button)."""
    queue, seen, shapes = [(start, "")], set(), Counter[str]()
    while queue and len(seen) < MAX_PAGES:
        path, referrer = queue.pop(0)
        shape = re.sub(r"\d+", "N", path.split("?")[0])
        if path in seen or shapes[shape] >= PAGES_PER_SHAPE or path.startswith(NOT_CRAWLED):
            continue
        seen.add(path)
        shapes[shape] += 1
        response = client.get(path)
        if "text/html" not in response.headers.get("content-type", ""):
            yield path, referrer, response.status_code, ""
            continue
        page = PageText(path)
        page.feed(response.text)
        buttons += [(path, button) for button in page.buttons]
        yield path, referrer, response.status_code, " ".join(page.text)
        queue += [(link, path) for link in page.links if link not in seen]


def press(client: TestClient, buttons: list[tuple[str, Button]]) -> Iterator[tuple[int, str, str]]:
    """Submit each distinct button once, as rendered: (status, action, page it was on)."""
    pressed: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for page, button in buttons:
        shape = re.sub(r"\d+", "N", button.action)
        key = (shape, tuple(sorted((k, v) for k, v in button.fields if k not in ("csrf_token",))))
        if button.action.startswith(NOT_PRESSED) or key in pressed:
            continue
        pressed.add(key)
        answer = client.post(button.action, data=dict(button.fields), follow_redirects=False)
        yield answer.status_code, button.action, page


@pytest.fixture
def own_city(demo_city: Settings, tmp_path: Path) -> Settings:
    """A private copy of the demo city: pressing every button changes it."""
    database = tmp_path / "zhongtai.db"
    shutil.copyfile(demo_city.data_dir / "zhongtai.db", database)
    return demo_city.model_copy(update={"database_url": f"sqlite:///{database}"})


@pytest.mark.parametrize("username", [user for user, *_ in DEMO_USERS])
def test_every_page_as_every_role_is_chinese_and_has_no_dead_end(own_city: Settings, username: str) -> None:
    wall = next(roles for user, _, roles, _ in DEMO_USERS if user == username) == ["screen"]
    buttons: list[tuple[str, Button]] = []
    with TestClient(create_app(own_city)) as client:
        assert login(client, username, DEMO_PASSWORD) == 303
        pages = list(crawl(client, buttons))
        refused = [
            (status, action, page) for status, action, page in press(client, buttons) if status in (403, 500)
        ]
    # the crawl really went round the platform (a wall display's account has the big screen alone)
    assert len(pages) > (0 if wall else 25), [p for p, *_ in pages]
    dead_ends = [(status, path, referrer) for path, referrer, status, _ in pages if status >= 400]
    assert not dead_ends, dead_ends
    assert wall or len(buttons) > 3  # every role has forms to press (search, language, its own work)
    assert not refused, refused
    english = sorted({f"{word} on {path}" for path, _, _, text in pages for word in ENGLISH_UI.findall(text)})
    assert not english, english


def test_the_demo_city_serves_its_health_code_trust_list(demo_city: Settings) -> None:
    from datetime import UTC, datetime

    from zhongtai.healthcode.keys import read_trust_list

    with TestClient(create_app(demo_city)) as client:
        listed = client.get("/api/v1/healthcode/trust-list")
    assert listed.status_code == 200
    assert len(read_trust_list(listed.json(), datetime.now(UTC)).keys) == 1


def test_every_public_page_as_a_citizen_is_chinese_and_has_no_dead_end(own_city: Settings) -> None:
    """A demo resident signs in by real name (through the demo's own gateway and inbox) and walks the public
    side: their code, family, check-in, travel, places with posters and a gate, who used their data."""
    from zhongtai.demo.healthcode import residents

    resident = residents(2020, 200)[0]  # the place owner (`make demo`'s seed)
    buttons: list[tuple[str, Button]] = []
    with TestClient(create_app(own_city)) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/m/login").text)
        assert token
        person = {"id_number": resident.id_number, "name": resident.name, "mobile": resident.mobile}
        started = client.post("/m/login", data={"csrf_token": token.group(1), **person})
        pending = re.search(r'name="pending" value="([^"]+)"', started.text)
        code = re.search(r"验证码 (\d{6})", client.get("/m/inbox").text)
        assert started.status_code == 200 and pending and code, started.text[:500]
        body = {"csrf_token": token.group(1), "pending": pending.group(1), "code": code.group(1)}
        assert client.post("/m/login/code", data=body, follow_redirects=False).status_code == 303
        pages = list(crawl(client, buttons, start="/m/code"))
        refused = [(s, a, p) for s, a, p in press(client, buttons) if s in (403, 500)]
    visited = {re.sub(r"\d+", "N", p.split("?")[0]) for p, *_ in pages}
    assert {"/m/code", "/m/family", "/m/places", "/m/places/N", "/m/my-data", "/m/checkin"} <= visited, (
        visited
    )
    dead_ends = [(status, path, referrer) for path, referrer, status, _ in pages if status >= 400]
    assert not dead_ends, dead_ends
    assert not refused, refused
    english = sorted({f"{word} on {path}" for path, _, _, text in pages for word in ENGLISH_UI.findall(text)})
    assert not english, english
