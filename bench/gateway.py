"""bench/gateway.py — the capability gateway against what the machine allows, in one run.

Three ratios of requests per second, each against its floor measured in the same run on the same machine
and the same database, all served by uvicorn (httptools, uvloop) in one process and driven by ``wrk``
(one thread, ``--connections`` connections, ``--seconds`` each, best of ``--repeat``):

(a) a signed request through the gateway to the generated "person by ID number" lookup on a base of
    ``--persons`` people (signature, nonce, app, subscription, purpose, rate limit and daily quota, grant,
    masking, one audit record committed before the answer) against a raw ASGI endpoint returning a fixed
    JSON body — target ≥ 0.40;
(b) the same gateway lookup against a bare endpoint mounted in the same application doing the same lookup
    (same SQL, key standardization, JSON) with none of the checks — target ≥ 0.6 (issue 21);
(c) a proxied capability (to the raw endpoint as the department backend) against calling that backend
    directly — target ≥ 0.33; and, with Debian's nginx in front (``zhongtai gateway nginx``), the same
    calls carried by nginx after the platform's checks — target ≥ 0.25 (issue 21).

Beside the ratios, what the targets leave for the gateway's own work, measured in the same run: the bare
lookup against the raw endpoint (a gateway does that lookup and more, so (a) cannot exceed it); the CPU
of one signature verification by the gateway's own verifier against the time (b) lets the gateway add
to a bare lookup; the CPU of one GET by the proxy's HTTP client (aiohttp) against the whole time (c)
allows a proxied request.

Every gateway request is signed beforehand by ``http-message-signatures`` with its own nonce (wrk replays
a list); a run with any answer other than 200 is refused. Needs ``wrk`` (Debian package ``wrk``).
Last line: the JSON of ``shared/STYLE.md`` with (a) as ``ratio`` and (b), (c) as extra keys.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from support import platform_database, published_resource  # bench/support.py, beside this script

from zhongtai.capabilities import service as capabilities
from zhongtai.capabilities.models import KeyAlgorithm
from zhongtai.capabilities.schemas import AppCreate, CapabilityCreate, KeyCreate, SubscriptionCreate
from zhongtai.core.database import build_engine, build_sessionmaker, transaction, upgrade
from zhongtai.core.identity.models import Role
from zhongtai.core.identity.service import create_user, principal_for
from zhongtai.core.principal import SYSTEM, Principal
from zhongtai.core.settings import Settings
from zhongtai.gateway.client import GatewaySigner
from zhongtai.gateway.signatures import RequestParts, verify
from zhongtai.gateway.state import KeyEntry, secret_bytes
from zhongtai.gateway.upstream import Upstreams
from zhongtai.governance import service as governance
from zhongtai.governance.models import BaseKind
from zhongtai.governance.schemas import BaseSourceWrite
from zhongtai.orgs.models import Department, DepartmentKind
from zhongtai.sharing import service as sharing
from zhongtai.sharing.schemas import ApplicationCreate

TARGETS = {
    "gateway_vs_raw": 0.40,
    "gateway_vs_bare": 0.6,
    "proxy_vs_direct": 0.33,
    "nginx_proxy_vs_direct": 0.25,
}
PURPOSE = "bench.lookup"
SECRET_KEY = "bench-secret-" + "x" * 40
ACCEL_SECRET = "bench-accel-" + "y" * 32
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
FIXED = b'{"status":"ok","record":{"name":"fixed"}}'
ITEMS = {"姓名": "DE00001", "公民身份号码": "DE00002", "性别": "DE00003", "出生日期": "DE00005"}
LUA = """
local lines, i = {}, 0
init = function(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
end
request = function()
  i = i + 1
  local path, input, signature = lines[((i - 1) % #lines) + 1]:match("([^\\t]*)\\t?([^\\t]*)\\t?([^\\t]*)")
  if input == "" then return wrk.format("GET", path) end
  local headers = {["X-Purpose"] = "PURPOSE", ["Signature-Input"] = input, ["Signature"] = signature}
  return wrk.format(wrk.method, path, headers)
end
""".replace("PURPOSE", PURPOSE)


# ---- the platform, set up through its own services ----------------------------------------------


def _person(session: Any, settings: Settings, username: str, department: str, roles: list[Role]) -> Principal:
    user = create_user(
        session,
        SYSTEM,
        username=username,
        display_name=username,
        department_code=department,
        roles=roles,
        password="bench password 1",  # noqa: S106 - a throwaway user of a scratch database
    )
    return principal_for(user, settings)


def set_up(url: str, data_dir: Path, upstream: str) -> dict[str, Any]:
    """Departments, a governed-looking GAJ person resource feeding the person base, WJW's API grant, a
    lookup and a proxied capability, an app subscribed to both with an HMAC key."""
    upgrade(url)
    settings = _settings(url, data_dir)
    factory = build_sessionmaker(build_engine(url))
    with transaction(factory) as session:
        for code in ("SJZYJ", "GAJ", "WJW"):
            session.add(Department(code=code, name=code, kind=DepartmentKind.MUNICIPAL))
        session.flush()
        bureau = _person(session, settings, "bureau", "SJZYJ", [Role.REVIEWER])
        gaj = _person(session, settings, "gaj", "GAJ", [Role.OFFICER, Role.REVIEWER])
        wjw = _person(session, settings, "wjw", "WJW", [Role.CONSUMER, Role.DEVELOPER])
        items = [{"name": n, "data_type": "string", "data_element": e} for n, e in ITEMS.items()]
        resource = published_resource(session, "常住人口基本信息", "GAJ", items)
        source = governance.save_base_source(
            session,
            SYSTEM,
            BaseSourceWrite(
                base=BaseKind.PERSON,
                resource=resource.code,
                key_item="公民身份号码",
                attributes={"name": "姓名", "gender": "性别", "birth_date": "出生日期"},
                constants={},
                priority=1,
            ),
        )
        application = sharing.apply(
            session,
            settings,
            wjw,
            ApplicationCreate(
                resource=resource.code,
                items=["姓名", "公民身份号码", "出生日期"],
                purpose="健康码赋码",
                basis="《传染病防治法》第十二条",
                mode="api",
                valid_until=date(date.today().year + 1, 12, 31),
            ),
        )
        sharing.act(session, settings, bureau, application.number, "bureau_approve", "")
        sharing.act(session, settings, gaj, application.number, "provider_approve", "")
        capabilities.act_on_capability(
            session,
            gaj,
            capabilities.register(
                session,
                gaj,
                CapabilityCreate(
                    code="person.by-id",
                    name="按身份证号查询人口",
                    kind="data",
                    operation="lookup",
                    resource=resource.code,
                    key_item="公民身份号码",
                    rate_per_second=100_000,
                    daily_quota=100_000_000,
                ),
            ).code,
            "publish",
        )
        capabilities.act_on_capability(
            session,
            SYSTEM,
            capabilities.register(
                session,
                SYSTEM,
                CapabilityCreate(
                    code="bench.echo",
                    name="后端回显",
                    kind="proxy",
                    operation="proxy",
                    provider="GAJ",
                    upstream_url=upstream,
                    methods=["GET"],
                    rate_per_second=100_000,
                    daily_quota=100_000_000,
                ),
            ).code,
            "publish",
        )
        app = capabilities.create_app(session, wjw, AppCreate(code="wjw-bench", name="bench"))
        for code in ("person.by-id", "bench.echo"):
            subscription = capabilities.subscribe(
                session, wjw, app.code, SubscriptionCreate(capability=code, purpose=PURPOSE)
            )
            if subscription.status.value == "pending":
                capabilities.decide(session, gaj, subscription.id, "approve", "")
        key = capabilities.create_key(session, settings, wjw, app.code, KeyCreate())
        source_id = source.id
    return {"key_id": key.key_id, "secret": key.secret, "source_id": source_id}


def fill(url: str, persons: int, source_id: int) -> list[str]:
    """``persons`` base records, each claimed by the resource's feed; returns their ID numbers."""
    from govern import bulk_write, fill_persons  # bench/govern.py: the 10-million-person lookup table

    number = fill_persons(url, persons)
    claims = (
        ("person", number(n), source_id, 1, f"k{n}", "{}", 1, "2026-01-01 00:00:00+00:00")
        for n in range(persons)
    )
    columns = ["base", "key", "source_id", "job_id", "source_key", "data", "batch_id", "observed_at"]
    bulk_write(url, "base_claims", columns, claims)
    return [number(n) for n in random.Random(7).sample(range(persons), min(persons, 50_000))]


def _settings(url: str, data_dir: Path) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        data_dir=data_dir,
        secret_key=SECRET_KEY,
        queue_url="memory://",
        log_json=False,
        log_level="WARNING",
        gateway_accel_secret=ACCEL_SECRET,  # only what comes through nginx carries it
    )


# ---- the servers (child processes) --------------------------------------------------------------


async def raw_app(scope: Any, receive: Any, send: Any) -> None:
    """The floor of (a) and the department backend of (c): a fixed JSON body, nothing else."""
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": FIXED})


def platform_app(url: str, data_dir: Path) -> Any:
    """The product's application, with the bare lookup of (b) dispatched the way the gateway is (handed
    over before routing and middleware): the same process, server, engine, SQL and JSON, none of the
    checks."""
    from zhongtai.app import create_app
    from zhongtai.gateway.reads import HotReads
    from zhongtai.governance.lookups import standard_key

    app = create_app(_settings(url, data_dir))
    source_id = int(os.environ["BENCH_SOURCE_ID"])
    attributes = {"name": "姓名", "gender": "性别", "birth_date": "出生日期"}
    reads: list[Any] = [None]  # the gateway's own reader, built on the first call like the gateway's

    async def bare_lookup(scope: Any, receive: Any, send: Any) -> None:
        key = standard_key(BaseKind.PERSON, scope["path"][len("/bench/bare/") :]) or ""
        if reads[0] is None:
            reads[0] = HotReads(scope["app"].state.engine)
        found = reads[0].claimed("person", key, source_id)
        status, body = 404, b'{"error":"not found"}'
        if found is not None:
            data = json.loads(found)
            record = {item: data.get(attribute) for attribute, item in attributes.items()}
            record["公民身份号码"] = key
            status, body = 200, json.dumps({"record": record}, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    app.direct.append(("/bench/bare/", bare_lookup))
    return app


def serve(kind: str, port: int, url: str, data_dir: Path) -> None:
    import uvicorn

    target = raw_app if kind == "raw" else platform_app(url, data_dir)
    uvicorn.run(target, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def nginx_in_front(url: str, platform: str, folder: Path) -> Iterator[str | None]:
    """The platform's nginx (``zhongtai gateway nginx``'s configuration), or None without nginx."""
    if NGINX is None:
        yield None
        return
    from zhongtai.gateway import accel

    listen = f"127.0.0.1:{_free_port()}"
    proxy = accel.Proxy(listen, platform.removeprefix("http://"), folder / "nginx", ACCEL_SECRET)
    engine = build_engine(url)
    accel.write_config(build_sessionmaker(engine), proxy)
    engine.dispose()
    log = str(proxy.prefix / "error.log")
    command = [NGINX, "-p", str(proxy.prefix), "-c", str(proxy.config), "-e", log, "-g", "daemon off;"]
    process = subprocess.Popen(command)  # noqa: S603 - Debian's nginx with the file written above
    with _running(process, f"http://{listen}", "/healthz", 20) as base:
        yield base


@contextmanager
def server(kind: str, url: str, data_dir: Path, source_id: int) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "BENCH_SOURCE_ID": str(source_id)}
    command = [
        sys.executable,
        __file__,
        "--serve",
        kind,
        "--port",
        str(port),
        "--url",
        url,
        "--data-dir",
        str(data_dir),
    ]
    process = subprocess.Popen(command, env=env)  # noqa: S603 - this script, with arguments it built
    with _running(process, f"http://127.0.0.1:{port}", "/", 60) as base:
        yield base


@contextmanager
def _running(process: subprocess.Popen[Any], base: str, probe: str, seconds: float) -> Iterator[str]:
    """``base`` once it answers ``probe`` (at most ``seconds``); the process stopped at the end."""
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                httpx.get(base + probe, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


# ---- load ---------------------------------------------------------------------------------------


def _sign_chunk(job: tuple[str, str, str, list[str]]) -> list[str]:
    key_id, secret, base, paths = job
    signer = GatewaySigner(key_id, PURPOSE, secret=secret)
    lines = []
    for path in paths:
        request = httpx.Request("GET", base + path)
        signer.sign(request)
        lines.append(f"{path}\t{request.headers['signature-input']}\t{request.headers['signature']}")
    return lines


def signed_requests(key_id: str, secret: str, base: str, paths: list[str], folder: Path) -> Path:
    """One signed request per line (each with its own nonce), signed on every core."""
    chunks = [paths[i : i + 5_000] for i in range(0, len(paths), 5_000)]
    with multiprocessing.Pool() as pool:
        signed = pool.map(_sign_chunk, [(key_id, secret, base, chunk) for chunk in chunks])
    file = folder / f"signed-{time.monotonic_ns()}.txt"
    file.write_text("\n".join(line for chunk in signed for line in chunk) + "\n")
    return file


def plain_requests(paths: list[str], folder: Path) -> Path:
    file = folder / f"plain-{time.monotonic_ns()}.txt"
    file.write_text("\n".join(paths) + "\n")
    return file


def wrk(base: str, requests: Path, seconds: int, connections: int, folder: Path) -> tuple[float, int]:
    """Requests per second and how many answers were not 2xx."""
    script = folder / "requests.lua"
    script.write_text(LUA)
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "-s",
        str(script),
        base,
        "--",
        str(requests),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if finished.returncode != 0:
        raise SystemExit(f"wrk failed: {finished.stderr or finished.stdout}")
    output = finished.stdout
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    if errors:
        print(f"  wrk: {errors.group(0)}", file=sys.stderr)
    return rate, int(bad.group(1)) if bad else 0


def best(label: str, attempts: list[tuple[float, int]]) -> float:
    for _, bad in attempts:
        if bad:
            raise SystemExit(f"{label}: {bad} answers were not 200; the measurement is void")
    rate = max(rate for rate, _ in attempts)
    print(f"  {label}: {rate:,.0f} req/s", file=sys.stderr, flush=True)
    return rate


def run(args: argparse.Namespace, backend: str) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="zt-bench-gw-"))
    try:
        with platform_database(backend, args.pg_url, folder, 0) as url, server("raw", url, folder, 0) as raw:
            made = set_up(url, folder, raw)
            print(f"  filling {args.persons:,} persons …", file=sys.stderr, flush=True)
            keys = fill(url, args.persons, made["source_id"])
            with (
                server("app", url, folder, made["source_id"]) as platform,
                nginx_in_front(url, platform, folder) as nginx,
            ):
                return measure(args, backend, folder, raw, platform, made, keys, nginx)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(
    args: argparse.Namespace,
    backend: str,
    folder: Path,
    raw: str,
    platform: str,
    made: dict[str, Any],
    keys: list[str],
    nginx: str | None = None,
) -> dict[str, Any]:
    budget = args.seconds * args.max_rate  # requests wrk may send in one run, each needing its own nonce
    lookups = [f"/gw/person.by-id/{keys[i % len(keys)]}" for i in range(budget)]
    echoes = [f"/gw/bench.echo/x{i}" for i in range(budget)]
    bare = plain_requests([f"/bench/bare/{k}" for k in keys], folder)
    fixed = plain_requests(["/"], folder)
    backend_path = plain_requests(["/x"], folder)

    def rate(label: str, base: str, requests: Callable[[], Path]) -> float:
        """Best of ``--repeat`` wrk runs; ``requests`` gives each run its file (signed: fresh nonces)."""
        runs = [wrk(base, requests(), args.seconds, args.connections, folder) for _ in range(args.repeat)]
        return best(label, runs)

    def signed(paths: list[str]) -> Callable[[], Path]:
        return lambda: signed_requests(made["key_id"], made["secret"], platform, paths, folder)

    floor_raw = rate("raw ASGI", raw, lambda: fixed)
    floor_bare = rate("bare lookup", platform, lambda: bare)
    gateway = rate("gateway lookup", platform, signed(lookups))
    direct = rate("backend direct", raw, lambda: backend_path)
    proxied = rate("gateway proxy", platform, signed(echoes))
    carried = None
    if nginx is not None:  # the same calls, signed for nginx's address, carried by nginx after the checks
        carried = rate(
            "gateway proxy through nginx",
            nginx,
            lambda: signed_requests(made["key_id"], made["secret"], nginx, echoes, folder),
        )
    rates = {"raw": floor_raw, "bare": floor_bare, "direct": direct}
    return {
        "backend": backend,
        "persons": args.persons,
        "raw_rps": round(floor_raw),
        "bare_rps": round(floor_bare),
        "gateway_rps": round(gateway),
        "direct_rps": round(direct),
        "proxy_rps": round(proxied),
        "gateway_vs_raw": round(gateway / floor_raw, 3),
        "gateway_vs_bare": round(gateway / floor_bare, 3),
        "proxy_vs_direct": round(proxied / direct, 3),
        "nginx_proxy_rps": round(carried) if carried else None,
        "nginx_proxy_vs_direct": round(carried / direct, 3) if carried else None,
        **costs(made, keys, raw, platform, rates),
    }


# ---- in-process costs: what the targets leave for the gateway's own work -------------------------


def verification_us(made: dict[str, Any], keys: list[str], base: str, count: int = 5_000) -> float:
    """CPU microseconds of one successful RFC 9421 verification by the gateway's own verifier."""
    signer = GatewaySigner(made["key_id"], PURPOSE, secret=made["secret"])
    key = KeyEntry(made["key_id"], 0, KeyAlgorithm.HMAC_SHA256, secret_bytes(made["secret"]), None)
    requests = []
    for number in keys[:count]:
        request = httpx.Request("GET", f"{base}/gw/person.by-id/{number}")
        signer.sign(request)
        headers = {name.lower(): value for name, value in request.headers.items()}
        authority = headers["host"].lower()
        requests.append(RequestParts("GET", "http", authority, request.url.path, "", headers, b""))
    now = time.time()
    started = time.process_time()
    for parts in requests:
        verify(parts, {key.key_id: key}, now, 30, 300)  # raises if a signature did not verify
    return (time.process_time() - started) / len(requests) * 1e6


def client_call_us(backend: str, count: int = 3_000) -> float:
    """CPU microseconds of one GET to the backend through the proxy's HTTP client, nothing else."""
    import uvloop  # as uvicorn runs the gateway

    async def calls() -> float:
        upstreams = Upstreams(max_response_bytes=1 << 20)
        session = upstreams.http()
        started = 0.0
        for n in range(count + 100):  # the first hundred open the connection and warm up
            if n == 100:
                started = time.process_time()
            async with session.get(f"{backend}/x") as response:
                await response.read()
        elapsed = time.process_time() - started
        await upstreams.close()
        return elapsed / count * 1e6

    return uvloop.run(calls())


def costs(
    made: dict[str, Any], keys: list[str], raw: str, platform: str, rates: dict[str, float]
) -> dict[str, Any]:
    """The targets' room for the gateway's own work, beside what two unavoidable steps cost."""
    verified, called = verification_us(made, keys, platform), client_call_us(raw)
    room_b = 1e6 / rates["bare"] * (1 / TARGETS["gateway_vs_bare"] - 1)
    room_c = 1e6 / (rates["direct"] * TARGETS["proxy_vs_direct"])
    print(
        f"  bare lookup / raw ASGI: {rates['bare'] / rates['raw']:.3f} (the most (a) could reach)\n"
        f"  signature verification: {verified:.1f} µs CPU; (b) leaves {room_b:.1f} µs for all checks\n"
        f"  proxy's client GET: {called:.1f} µs CPU; (c) leaves {room_c:.1f} µs for a whole proxied call",
        file=sys.stderr,
        flush=True,
    )
    return {
        "bare_vs_raw": round(rates["bare"] / rates["raw"], 3),
        "verify_us": round(verified, 1),
        "room_b_us": round(room_b, 1),
        "client_call_us": round(called, 1),
        "room_c_us": round(room_c, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000, help="People in the person base")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument(
        "--pg-url", default=None, help="PostgreSQL server URL (a scratch database is created)"
    )
    parser.add_argument("--seconds", type=int, default=10, help="Length of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="Concurrent connections")
    parser.add_argument("--repeat", type=int, default=2, help="Best of this many runs of each")
    parser.add_argument(
        "--max-rate", type=int, default=8_000, help="Most gateway req/s expected (pre-signed)"
    )
    parser.add_argument("--serve", choices=["raw", "app"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.url, args.data_dir)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("bench/gateway.py needs wrk (apt-get install -y wrk)")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        results.append(run(args, backend))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    worst = min(results, key=lambda r: r["gateway_vs_raw"])
    print(
        json.dumps(
            {
                "name": f"gateway.{'+'.join(backends)}",
                "value": worst["gateway_rps"],
                "unit": "req/s",
                "floor": worst["raw_rps"],
                "ratio": worst["gateway_vs_raw"],
                "target": TARGETS["gateway_vs_raw"],
                "gateway_vs_bare": min(r["gateway_vs_bare"] for r in results),
                "gateway_vs_bare_target": TARGETS["gateway_vs_bare"],
                "proxy_vs_direct": min(r["proxy_vs_direct"] for r in results),
                "proxy_vs_direct_target": TARGETS["proxy_vs_direct"],
                "nginx_proxy_vs_direct": min((r["nginx_proxy_vs_direct"] or 0) for r in results) or None,
                "nginx_proxy_vs_direct_target": TARGETS["nginx_proxy_vs_direct"],
                "bare_vs_raw": min(r["bare_vs_raw"] for r in results),
            }
        )
    )


if __name__ == "__main__":
    main()
