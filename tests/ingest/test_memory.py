"""Memory stays bounded whatever the file size: files are streamed chunk by chunk, never loaded whole."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.ingest.helpers import add_job, add_source, person_resource, raw_count
from tests.ingest.test_crash import ROOT, child_env
from zhongtai.core.settings import Settings

LINE = "{n},居民{n},34010119900101{n:04d},2020年3月5日,合肥市,蜀山区长江西路{n}号,2026-01-01 08:00:00\n"
HEADER = "编号,姓名,身份证号,出生日期,城市,街道,更新时间\n"


def peak_memory_ingesting(settings: Settings, job: str) -> int:
    """Run one batch in a fresh process; its peak resident memory in KiB."""
    import subprocess

    child = subprocess.run(
        [sys.executable, "-m", "tests.ingest.crash_worker", job],
        cwd=ROOT,
        env={**child_env(settings), "ZHONGTAI_INGEST_CHUNK_ROWS": "5000"},
        input="go\n",
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    ready, status, peak = child.stdout.split()
    assert (ready, status) == ("ready", "succeeded"), child.stdout + child.stderr
    return int(peak)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_file_ten_times_bigger_needs_no_more_memory(
    factory: sessionmaker[Session], settings: Settings, world: World
) -> None:
    source = add_source(factory, settings, code="GAJ-INBOX", kind="file", options={"format": "csv"})
    mapping = [{"item": "姓名", "source": "姓名"}, {"item": "出生日期", "source": "出生日期"}]
    common = {"object_kind": "files", "key_columns": ["编号"], "mode": "full", "mapping": mapping}
    resource = person_resource(factory)
    small_job = add_job(factory, source, resource, code="SMALL", source_object="small.csv", **common)
    big_job = add_job(factory, source, resource, code="BIG", source_object="big.csv", **common)
    inbox = settings.resolved_inbox_dir / "GAJ-INBOX"
    inbox.mkdir(parents=True, exist_ok=True)
    for name, rows in (("small.csv", 40_000), ("big.csv", 400_000)):
        with (inbox / name).open("w", encoding="gbk") as handle:
            handle.write(HEADER)
            handle.writelines(LINE.format(n=n) for n in range(rows))
    small = peak_memory_ingesting(settings, small_job)
    big = peak_memory_ingesting(settings, big_job)
    assert raw_count(factory, big_job) == 400_000
    size_difference = ((inbox / "big.csv").stat().st_size - (inbox / "small.csv").stat().st_size) // 1024
    # ~35 MB more file; the process may grow by a fraction of that (allocator slack), never by the file.
    assert big - small < size_difference // 2, (small, big, size_difference)
