"""Proxied calls carried by a real nginx (Debian's package), configured from the capability registry: an
unmasked capability's call is checked and audited by the gateway and carried by nginx; a masked one still
goes through the platform; a refused call never reaches the backend; a backend that is down is answered
503 by the platform with the failure in the audit trail; nobody outside nginx can use its back doors."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.gateway.helpers import Credentials, encoded, sign
from tests.gateway.test_proxy import proxy, wired
from tests.gateway.upstreams import Backend, backend
from tests.servers import served
from zhongtai.app import create_app
from zhongtai.core.audit import AuditEvent
from zhongtai.core.settings import Settings
from zhongtai.gateway import accel

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
SECRET = "accel-secret-for-tests-0123456789"
pytestmark = [
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),  # gateway logic, not storage
    pytest.mark.skipif(NGINX is None, reason="needs nginx (Debian package nginx-light; .ci/run installs it)"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Site:
    nginx: str  # where callers go
    platform: str  # the platform itself, for what must not work around nginx
    client: TestClient
    factory: sessionmaker[Session]
    upstream: Backend
    credentials: Credentials


@pytest.fixture
def site(settings: Settings, factory: sessionmaker[Session], world: World, tmp_path: Path) -> Iterator[Site]:
    assert NGINX is not None
    accelerated = settings.model_copy(update={"gateway_accel_secret": SecretStr(SECRET)})
    app = create_app(accelerated)
    with TestClient(app, raise_server_exceptions=False) as client, backend() as upstream, served(app) as base:
        proxy(client, world, "gaj.plain", upstream.url + "/echo", masked_fields={})
        proxy(client, world, "gaj.masked", upstream.url + "/echo")
        proxy(client, world, "gaj.gone", f"http://127.0.0.1:{_free_port()}/echo", masked_fields={})
        proxy(client, world, "gaj.sneaky", upstream.url + "/sneaky", masked_fields={})
        credentials = wired(client, world, "gaj.plain", "gaj.masked", "gaj.gone", "gaj.sneaky")
        listen = f"127.0.0.1:{_free_port()}"
        prefix = tmp_path / "nginx"
        config = accel.Proxy(listen, base.removeprefix("http://"), prefix, SECRET)
        accel.write_config(factory, config)
        checked = subprocess.run(
            [NGINX, "-t", "-p", str(prefix), "-c", str(config.config), "-e", str(prefix / "error.log")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr
        running = subprocess.Popen(
            [
                NGINX,
                "-p",
                str(prefix),
                "-c",
                str(config.config),
                "-e",
                str(prefix / "error.log"),
                "-g",
                "daemon off;",
            ]
        )
        try:
            _wait_for(listen)
            yield Site(f"http://{listen}", base, client, factory, upstream, credentials)
        finally:
            running.terminate()
            running.wait(timeout=10)


def _wait_for(listen: str) -> None:
    host, port = listen.split(":")
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex((host, int(port))) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("nginx did not start")


def _call(
    site: Site, base: str, method: str, path: str, body: Any = None, tamper: bool = False
) -> httpx.Response:
    content = json.dumps(body).encode() if body is not None else None
    headers = sign(site.credentials, method, path, body=content, base_url=base)
    if tamper:
        headers["Signature"] = headers["Signature"][:-6] + "AAAAA="
    return httpx.request(method, base + encoded(path), content=content, headers=headers, timeout=10)


def _outcomes(site: Site) -> list[tuple[str, str, int | None]]:
    with site.factory() as session:
        rows = session.execute(
            select(AuditEvent.target_id, AuditEvent.outcome, AuditEvent.changes)
            .where(AuditEvent.event_type == "gateway.call")
            .order_by(AuditEvent.id)
        ).all()
    return [(target, outcome, (changes or {}).get("status")) for target, outcome, changes in rows]


def test_an_unmasked_call_is_carried_by_nginx_after_the_gateways_checks(site: Site) -> None:
    answer = _call(site, site.nginx, "POST", "/gw/gaj.plain/a/b?q=1", {"x": 1})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["path"] == "a/b" and data["query"] == "q=1" and data["body"] == '{"x": 1}'
    assert data["app"] == "wjw-health-code" and data["purpose"] == "epidemic.health-code"
    assert data["signature"] is None  # the caller's credentials stay at the gateway
    assert data["phone"] == "13812345678"  # nothing to mask on this capability
    assert answer.headers["x-request-id"]
    masked = _call(site, site.nginx, "GET", "/gw/gaj.masked/c")
    assert masked.status_code == 200 and masked.json()["phone"] == "138****5678"  # through the platform
    direct = _call(site, site.platform, "GET", "/gw/gaj.plain/d")  # not through nginx: the Python path
    assert direct.status_code == 200 and direct.json()["path"] == "d"
    outcomes = [outcome for _, outcome, _ in _outcomes(site)]
    assert outcomes[-3:] == ["forwarded", "success", "success"]
    assert site.upstream.calls["echo"] == 3


def test_a_refused_call_never_reaches_the_backend(site: Site) -> None:
    forged = _call(site, site.nginx, "GET", "/gw/gaj.plain/x", tamper=True)
    assert forged.status_code == 401 and forged.json()["error"]["code"]
    assert site.upstream.calls.get("echo", 0) == 0
    back_door = httpx.post(f"{site.platform}/gw/{accel.FAILED}", headers={accel.ACCEL_HEADER: "guess"})
    assert back_door.status_code == 404  # only nginx, with the secret, may report a backend down
    claimed = _call(site, site.platform, "GET", "/gw/gaj.plain/y")  # a caller cannot claim to be nginx
    assert claimed.status_code == 200 and "x-accel-redirect" not in claimed.headers


def test_a_backend_down_is_answered_by_the_platform_and_recorded(site: Site) -> None:
    answer = _call(site, site.nginx, "GET", "/gw/gaj.gone/z")  # nothing listens at its backend's address
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "upstream_unavailable"
    recorded = _outcomes(site)[-2:]
    assert [(outcome, status) for _, outcome, status in recorded] == [("forwarded", 200), ("error", 503)]


def test_a_backend_cannot_steer_nginx_past_the_checks(site: Site) -> None:
    answer = _call(site, site.nginx, "GET", "/gw/gaj.sneaky")
    assert answer.status_code == 200 and answer.json() == {"sneaky": True}
    assert "set-cookie" not in answer.headers and "x-accel-redirect" not in answer.headers
    assert site.upstream.calls.get("echo", 0) == 0  # its redirect to another capability was ignored
