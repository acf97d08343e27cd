"""Bulk writes into the raw zone, the fastest way each backend offers, inside the run's transaction.

SQLite: one ``executemany`` upsert per chunk. PostgreSQL: ``COPY`` into a temporary table, then one
``INSERT … SELECT … ON CONFLICT`` per chunk. Either way a row is keyed by (job, source key), so a re-run
or an overlapping window rewrites rather than duplicates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from zhongtai.ingest.mapping import MappedRow

_COLUMNS = "job_id, source_key, resource_id, batch_id, loaded_at, row_hash, data"
_SET = (
    "resource_id = excluded.resource_id, batch_id = excluded.batch_id, loaded_at = excluded.loaded_at, "
    "row_hash = excluded.row_hash, data = excluded.data"
)


class RawWriter:
    def __init__(
        self,
        connection: Connection,
        *,
        job_id: int,
        resource_id: int,
        batch_id: int,
        loaded_at: datetime,
        refresh_unchanged: bool,
    ) -> None:
        self.connection = connection
        self.job_id = job_id
        self.resource_id = resource_id
        self.batch_id = batch_id
        self.loaded_at = loaded_at
        # Full loads stamp every row with the batch so rows no longer in the source can be found after;
        # incremental loads leave unchanged rows alone.
        self.only_changed = "" if refresh_unchanged else " WHERE raw_records.row_hash <> excluded.row_hash"
        self.postgres = connection.dialect.name == "postgresql"
        if self.postgres:
            connection.exec_driver_sql(
                "CREATE TEMPORARY TABLE IF NOT EXISTS ingest_chunk "
                "(source_key text, row_hash text, data text) ON COMMIT DROP"
            )

    def write(self, rows: list[MappedRow]) -> None:
        if not rows:
            return
        if self.postgres:
            self._write_postgres(rows)
        else:
            self._write_sqlite(rows)

    def _write_sqlite(self, rows: list[MappedRow]) -> None:
        # The same text SQLAlchemy's DateTime stores on SQLite, so ORM reads see a normal value.
        stamp = self.loaded_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        job, resource, batch = self.job_id, self.resource_id, self.batch_id
        self.connection.exec_driver_sql(
            f"INSERT INTO raw_records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - constants only
            f"ON CONFLICT (job_id, source_key) DO UPDATE SET {_SET}{self.only_changed}",
            [(job, row.key, resource, batch, stamp, row.row_hash, row.data_json) for row in rows],
        )

    def _write_postgres(self, rows: list[MappedRow]) -> None:
        raw = self.connection.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            with cursor.copy("COPY ingest_chunk (source_key, row_hash, data) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((row.key, row.row_hash, row.data_json))
            cursor.execute(
                f"INSERT INTO raw_records ({_COLUMNS}) "  # noqa: S608 - constants only
                "SELECT %s, source_key, %s, %s, %s, row_hash, data::json FROM ingest_chunk "
                f"ON CONFLICT (job_id, source_key) DO UPDATE SET {_SET}{self.only_changed}",
                (self.job_id, self.resource_id, self.batch_id, self.loaded_at),
            )
            cursor.execute("TRUNCATE ingest_chunk")

    def remove_unseen(self) -> int:
        """After a full load: drop the job's rows this batch did not see (deleted at the source)."""
        result = self.connection.exec_driver_sql(
            "DELETE FROM raw_records WHERE job_id = %s AND batch_id <> %s"
            if self.postgres
            else "DELETE FROM raw_records WHERE job_id = ? AND batch_id <> ?",
            (self.job_id, self.batch_id),
        )
        return int(result.rowcount or 0)
