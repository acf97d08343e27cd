"""The province's epidemic platform in the demo city: the receiver of the city's daily report (向省报送). It
verifies each push with the ``standardwebhooks`` library (the secret the platform showed once when the
report was set up), keeps each day once (a repeated push of a day is not counted twice), and shows what it
received. Mounted outside production only; it stands for the province's system, not the platform."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from zhongtai.core.database import transaction
from zhongtai.core.http import AppSettings
from zhongtai.core.principal import platform_actor
from zhongtai.core.settings import Settings
from zhongtai.core.types import utcnow
from zhongtai.core.web import SignedInPage
from zhongtai.demo.subscriber import folder
from zhongtai.sharing import reports
from zhongtai.sharing.models import Report

router = APIRouter(include_in_schema=False)
PATH = "/demo/province/reports"
SECRET_FILE = "province-receiver.secret"  # noqa: S105 - a file name, not a secret


def save_secret(settings: Settings, secret: str) -> None:
    folder(settings).mkdir(parents=True, exist_ok=True)
    path = folder(settings) / SECRET_FILE
    path.write_text(secret, encoding="utf-8")
    path.chmod(0o600)


@contextmanager
def _store(settings: Settings) -> Iterator[sqlite3.Connection]:
    folder(settings).mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(folder(settings) / "province-reports.db", timeout=10)
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS reports (event_id TEXT PRIMARY KEY, period TEXT, received_at TEXT, "
            "payload TEXT)"
        )
        yield connection
        connection.commit()
    finally:
        connection.close()


def received(settings: Settings) -> list[dict[str, object]]:
    with _store(settings) as connection:
        rows = connection.execute(
            "SELECT event_id, period, received_at, payload FROM reports ORDER BY period DESC LIMIT 60"
        ).fetchall()
    return [{"event_id": e, "period": d, "received_at": r, "payload": json.loads(p)} for e, d, r, p in rows]


@router.post(PATH)
async def receive(request: Request, settings: AppSettings) -> Response:
    secret_file = folder(settings) / SECRET_FILE
    if not secret_file.exists():
        return Response(status_code=404)
    body = await request.body()
    try:
        payload = Webhook(secret_file.read_text(encoding="utf-8").strip()).verify(body, dict(request.headers))
    except WebhookVerificationError:
        return Response(status_code=401)  # forged, altered, replayed or stale: refused
    period = str(payload.get("data", {}).get("period", ""))[:10]
    with _store(settings) as connection:
        connection.execute(
            "INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?)",
            (
                request.headers["webhook-id"],
                period,
                utcnow().isoformat(),
                json.dumps(payload, ensure_ascii=False),
            ),
        )
    return Response(status_code=204)


@router.get(PATH)
def reports_page(page: SignedInPage, settings: AppSettings) -> Response:
    return page.render("demo_province.html", reports=received(settings))


REPORT = "healthcode-daily-province"


def build_demo_report(factory: sessionmaker[Session], settings: Settings, url: str) -> bool:
    """The health commission's daily epidemic report to the province, pushed to this receiver each day just
    after midnight (the worker sends yesterday's as soon as it runs). Played once; True when set up now."""
    from zhongtai.healthcode.situation import DAILY

    with transaction(factory) as session:
        if session.scalars(select(Report).where(Report.code == REPORT)).first() is not None:
            return False
        spec = reports.ReportSpec(
            REPORT, "疫情防控日报(向省报送)", DAILY, "WJW", "省疫情防控数据平台", url, 0
        )
        _, secret = reports.create(session, settings, platform_actor("demo", "演示城市"), spec)
        save_secret(settings, secret)
    return True
