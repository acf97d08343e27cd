"""The health commission's system in the demo city: a subscriber endpoint that verifies each change
event with the ``standardwebhooks`` library and applies each event id once, and a page showing what it
received. Mounted outside production only; it stands for a department's own system, not the platform.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from zhongtai.core.http import AppSettings
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.core.web import SignedInPage

router = APIRouter(include_in_schema=False)
PATH = "/demo/subscribers/wjw"


def folder(settings: Settings) -> Path:
    return settings.data_dir / "demo"


def save_secret(settings: Settings, secret: str) -> None:
    folder(settings).mkdir(parents=True, exist_ok=True)
    path = folder(settings) / "wjw-subscriber.secret"
    path.write_text(secret, encoding="utf-8")
    path.chmod(0o600)


@contextmanager
def _store(settings: Settings) -> Iterator[sqlite3.Connection]:
    """The health system's own little database: one row per event id."""
    folder(settings).mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(folder(settings) / "wjw-events.db", timeout=10)
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, received_at TEXT, payload TEXT)"
        )
        yield connection
        connection.commit()
    finally:
        connection.close()


def received(settings: Settings, limit: int = 100) -> list[dict[str, object]]:
    """The latest events applied, newest first."""
    with _store(settings) as connection:
        rows = connection.execute(
            "SELECT event_id, received_at, payload FROM events ORDER BY rowid DESC LIMIT ?", (limit,)
        ).fetchall()
    return [{"event_id": e, "received_at": r, "payload": json.loads(p)} for e, r, p in rows]


def count(settings: Settings) -> int:
    with _store(settings) as connection:
        return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])


@router.post(PATH)
async def receive(request: Request, settings: AppSettings) -> Response:
    secret_file = folder(settings) / "wjw-subscriber.secret"
    if not secret_file.exists():
        return Response(status_code=404)
    body = await request.body()
    try:
        payload = Webhook(secret_file.read_text(encoding="utf-8").strip()).verify(body, dict(request.headers))
    except WebhookVerificationError:
        return Response(status_code=401)  # forged, altered, replayed or stale: refused
    with _store(settings) as connection:  # an event id seen before is not applied again
        connection.execute(
            "INSERT OR IGNORE INTO events VALUES (?, ?, ?)",
            (request.headers["webhook-id"], utcnow().isoformat(), json.dumps(payload, ensure_ascii=False)),
        )
    return Response(status_code=204)


@router.get(PATH)
def events(page: SignedInPage, settings: AppSettings) -> Response:
    return page.render("demo_subscriber.html", events=received(settings), total=count(settings))
