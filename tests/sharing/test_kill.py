"""SIGKILL the dispatcher mid-delivery and take the subscriber down: every committed change is still
delivered at least once and applied exactly once by event id."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from tests.conftest import TEST_SECRET
from tests.factories import World
from tests.servers import free_port
from tests.sharing.helpers import person, shared_people
from tests.sharing.test_api import API, granted
from tests.sharing.test_dispatch import change_rows
from zhongtai.app import create_app
from zhongtai.core.outbox import OutboxEvent
from zhongtai.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 6


class Hook:
    """The consumer system: verifies, applies each event id once; can hang on its first request."""

    def __init__(self, secret: str, hang_first: bool) -> None:
        self.secret, self.hang_first = secret, hang_first
        self.received: list[str] = []
        self.applied: set[str] = set()
        self.got_first = threading.Event()

    def server(self, port: int) -> http.server.ThreadingHTTPServer:
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                Webhook(hook.secret).verify(body, dict(self.headers.items()))
                event_id = self.headers["webhook-id"]
                hook.received.append(event_id)
                if hook.hang_first and not hook.got_first.is_set():
                    hook.got_first.set()
                    time.sleep(30)  # the dispatcher is killed while it waits for this answer
                    return
                hook.applied.add(event_id)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def dispatcher(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ZHONGTAI_ENV": "test",
        "ZHONGTAI_SECRET_KEY": TEST_SECRET,
        "ZHONGTAI_DATABASE_URL": settings.resolved_database_url,
        "ZHONGTAI_DATA_DIR": str(settings.data_dir),
        "ZHONGTAI_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1/32",
        "ZHONGTAI_WEBHOOK_TIMEOUT_SECONDS": "60",
        "ZHONGTAI_LOG_JSON": "false",
    }
    env.pop("ZHONGTAI_NATS_URL", None)
    command = [sys.executable, "-m", "zhongtai.cli", "sharing", "dispatch", "--loop"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_killed_dispatcher_and_a_dead_subscriber_lose_no_event(
    world: World, factory: sessionmaker[Session], settings: Settings
) -> None:
    configured = settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1/32"]})
    port = free_port()
    resource, job = shared_people(factory, configured, rows=1)
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        grant_id = granted(client, world, resource, mode="subscription")["grant_id"]
        made = client.post(
            f"{API}/grants/{grant_id}/subscriptions",
            json={"url": f"http://127.0.0.1:{port}/hook"},
            headers=world.auth("consumer_c"),
        ).json()
    change_rows(factory, resource, job, {f"e{n}": person(200 + n) for n in range(EVENTS)})
    with factory() as session:
        committed = set(session.scalars(select(OutboxEvent.event_id)))
    assert len(committed) == EVENTS

    hanging = Hook(made["secret"], hang_first=True)
    server = hanging.server(port)
    first = dispatcher(configured)
    try:
        assert hanging.got_first.wait(60), "the dispatcher never called the subscriber"
        os.kill(first.pid, signal.SIGKILL)  # mid-delivery: the subscriber has the event, no answer yet
        first.wait(10)
    finally:
        server.shutdown()  # and the subscriber goes down
        server.server_close()

    down = dispatcher(configured)  # deliveries now fail: connection refused, retried with back-off
    time.sleep(3)
    down.terminate()
    down.wait(10)

    back = Hook(made["secret"], hang_first=False)
    server = back.server(port)
    last = dispatcher(configured)
    try:
        assert wait_for(lambda: back.applied == committed, 90), (len(back.applied), EVENTS)
    finally:
        last.terminate()
        last.wait(10)
        server.shutdown()
        server.server_close()
    assert hanging.received[0] in back.received  # the interrupted event came again, same id
    assert len(back.applied) == EVENTS  # each applied once
