"""The zhongtai command line, run as a user would (a subprocess against a SQLite file)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET
from tests.processes import alive


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "ZHONGTAI_DATA_DIR": str(data_dir),
        "ZHONGTAI_ENV": "test",
        "ZHONGTAI_SECRET_KEY": TEST_SECRET,
    }
    env.pop("ZHONGTAI_DATABASE_URL", None)
    return env


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = cli_env(tmp_path)

    def invoke(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "zhongtai.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )

    return invoke


def test_commands_explain_an_unmigrated_database(run) -> None:  # type: ignore[no-untyped-def]
    result = run("departments", "list")
    assert result.returncode == 1
    assert "zhongtai db upgrade" in result.stderr and "Traceback" not in result.stderr


def test_users_tokens_and_catalog_round_trip(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("demo", "--no-serve", "--seed", "3", "--persons", "500").returncode == 0
    departments = json.loads(run("departments", "list", "--json").stdout)
    assert len(departments) >= 20 and departments[0]["code"]

    created = run(
        "users",
        "create",
        "li.si",
        "--department",
        "GAJ",
        "--role",
        "officer",
        "--role",
        "consumer",
        stdin="a long enough password\n",
    )
    assert created.returncode == 0, created.stderr
    token = run("users", "token", "li.si").stdout.strip()
    assert token.startswith("zt_")

    bad_role = run(
        "users", "create", "x.y", "--department", "GAJ", "--role", "king", stdin="password123456\n"
    )
    assert bad_role.returncode != 0 and "king" in bad_role.stderr
    bad_dept = run(
        "users", "create", "x.y", "--department", "NOPE", "--role", "officer", stdin="password123456\n"
    )
    assert bad_dept.returncode == 2 and "unknown department code 'NOPE'" in bad_dept.stderr
    short = run("users", "create", "x.y", "--department", "GAJ", "--role", "officer", stdin="short\n")
    assert short.returncode == 2 and "at least" in short.stderr

    exported = tmp_path / "catalog.csv"
    assert run("catalog", "export", "-o", str(exported)).returncode == 0
    again = run("catalog", "import", str(exported))
    assert (
        again.returncode == 2 and "already exists" in again.stderr and "nothing was written" in again.stderr
    )
    as_json = run("catalog", "export", "--format", "json").stdout
    assert len(json.loads(as_json)["resources"]) >= 150


def test_import_of_a_broken_file_is_a_message(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("db", "upgrade").returncode == 0
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "zhongtai-catalog", ', encoding="utf-8")
    result = run("catalog", "import", str(broken))
    assert result.returncode == 2 and "malformed JSON" in result.stderr
    missing = run("catalog", "import", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_ingestion_and_governance_from_the_command_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    built = run("demo", "--no-serve", "--seed", "5", "--persons", "400")
    assert built.returncode == 0, built.stderr
    jobs = run("ingest", "jobs")
    assert "GAJ-RK-JBXX" in jobs.stdout and "WJW-HSJC" in jobs.stdout
    again = run("ingest", "run", "GAJ-RK-JBXX")
    read = re.search(r"succeeded: (\d+) read", again.stdout)
    assert again.returncode == 0 and read is not None
    assert int(read.group(1)) <= 2  # only the rows sitting on the watermark are read again
    tested = run("ingest", "test", "GAJ-RKXT-DB")
    assert tested.returncode == 0 and "t_rk_jbxx" in tested.stdout
    missing = run("ingest", "run", "NO-SUCH-JOB")
    assert missing.returncode == 2 and "no ingestion job 'NO-SUCH-JOB'" in missing.stderr
    assert "Traceback" not in missing.stderr
    # the demo governed what it gathered: quality per department, rules, passes and base lookups
    quality = json.loads(run("governance", "quality", "--json").stdout)
    assert {d["department"] for d in quality["departments"]} >= {"GAJ", "MZJ", "RSJ", "WJW"}
    registry = next(q["resource"] for q in quality["resources"] if q["resource_name"] == "常住人口基本信息")
    rules = json.loads(run("governance", "rules", registry).stdout)
    assert rules["version"] == 1 and any(r["kind"] == "unique" for r in rules["rules"])
    applied = run("governance", "apply", registry)
    assert applied.returncode == 0 and re.search(
        r"(\d[\d,]*) raw = [\d,]+ clean \+ [\d,]+ rejected", applied.stdout
    )
    broken = tmp_path / "rules.json"
    broken.write_text('[{"id": "x", "kind": "standardize", "item": "不存在的项"}]', encoding="utf-8")
    refused = run("governance", "rules", registry, "--set", str(broken))
    assert refused.returncode != 0 and "不存在的项" in refused.stderr and "Traceback" not in refused.stderr
    with sqlite3.connect(tmp_path / "sources" / "gaj_rkxt.db") as connection:
        number = next(n for (n,) in connection.execute("SELECT gmsfhm FROM t_rk_jbxx") if len(n) == 18)
    found = run("base", "lookup", "person", number.lower())
    assert found.returncode == 0, found.stderr
    record = json.loads(found.stdout)
    assert record["key"] == number.upper() and record["provenance"]["name"]["department"] == "GAJ"
    absent = run("base", "lookup", "person", "123")
    assert absent.returncode == 1 and "no person record" in absent.stderr


def test_a_terminated_server_stops_its_worker_too(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import signal
    import socket
    import time

    import httpx

    assert run("db", "upgrade").returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = cli_env(tmp_path)
    env.pop("ZHONGTAI_QUEUE_URL", None)  # the embedded queue: serve starts its own worker
    server = subprocess.Popen(  # as a service manager runs it, and stops it with SIGTERM
        [sys.executable, "-m", "zhongtai.cli", "serve", "--port", str(port), "--worker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    worker = 0
    try:
        assert server.stdout is not None
        started = None
        for line in server.stdout:  # its first lines; ends early if serve fails to start
            if started := re.search(r"worker started \(pid (\d+)\)", line):
                break
        assert started, "serve did not say it started a worker"
        worker = int(started[1])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and alive(worker):
            time.sleep(0.2)
        assert not alive(worker), "the worker outlived its server"
    finally:
        server.kill()
        if worker and alive(worker):  # not left running after a failure
            os.kill(worker, signal.SIGKILL)
