"""Bulk writes into the raw zone, the fastest way each backend offers, inside the run's transaction.

SQLite: one ``executemany`` upsert per chunk. PostgreSQL: on a job's first load ``COPY`` straight into
the raw zone; otherwise ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT`` per
chunk. Either way a row is keyed by (job, source key), so a re-run or an overlapping window rewrites
rather than duplicates.
"""

from __future__ import annotations

import io
from datetime import datetime
from itertools import repeat
from typing import Any

import polars as pl
import psycopg
from sqlalchemy import Connection

_COLUMNS = "job_id, source_key, batch_id, loaded_at, row_hash, data"
_SET = (
    "batch_id = excluded.batch_id, loaded_at = excluded.loaded_at, "
    "row_hash = excluded.row_hash, data = excluded.data"
)


class RawWriter:
    def __init__(
        self,
        connection: Connection,
        *,
        job_id: int,
        batch_id: int,
        loaded_at: datetime,
        refresh_unchanged: bool,
    ) -> None:
        self.connection = connection
        self.job_id = job_id
        self.batch_id = batch_id
        self.loaded_at = loaded_at
        # Full loads stamp every row with the batch so rows no longer in the source can be found after;
        # incremental loads leave unchanged rows alone.
        self.only_changed = "" if refresh_unchanged else " WHERE raw_records.row_hash <> excluded.row_hash"
        self.postgres = connection.dialect.name == "postgresql"
        # A job's first load cannot conflict with rows already there, so it is copied straight in;
        # a key repeated within the batch still conflicts and switches the rest of the batch to upserts.
        self.copy_directly = self.postgres and self._job_is_empty()
        if self.postgres:
            connection.exec_driver_sql(
                "CREATE TEMPORARY TABLE IF NOT EXISTS ingest_chunk "
                "(source_key text, row_hash bigint, data text) ON COMMIT DROP"
            )

    def write(self, rows: pl.DataFrame) -> None:
        """Write ``rows`` (source_key, row_hash, data), one per key."""
        if not rows.height:
            return
        if self.postgres:
            self._write_postgres(rows)
        else:
            self._write_sqlite(rows)

    def _write_sqlite(self, rows: pl.DataFrame) -> None:
        # The same text SQLAlchemy's DateTime stores on SQLite, so ORM reads see a normal value.
        stamp = self.loaded_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        # Whole columns zipped in C: no per-row Python between the frame and SQLite.
        values = zip(
            repeat(self.job_id),
            rows["source_key"].to_list(),
            repeat(self.batch_id),
            repeat(stamp),
            rows["row_hash"].to_list(),
            rows["data"].to_list(),
        )
        raw = self.connection.connection.driver_connection
        assert raw is not None
        raw.executemany(
            f"INSERT INTO raw_records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "  # noqa: S608 - constants only
            f"ON CONFLICT (job_id, source_key) DO UPDATE SET {_SET}{self.only_changed}",
            values,
        )

    def _job_is_empty(self) -> bool:
        found = self.connection.exec_driver_sql(
            "SELECT 1 FROM raw_records WHERE job_id = %s LIMIT 1", (self.job_id,)
        ).first()
        return found is None

    def _write_postgres(self, rows: pl.DataFrame) -> None:
        raw = self.connection.connection.driver_connection
        assert raw is not None
        if self.copy_directly:
            try:
                with raw.transaction():  # a savepoint: a conflict undoes only this chunk's copy
                    self._copy_into_raw(raw, rows)
                return
            except psycopg.errors.UniqueViolation:
                self.copy_directly = False
        buffer = io.BytesIO()
        rows.select("source_key", "row_hash", "data").write_csv(buffer, include_header=False)
        with raw.cursor() as cursor:
            with cursor.copy(
                "COPY ingest_chunk (source_key, row_hash, data) FROM STDIN (FORMAT csv)"
            ) as copy:
                copy.write(buffer.getbuffer())
            cursor.execute(
                f"INSERT INTO raw_records ({_COLUMNS}) "  # noqa: S608 - constants only
                "SELECT %s, source_key, %s, now(), row_hash, data FROM ingest_chunk "
                f"ON CONFLICT (job_id, source_key) DO UPDATE SET {_SET}{self.only_changed}",
                (self.job_id, self.batch_id),
            )
            cursor.execute("TRUNCATE ingest_chunk")

    def _copy_into_raw(self, raw: psycopg.Connection[Any], rows: pl.DataFrame) -> None:
        buffer = io.BytesIO()
        rows.select(
            pl.lit(self.job_id).alias("job_id"),
            "source_key",
            pl.lit(self.batch_id).alias("batch_id"),
            "row_hash",
            "data",
        ).write_csv(buffer, include_header=False)
        with (
            raw.cursor() as cursor,
            # loaded_at is left to its default, now(): the batch's transaction time, parsed once
            # rather than once per row.
            cursor.copy(
                "COPY raw_records (job_id, source_key, batch_id, row_hash, data) FROM STDIN (FORMAT csv)"
            ) as copy,
        ):
            copy.write(buffer.getbuffer())

    def remove_unseen(self) -> int:
        """After a full load: drop the job's rows this batch did not see (deleted at the source)."""
        result = self.connection.exec_driver_sql(
            "DELETE FROM raw_records WHERE job_id = %s AND batch_id <> %s"
            if self.postgres
            else "DELETE FROM raw_records WHERE job_id = ? AND batch_id <> ?",
            (self.job_id, self.batch_id),
        )
        return int(result.rowcount or 0)
