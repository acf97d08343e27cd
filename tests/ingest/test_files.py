"""File sources: CSV in UTF-8 or GBK, XLSX, JSON Lines, and the bad files departments really send."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import World
from tests.ingest.helpers import add_job, add_source, person_resource, raw_count
from zhongtai.core.settings import Settings
from zhongtai.ingest.models import RawRecord, RejectedRow, RunStatus
from zhongtai.ingest.runner import run_job

HEADER = "编号,姓名,身份证号,出生日期,城市,街道,更新时间"
MAPPING = [
    {"item": "姓名", "source": "姓名", "required": True},
    {"item": "公民身份号码", "source": "身份证号"},
    {"item": "出生日期", "source": "出生日期"},
    {"item": "户籍地址", "template": "{城市}{街道}"},
]
LINES = [
    "1,张三,34010119900101001x,2020年3月5日,合肥市,蜀山区,",
    "2,李四,340101900101001,2020/3/5,合肥市,包河区,",
    "3, 王五 ,３４０１０１１９９００１０１００２X,20200305,合肥市,庐阳区,",
]


@pytest.fixture
def file_job(factory: sessionmaker[Session], settings: Settings, world: World) -> str:
    source = add_source(factory, settings, code="GAJ-INBOX", kind="file", options={"format": "auto"})
    return add_job(
        factory,
        source,
        person_resource(factory),
        object_kind="files",
        source_object="*.*",
        key_columns=["编号"],
        mode="incremental",
        watermark_column=None,
        mapping=MAPPING,
    )


def inbox(settings: Settings) -> Path:
    path = settings.resolved_inbox_dir / "GAJ-INBOX"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data(factory: sessionmaker[Session]) -> dict[str, dict[str, object]]:
    with factory() as session:
        return {r.source_key: r.data for r in session.scalars(select(RawRecord))}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_any_common_encoding_is_detected_and_read(
    factory: sessionmaker[Session], settings: Settings, file_job: str, encoding: str
) -> None:
    (inbox(settings) / "persons.csv").write_bytes("\n".join([HEADER, *LINES]).encode(encoding))
    outcome = run_job(factory, settings, file_job)
    assert outcome is not None and outcome.status is RunStatus.SUCCEEDED, outcome.error if outcome else None
    rows = data(factory)
    assert rows["1"]["姓名"] == "张三" and rows["1"]["出生日期"] == "2020-03-05"
    assert rows["2"]["出生日期"] == "2020-03-05" and rows["3"]["出生日期"] == "2020-03-05"
    assert rows["3"]["姓名"] == " 王五 "  # raw zone keeps what the department sent; governance cleans it
    assert rows["1"]["户籍地址"] == "合肥市蜀山区"


def test_each_file_is_taken_once_and_new_files_are_picked_up(
    factory: sessionmaker[Session], settings: Settings, file_job: str
) -> None:
    folder = inbox(settings)
    (folder / "a.csv").write_text("\n".join([HEADER, LINES[0]]), encoding="utf-8")
    first = run_job(factory, settings, file_job)
    assert first is not None and first.rows_read == 1
    again = run_job(factory, settings, file_job)
    assert again is not None and again.rows_read == 0 and again.notes and "no new files" in again.notes
    (folder / "b.jsonl").write_text(
        '{"编号": 7, "姓名": "赵六", "出生日期": "1990-01-01"}\nnot json\n[1, 2]\n', encoding="utf-8"
    )
    third = run_job(factory, settings, file_job)
    assert third is not None and (third.rows_read, third.rows_written, third.rows_rejected) == (3, 1, 2)
    assert raw_count(factory, file_job) == 2
    with factory() as session:
        reasons = sorted(r.reason for r in session.scalars(select(RejectedRow)))
    assert reasons[0].startswith("b.jsonl: line 2: not JSON") and "line 3: not a JSON object" in reasons[1]


def test_xlsx_workbooks_are_read_with_typed_cells(
    factory: sessionmaker[Session], settings: Settings, file_job: str
) -> None:
    from datetime import date

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append([1, "张三", "340101199001010011", date(1990, 1, 1), "合肥市", "瑶海区", None])
    sheet.append([None, None, None, None, None, None, None])  # blank rows are skipped
    sheet.append([2, "李四", None, "1990年1月2日", "合肥市", None, None])
    book.save(inbox(settings) / "persons.xlsx")
    outcome = run_job(factory, settings, file_job)
    assert outcome is not None and outcome.status is RunStatus.SUCCEEDED, outcome.error if outcome else None
    rows = data(factory)
    assert rows["1"]["出生日期"] == "1990-01-01" and rows["2"]["出生日期"] == "1990-01-02"


@pytest.mark.parametrize(
    ("name", "content", "cause"),
    [
        ("empty.csv", b"", "empty.csv is empty"),
        ("fake.csv", b"PK\x03\x04" + bytes(200), "not a CSV text file"),
        ("fake.xlsx", "编号,姓名\n1,张三\n".encode(), "not a valid XLSX workbook"),
        ("bad.csv", b"\xff\xfe\xfa\xfb garbage \x81", "neither UTF-8 nor GB18030"),
        ("drift.csv", "编号,名字\n1,张三\n".encode(), "lacks column(s) 姓名"),
        ("data.pdf", b"%PDF-1.4", "unknown file type"),
        ("wide.csv", (",".join(f"c{i}" for i in range(10_000)) + "\n").encode(), "10000 columns"),
    ],
)
def test_a_bad_file_fails_the_run_naming_the_cause_and_nothing_becomes_visible(
    factory: sessionmaker[Session], settings: Settings, file_job: str, name: str, content: bytes, cause: str
) -> None:
    folder = inbox(settings)
    (folder / "0-good.csv").write_text("\n".join([HEADER, *LINES]), encoding="utf-8")
    (folder / name).write_bytes(content)
    outcome = run_job(factory, settings, file_job)
    assert outcome is not None and outcome.status is RunStatus.FAILED
    assert outcome.error is not None and cause in outcome.error
    assert outcome.watermark_after is None
    assert raw_count(factory, file_job) == 0  # the good file's rows were rolled back with the batch


def test_header_only_file_succeeds_with_a_note(
    factory: sessionmaker[Session], settings: Settings, file_job: str
) -> None:
    (inbox(settings) / "h.csv").write_text(HEADER + "\n", encoding="gbk")
    outcome = run_job(factory, settings, file_job)
    assert outcome is not None and outcome.status is RunStatus.SUCCEEDED
    assert outcome.rows_read == 0 and "header and no rows" in str(outcome.notes)


def test_rows_with_the_wrong_number_of_fields_are_rejected_not_guessed(
    factory: sessionmaker[Session], settings: Settings, file_job: str
) -> None:
    wide = "9," + ",".join(["x"] * 9_999)
    (inbox(settings) / "w.csv").write_text("\n".join([HEADER, LINES[0], wide, "8,short"]), encoding="utf-8")
    outcome = run_job(factory, settings, file_job)
    assert outcome is not None and (outcome.rows_read, outcome.rows_written, outcome.rows_rejected) == (
        3,
        1,
        2,
    )
    with factory() as session:
        reasons = [r.reason for r in session.scalars(select(RejectedRow).order_by(RejectedRow.row_number))]
    assert "10000 fields, header has 7" in reasons[0] and "2 fields, header has 7" in reasons[1]
