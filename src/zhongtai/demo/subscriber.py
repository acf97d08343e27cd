"""The health commission's system in the demo city: a subscriber endpoint that verifies each change
event with the ``standardwebhooks`` library and applies each event id once, and a page showing what it
received. Mounted outside production only; it stands for a department's own system, not the platform.
"""

from __future__ import annotations

import json
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


def received(settings: Settings) -> list[dict[str, object]]:
    path = folder(settings) / "wjw-events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
    event_id = request.headers["webhook-id"]
    if all(event["event_id"] != event_id for event in received(settings)):  # apply each event once
        with (folder(settings) / "wjw-events.jsonl").open("a", encoding="utf-8") as handle:
            line = {"event_id": event_id, "received_at": utcnow().isoformat(), "payload": payload}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return Response(status_code=204)


@router.get(PATH)
def events(page: SignedInPage, settings: AppSettings) -> Response:
    found = received(settings)
    return page.render("demo_subscriber.html", events=list(reversed(found))[:100], total=len(found))
