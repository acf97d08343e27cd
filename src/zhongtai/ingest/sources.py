"""Talking to department systems: connection settings, secrets, and "test connection".

Source options are validated per kind. A database URL given with a password is split: the password
goes into the encrypted secret, the URL keeps only the rest, so nothing secret is ever shown back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from zhongtai.core.crypto import SecretBox
from zhongtai.core.errors import M_, Invalid, ZhongtaiError
from zhongtai.core.settings import Settings
from zhongtai.ingest.models import Source, SourceKind

DRIVERS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb+pymysql": "mysql+pymysql",
}


class SourceFailure(ZhongtaiError):
    """The department system could not be read; the message names the cause."""

    status_code = 422
    code = "source_error"


class DatabaseOptions(BaseModel):
    url: str = Field(min_length=1, max_length=500, description="SQLAlchemy URL, password not included.")


class FileOptions(BaseModel):
    format: Literal["auto", "csv", "xlsx", "jsonl"] = "auto"
    encoding: Literal["auto", "utf-8", "gb18030"] = Field(
        "auto", description="CSV text encoding; auto tells UTF-8 from GB18030/GBK."
    )
    delimiter: str = Field(",", min_length=1, max_length=1)
    sheet: str | None = Field(None, max_length=100, description="XLSX sheet; default the first.")


class HttpOptions(BaseModel):
    url: str = Field(min_length=1, max_length=500, description="Base URL of the department API.")
    items_path: str = Field("", max_length=100, description="Dotted path to the list in each page.")
    page_param: str = Field("page", max_length=50)
    size_param: str = Field("size", max_length=50)
    page_size: int = Field(500, ge=1, le=10_000)
    first_page: int = Field(1, ge=0)
    watermark_param: str | None = Field(None, max_length=50, description="Query parameter for `since`.")

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the API URL must start with http:// or https://")
        return value.rstrip("/")


OPTION_MODELS: dict[SourceKind, type[BaseModel]] = {
    SourceKind.DATABASE: DatabaseOptions,
    SourceKind.FILE: FileOptions,
    SourceKind.HTTP: HttpOptions,
}


def clean_options(
    kind: SourceKind, options: dict[str, Any], settings: Settings
) -> tuple[dict[str, Any], str | None]:
    """Validated options for ``kind`` and a password found inside a database URL (to be sealed)."""
    try:
        parsed = OPTION_MODELS[kind].model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid(
            M_("options.%(where)s: %(first)s", where=where, first=first["msg"]), field=f"options.{where}"
        ) from None
    cleaned = parsed.model_dump()
    password = None
    if isinstance(parsed, DatabaseOptions):
        url, password = _split_database_url(parsed.url, settings)
        cleaned["url"] = url.render_as_string(hide_password=False)
    return cleaned, password


def _split_database_url(raw: str, settings: Settings) -> tuple[URL, str | None]:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise Invalid(
            M_("options.url is not a database URL (e.g. postgresql://user@host/db)"), field="options.url"
        ) from None
    driver = DRIVERS.get(url.drivername)
    if driver is None:
        raise Invalid(
            M_(
                "options.url: unsupported database %(drivername)r (sqlite, postgresql, mysql/mariadb)",
                drivername=url.drivername,
            ),
            field="options.url",
        )
    url = url.set(drivername=driver)
    password = url.password
    if driver == "sqlite":
        url = URL.create("sqlite", database=str(_sqlite_path(url.database or "", settings)))
    # URL.set ignores None, so the password is dropped with the NamedTuple's own _replace.
    return url._replace(password=None), None if password is None else str(password)


def _sqlite_path(database: str, settings: Settings) -> Path:
    # A SQLite source could otherwise name any file on the platform host, the platform's own included.
    root = settings.resolved_sources_dir
    path = (root / database).resolve() if not Path(database).is_absolute() else Path(database).resolve()
    if database in ("", ":memory:") or not path.is_relative_to(root):
        raise Invalid(
            M_("options.url: SQLite source files must live under %(root)s", root=root), field="options.url"
        )
    return path


def secret_of(source: Source, box: SecretBox) -> str | None:
    return box.open(source.secret_ciphertext) if source.secret_ciphertext else None


def source_engine(source: Source, settings: Settings, box: SecretBox) -> Engine:
    url = make_url(source.options["url"])
    password = secret_of(source, box)
    if password is not None:
        url = url.set(password=password)
    timeout = settings.source_timeout_seconds
    backend = url.get_backend_name()
    connect_args: dict[str, Any]
    if backend == "sqlite":
        # Opened read-only: gathering never writes to a department's database.
        path = _sqlite_path(url.database or "", settings)
        if not path.exists():
            raise SourceFailure(f"source database file {path.name} does not exist")
        url = URL.create("sqlite", database=f"file:{path}", query={"mode": "ro", "uri": "true"})
        connect_args = {"timeout": timeout, "check_same_thread": False}  # read by the batch's reader thread
    elif backend == "postgresql":
        connect_args = {
            "connect_timeout": max(1, int(timeout)),
            "options": "-c default_transaction_read_only=on",
        }
    else:
        connect_args = {"connect_timeout": max(1, int(timeout)), "read_timeout": int(timeout * 20)}
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def inbox_of(source: Source, settings: Settings) -> Path:
    return settings.resolved_inbox_dir / source.code


def describe_failure(exc: BaseException) -> str:
    """One line naming the cause, without the URL (it may carry credentials)."""
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        message = str(orig if orig is not None else exc).strip().splitlines()
        return (message[0] if message else type(exc).__name__)[:400]
    return (str(exc) or type(exc).__name__).splitlines()[0][:400]


def test_connection(source: Source, settings: Settings, box: SecretBox) -> str:
    """Reach the source and say what is there; raises :class:`SourceFailure` naming the cause."""
    if source.kind is SourceKind.DATABASE:
        return _test_database(source, settings, box)
    if source.kind is SourceKind.FILE:
        inbox = inbox_of(source, settings)
        inbox.mkdir(parents=True, exist_ok=True)
        files = sum(1 for p in inbox.iterdir() if p.is_file())
        return f"inbox {inbox} ready, {files} file(s) waiting"
    return _test_http(source, settings, box)


def _test_database(source: Source, settings: Settings, box: SecretBox) -> str:
    try:
        engine = source_engine(source, settings, box)
    except SQLAlchemyError as exc:
        raise SourceFailure(f"cannot connect: {describe_failure(exc)}") from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            tables = inspect(connection).get_table_names()
    except SQLAlchemyError as exc:
        raise SourceFailure(f"cannot connect: {describe_failure(exc)}") from None
    finally:
        engine.dispose()
    shown = ", ".join(tables[:10]) + (" …" if len(tables) > 10 else "")
    return f"connected; {len(tables)} table(s): {shown}"


def _test_http(source: Source, settings: Settings, box: SecretBox) -> str:
    options = HttpOptions.model_validate(source.options)
    try:
        response = httpx.get(
            options.url, headers=auth_headers(source, box), timeout=settings.source_timeout_seconds
        )
    except httpx.HTTPError as exc:
        raise SourceFailure(f"cannot reach the API: {describe_failure(exc)}") from None
    if response.status_code >= 500 or response.status_code in (401, 403):
        raise SourceFailure(f"the API answered HTTP {response.status_code}")
    return f"reachable; HTTP {response.status_code}"


def auth_headers(source: Source, box: SecretBox) -> dict[str, str]:
    token = secret_of(source, box)
    return {"Authorization": f"Bearer {token}"} if token else {}
