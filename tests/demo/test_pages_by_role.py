"""Every page of the demo city, as every demo role: no link leads to a 403 or a 404, no page fails, and the
Chinese pages show no untranslated interface word (no English label, no raw state or type code, no UTC)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
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


class PageText(HTMLParser):
    """A page's visible text (code, scripts and form values aside) and its same-site links."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code", "pre", "textarea"):
            self._hidden += 1
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.startswith("/") and not href.startswith("//"):
            self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "pre", "textarea"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
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


def crawl(client: TestClient) -> Iterator[tuple[str, str, int, str]]:
    """(path, linked from, status, visible text) for each page reached from the home page."""
    queue, seen, shapes = [("/", "")], set(), Counter[str]()
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
        page = PageText()
        page.feed(response.text)
        yield path, referrer, response.status_code, " ".join(page.text)
        queue += [(link, path) for link in page.links if link not in seen]


@pytest.mark.parametrize("username", [user for user, *_ in DEMO_USERS])
def test_every_page_as_every_role_is_chinese_and_has_no_dead_end(demo_city: Settings, username: str) -> None:
    with TestClient(create_app(demo_city)) as client:
        assert login(client, username, DEMO_PASSWORD) == 303
        pages = list(crawl(client))
    assert len(pages) > 25, [p for p, *_ in pages]  # the crawl really went round the platform
    dead_ends = [(status, path, referrer) for path, referrer, status, _ in pages if status >= 400]
    assert not dead_ends, dead_ends
    english = sorted({f"{word} on {path}" for path, _, _, text in pages for word in ENGLISH_UI.findall(text)})
    assert not english, english
