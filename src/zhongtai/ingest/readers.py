"""Streaming readers over department systems: a database table or query, an inbox of files, a paged API.

Every reader yields rows as sequences in ``columns`` order, chunk by chunk, so memory stays bounded
whatever the source size. A row the reader itself cannot make sense of (wrong field count, bad JSON)
comes through as :class:`BadRow` and is rejected with its reason; a fault that makes the rest of the
source unreadable raises :class:`SourceFailure`, which fails the run.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from sqlalchemy import Connection, MetaData, Table, bindparam, column, func, select, text
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from zhongtai.core.crypto import SecretBox
from zhongtai.core.settings import Settings
from zhongtai.ingest.models import Job, JobMode, ObjectKind, Source, SourceKind
from zhongtai.ingest.sources import (
    HttpOptions,
    SourceFailure,
    auth_headers,
    describe_failure,
    inbox_of,
    source_engine,
)

MAX_COLUMNS = 2_000
MAX_LINE_BYTES = 16 * 1024 * 1024
SNIFF_BYTES = 64 * 1024
HTTP_ATTEMPTS = 3
MAX_PAGES = 1_000_000


@dataclass(frozen=True, slots=True)
class BadRow:
    reason: str
    raw: str


@dataclass(slots=True)
class Chunk:
    rows: list[Sequence[Any] | BadRow]
    label: str = ""  # the file or page the rows came from, for reject messages


@dataclass
class ReadPlan:
    """What a run asks of its source."""

    columns: list[str]  # needed source columns, in the order rows are handed over
    watermark_column: str | None
    watermark: Any  # typed value from the job's stored watermark, or None for "from the start"
    chunk_rows: int


@dataclass
class Reader:
    columns: list[str]
    chunks: Iterator[Chunk]
    notes: list[str] = field(default_factory=list)
    watermark_after: list[Any] = field(default_factory=list)  # filled while reading: [value]
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for closer in self.closers:
            closer()


# Watermarks are stored as text with their type, so the next run compares like with like.
def encode_watermark(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return f"datetime:{value.isoformat()}"
    if isinstance(value, date):
        return f"date:{value.isoformat()}"
    if isinstance(value, bool):
        return f"str:{value}"
    if isinstance(value, int):
        return f"int:{value}"
    if isinstance(value, Decimal | float):
        return f"decimal:{value}"
    return f"str:{value}"


def decode_watermark(stored: str | None) -> Any:
    if not stored:
        return None
    kind, _, value = stored.partition(":")
    match kind:
        case "datetime":
            return datetime.fromisoformat(value)
        case "date":
            return date.fromisoformat(value)
        case "int":
            return int(value)
        case "decimal":
            return Decimal(value)
        case _:
            return value


def open_reader(job: Job, source: Source, plan: ReadPlan, settings: Settings, box: SecretBox) -> Reader:
    if source.kind is SourceKind.DATABASE:
        return _database_reader(job, source, plan, settings, box)
    if source.kind is SourceKind.FILE:
        return _file_reader(job, source, plan, settings)
    return _http_reader(job, source, plan, settings, box)


# --- databases -------------------------------------------------------------------------------------


def _database_reader(job: Job, source: Source, plan: ReadPlan, settings: Settings, box: SecretBox) -> Reader:
    try:
        engine = source_engine(source, settings, box)
    except SQLAlchemyError as exc:
        raise SourceFailure(f"cannot connect to the source database: {describe_failure(exc)}") from None
    try:
        connection = engine.connect()
    except SQLAlchemyError as exc:
        engine.dispose()
        raise SourceFailure(f"cannot connect to the source database: {describe_failure(exc)}") from None
    reader = Reader(columns=plan.columns, chunks=iter(()), closers=[connection.close, engine.dispose])
    dbapi_error: type[Exception] = connection.dialect.loaded_dbapi.Error
    try:
        cursor = _open_cursor(connection, _select_for(job, connection, plan), plan)
    except SourceFailure:
        reader.close()
        raise
    except (SQLAlchemyError, dbapi_error) as exc:
        reader.close()
        raise SourceFailure(f"the source query failed: {describe_failure(exc)}") from None
    reader.closers.insert(0, cursor.close)
    reader.chunks = _database_chunks(cursor, plan, reader, dbapi_error)
    return reader


def count_rows(job: Job, source: Source, plan: ReadPlan, settings: Settings, box: SecretBox) -> int:
    """How many rows a batch would read (0 when the source cannot say; the batch itself reports why)."""
    try:
        engine = source_engine(source, settings, box)
        try:
            with engine.connect() as connection:
                statement = select(func.count()).select_from(_select_for(job, connection, plan).subquery())
                parameters = {"watermark": plan.watermark} if plan.watermark is not None else {}
                return int(connection.execute(statement, parameters).scalar() or 0)
        finally:
            engine.dispose()
    except (SQLAlchemyError, SourceFailure):
        return 0


def _open_cursor(connection: Connection, statement: Any, plan: ReadPlan) -> Any:
    """A streaming DBAPI cursor over ``statement``: rows come as plain tuples, with no per-row objects."""
    compiled = statement.compile(dialect=connection.dialect)
    values = compiled.construct_params({"watermark": plan.watermark} if plan.watermark is not None else {})
    arguments: Any = (
        [values[name] for name in compiled.positiontup or []] if connection.dialect.positional else values
    )
    raw = connection.connection.driver_connection
    assert raw is not None
    backend = connection.dialect.name
    if backend == "postgresql":
        cursor = raw.cursor(name="zhongtai_ingest")  # server-side: the result is not held in memory
        cursor.itersize = plan.chunk_rows
    elif backend in ("mysql", "mariadb"):
        import pymysql.cursors

        with raw.cursor() as setup:  # a job's query may read, never write, the department's database
            setup.execute("START TRANSACTION READ ONLY")
        cursor = raw.cursor(pymysql.cursors.SSCursor)  # unbuffered: streamed from the server
    else:
        cursor = raw.cursor()
    cursor.execute(str(compiled), arguments)
    return cursor


def _select_for(job: Job, connection: Connection, plan: ReadPlan) -> Any:
    columns: list[Any] = [column(name) for name in plan.columns]
    if job.object_kind is ObjectKind.QUERY:
        origin: Any = text(job.source_object).columns(*columns).subquery("src")
        selected = [origin.c[name] for name in plan.columns]
    else:
        origin = _reflect(job.source_object, connection)
        absent = [name for name in plan.columns if name not in origin.c]
        if absent:
            present = ", ".join(origin.c.keys())
            raise SourceFailure(
                f"source table {job.source_object} has no column(s) {', '.join(absent)} "
                f"(it has: {present}); the schema changed or the mapping is wrong"
            )
        selected = [origin.c[name] for name in plan.columns]
    statement = select(*selected)
    if plan.watermark_column and plan.watermark is not None:
        # >= rather than >: rows sharing the last watermark value may have arrived after the last run;
        # re-reading them is harmless because the raw zone is keyed.
        statement = statement.where(origin.c[plan.watermark_column] >= bindparam("watermark"))
    return statement


def _reflect(name: str, connection: Connection) -> Table:
    schema, _, table_name = name.rpartition(".")
    try:
        return Table(table_name, MetaData(), schema=schema or None, autoload_with=connection)
    except NoSuchTableError:
        raise SourceFailure(f"source table {name} does not exist") from None


def _database_chunks(
    cursor: Any, plan: ReadPlan, reader: Reader, dbapi_error: type[Exception]
) -> Iterator[Chunk]:
    watermark_index = plan.columns.index(plan.watermark_column) if plan.watermark_column else None
    highest = None
    try:
        while rows := cursor.fetchmany(plan.chunk_rows):
            if watermark_index is not None:
                values = [row[watermark_index] for row in rows if row[watermark_index] is not None]
                if values:
                    top = max(values)
                    highest = top if highest is None or top > highest else highest
            yield Chunk(rows)
    except dbapi_error as exc:
        raise SourceFailure(f"reading the source failed: {describe_failure(exc)}") from None
    except TypeError as exc:
        raise SourceFailure(f"watermark column {plan.watermark_column} mixes types: {exc}") from None
    reader.watermark_after.append(highest)


# --- files -----------------------------------------------------------------------------------------


def _file_reader(job: Job, source: Source, plan: ReadPlan, settings: Settings) -> Reader:
    inbox = inbox_of(source, settings)
    inbox.mkdir(parents=True, exist_ok=True)
    pattern = job.source_object
    files = sorted((_file_mark(path), path) for path in inbox.glob(pattern) if path.is_file())
    if job.mode is JobMode.INCREMENTAL and plan.watermark:
        files = [(mark, path) for mark, path in files if mark > str(plan.watermark)]
    reader = Reader(columns=plan.columns, chunks=iter(()))
    if not files:
        reader.notes.append(f"no new files matching {pattern}")
    reader.chunks = _file_chunks(files, source, plan, reader)
    return reader


def _file_mark(path: Path) -> str:
    # Files are taken in (modification time, name) order; the watermark is the last one taken.
    return f"{path.stat().st_mtime_ns:020d}/{path.name}"


def _file_chunks(
    files: list[tuple[str, Path]], source: Source, plan: ReadPlan, reader: Reader
) -> Iterator[Chunk]:
    file_format = str(source.options.get("format", "auto"))
    for mark, path in files:
        kind = file_format if file_format != "auto" else _format_from_name(path)
        rows = {"csv": _csv_rows, "xlsx": _xlsx_rows, "jsonl": _jsonl_rows}[kind](path, source, plan, reader)
        buffer: list[Sequence[Any] | BadRow] = []
        for row in rows:
            buffer.append(row)
            if len(buffer) >= plan.chunk_rows:
                yield Chunk(buffer, path.name)
                buffer = []
        if buffer:
            yield Chunk(buffer, path.name)
        reader.watermark_after[:] = [mark]


def _format_from_name(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise SourceFailure(f"{path.name}: unknown file type {suffix!r} (csv, xlsx, jsonl)")


def detect_encoding(sample: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) or GB18030, the superset of GBK and GB2312."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise SourceFailure(f"{name}: the text is neither UTF-8 nor GB18030/GBK")


def _open_checked(path: Path) -> tuple[BinaryIO, bytes]:
    handle = path.open("rb")
    sample = handle.read(SNIFF_BYTES)
    if not sample:
        handle.close()
        raise SourceFailure(f"{path.name} is empty")
    handle.seek(0)
    return handle, sample


def _csv_rows(path: Path, source: Source, plan: ReadPlan, reader: Reader) -> Iterator[Sequence[Any] | BadRow]:
    handle, sample = _open_checked(path)
    if sample.startswith(b"PK\x03\x04") or b"\x00" in sample:
        handle.close()
        raise SourceFailure(f"{path.name} is not a CSV text file (its content is binary)")
    chosen = str(source.options.get("encoding", "auto"))
    encoding = detect_encoding(sample, path.name) if chosen == "auto" else chosen
    stream = io.TextIOWrapper(handle, encoding=encoding, errors="strict", newline="")
    rows = csv.reader(stream, delimiter=str(source.options.get("delimiter", ",")))
    try:
        with stream:
            header = next(rows, None)
            if header is None:
                raise SourceFailure(f"{path.name} is empty")
            positions = _header_positions([h.strip() for h in header], plan.columns, path.name)
            width = len(header)
            seen = 0
            for record in rows:
                seen += 1
                if len(record) != width:
                    if record:  # blank lines are not rows
                        yield BadRow(
                            f"line {rows.line_num}: {len(record)} fields, header has {width}",
                            _csv_raw(record),
                        )
                    continue
                yield tuple(record[i] if i is not None else None for i in positions)
            if seen == 0:
                reader.notes.append(f"{path.name} has a header and no rows")
    except UnicodeDecodeError as exc:
        raise SourceFailure(
            f"{path.name}: bytes that are not valid {encoding} after line {rows.line_num} ({exc.reason})"
        ) from None
    except csv.Error as exc:
        raise SourceFailure(f"{path.name} line {rows.line_num}: {exc}") from None


def _csv_raw(record: list[str]) -> str:
    text = ",".join(record[:50])
    return text if len(text) <= 2000 else text[:1997] + "..."


def _header_positions(header: Sequence[str], needed: list[str], name: str) -> list[int | None]:
    if len(header) > MAX_COLUMNS:
        raise SourceFailure(
            f"{name}: the header has {len(header)} columns; at most {MAX_COLUMNS} are accepted"
        )
    index = {column_name: i for i, column_name in enumerate(header) if column_name}
    missing = [column_name for column_name in needed if column_name not in index]
    if missing:
        shown = ", ".join(list(index)[:30])
        raise SourceFailure(f"{name} lacks column(s) {', '.join(missing)} (it has: {shown})")
    return [index[column_name] for column_name in needed]


def _xlsx_rows(
    path: Path, source: Source, plan: ReadPlan, reader: Reader
) -> Iterator[Sequence[Any] | BadRow]:
    from openpyxl import load_workbook  # imported here: only XLSX sources pay for it

    handle, _sample = _open_checked(path)
    handle.close()
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise SourceFailure(f"{path.name} is not a valid XLSX workbook ({type(exc).__name__})") from None
    try:
        sheet_name = source.options.get("sheet")
        if sheet_name and sheet_name not in workbook.sheetnames:
            raise SourceFailure(f"{path.name} has no sheet {sheet_name!r}")
        sheet = workbook[sheet_name] if sheet_name else workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise SourceFailure(f"{path.name} is empty")
        positions = _header_positions(
            ["" if h is None else str(h).strip() for h in header], plan.columns, path.name
        )
        seen = 0
        for record in rows:
            if all(value is None for value in record):
                continue
            seen += 1
            yield tuple(record[i] if i is not None and i < len(record) else None for i in positions)
        if seen == 0:
            reader.notes.append(f"{path.name} has a header and no rows")
    finally:
        workbook.close()


def _jsonl_rows(
    path: Path, source: Source, plan: ReadPlan, reader: Reader
) -> Iterator[Sequence[Any] | BadRow]:
    handle, _sample = _open_checked(path)
    with handle:
        number = 0
        while True:
            line = handle.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            number += 1
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                raise SourceFailure(f"{path.name} line {number} is longer than {MAX_LINE_BYTES // 2**20} MB")
            if not line.strip():
                continue
            yield _json_object_row(line, number, plan.columns)


def _json_object_row(line: bytes, number: int, columns: list[str]) -> Sequence[Any] | BadRow:
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return BadRow(f"line {number}: not JSON ({exc})", line[:2000].decode("utf-8", "replace"))
    if not isinstance(value, dict):
        return BadRow(f"line {number}: not a JSON object", line[:2000].decode("utf-8", "replace"))
    return tuple(value.get(name) for name in columns)


# --- HTTP APIs -------------------------------------------------------------------------------------


def _http_reader(job: Job, source: Source, plan: ReadPlan, settings: Settings, box: SecretBox) -> Reader:
    options = HttpOptions.model_validate(source.options)
    client = httpx.Client(headers=auth_headers(source, box), timeout=settings.source_timeout_seconds)
    reader = Reader(columns=plan.columns, chunks=iter(()), closers=[client.close])
    reader.chunks = _http_chunks(client, job, options, plan, reader)
    return reader


def _http_chunks(
    client: httpx.Client, job: Job, options: HttpOptions, plan: ReadPlan, reader: Reader
) -> Iterator[Chunk]:
    url = options.url + ("/" + job.source_object.lstrip("/") if job.source_object.strip("/") else "")
    watermark_index = plan.columns.index(plan.watermark_column) if plan.watermark_column else None
    highest: Any = None
    for page in range(options.first_page, options.first_page + MAX_PAGES):
        params: dict[str, Any] = {options.page_param: page, options.size_param: options.page_size}
        if options.watermark_param and plan.watermark is not None:
            params[options.watermark_param] = str(plan.watermark)
        items = _fetch_page(client, url, params, options.items_path, page)
        rows: list[Sequence[Any] | BadRow] = []
        for position, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                rows.append(BadRow(f"page {page} item {position}: not a JSON object", str(item)[:2000]))
                continue
            row = tuple(item.get(name) for name in plan.columns)
            if watermark_index is not None and row[watermark_index] is not None:
                value = row[watermark_index]
                highest = value if highest is None or str(value) > str(highest) else highest
            rows.append(row)
        if rows:
            yield Chunk(rows, f"page {page}")
        if len(items) < options.page_size:
            break
    reader.watermark_after.append(highest)


def _fetch_page(
    client: httpx.Client, url: str, params: dict[str, Any], items_path: str, page: int
) -> list[Any]:
    last_problem = ""
    for attempt in range(HTTP_ATTEMPTS):
        if attempt:
            time.sleep(0.5 * 2 ** (attempt - 1))
        try:
            response = client.get(url, params=params)
        except httpx.HTTPError as exc:
            last_problem = f"request failed: {describe_failure(exc)}"
            continue
        if response.status_code >= 500 or response.status_code == 429:
            last_problem = f"HTTP {response.status_code}"
            continue
        if response.status_code >= 400:
            raise SourceFailure(f"the API answered HTTP {response.status_code} for page {page}")
        return _items_of(response, items_path, page)
    raise SourceFailure(f"the API failed for page {page} after {HTTP_ATTEMPTS} attempts: {last_problem}")


def _items_of(response: httpx.Response, items_path: str, page: int) -> list[Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SourceFailure(f"page {page} of the API is not JSON: {response.text[:80]!r}") from None
    for part in [p for p in items_path.split(".") if p]:
        if not isinstance(body, dict) or part not in body:
            raise SourceFailure(f"page {page} of the API has no {items_path!r} list")
        body = body[part]
    if not isinstance(body, list):
        raise SourceFailure(f"page {page} of the API: {items_path or 'the body'} is not a list")
    return body
