"""The gateway's per-call reads (state version, claimed base record) on one DBAPI connection.

SQLAlchemy's connection checkout and statement execution cost ~200 µs a call here against ~17 µs for
the same indexed query through the driver itself; the gateway's budget is tens of microseconds. So the
event loop's thread keeps one driver connection in autocommit (no transaction, no snapshot held between
calls) and runs fixed, parameterized statements on it; a broken connection is replaced once. A lookup
reads the state version and the record in one statement (one snapshot, one round trip): the version
tells whether the decisions made on the cached state still stand (``gateway.app``).
On SQLite the same connection commits the audit groups written on the loop (``gateway.recorder``): a
connection's own commits leave its page cache valid, where another connection's would make every
lookup after a commit read its pages again.
Everything else (state loading, usage) goes through SQLAlchemy as usual.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from zhongtai.core.errors import M_, Unavailable

_VERSION = "SELECT version FROM gateway_state WHERE id = 1"
_CLAIMED = {
    "sqlite": "SELECT r.data FROM base_records r WHERE r.base = :base AND r.key = :key AND EXISTS "
    "(SELECT 1 FROM base_claims c WHERE c.base = :base AND c.key = :key AND c.source_id = :source)",
    "postgresql": "SELECT r.data FROM base_records r WHERE r.base = %(base)s AND r.key = %(key)s "
    "AND EXISTS (SELECT 1 FROM base_claims c "
    "WHERE c.base = %(base)s AND c.key = %(key)s AND c.source_id = %(source)s)",
}
SQL = {
    dialect: {"version": _VERSION, "claimed": claimed, "versioned": f"SELECT ({_VERSION}), ({claimed})"}
    for dialect, claimed in _CLAIMED.items()
}


class HotReads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        if engine.dialect.name not in SQL:
            raise ValueError(f"the platform database is SQLite or PostgreSQL, not {engine.dialect.name}")
        self.sql = SQL[engine.dialect.name]
        self._connection: Any = None
        self._owner: int | None = None

    def driver(self) -> Any:
        """This thread's driver connection (the event loop's; another thread gets its own)."""
        if self._connection is None or self._owner != threading.get_ident():
            pooled = self.engine.raw_connection()
            driver: Any = pooled.driver_connection
            if self.engine.dialect.name == "sqlite":
                driver.isolation_level = None  # autocommit: every SELECT sees the latest commit
                # its audit commits never checkpoint (that syncs files): the recorder does, off the loop
                driver.execute("PRAGMA wal_autocheckpoint=0")
            else:
                driver.autocommit = True
            self._connection, self._owner = pooled, threading.get_ident()
        return self._connection.driver_connection

    def _fetch(self, statement: str, params: dict[str, Any] | None = None) -> list[Any]:
        for attempt in range(2):
            try:
                # fetch all: a half-read cursor would hold a read snapshot open
                rows: list[Any] = self.driver().execute(self.sql[statement], params or {}).fetchall()
                return rows
            except Exception as exc:  # the driver's own errors: drop the connection, try a fresh one once
                self.close()
                if attempt == 1 or not _is_driver_error(exc):
                    raise Unavailable(
                        M_("the platform database is unreachable"), code="database_unavailable"
                    ) from exc
        raise AssertionError("unreachable")

    def version(self) -> int:
        return int(self._fetch("version")[0][0])

    def claimed(self, base: str, key: str, source: int) -> str | None:
        rows = self._fetch("claimed", {"base": base, "key": key, "source": source})
        return str(rows[0][0]) if rows else None

    def claimed_with_version(self, base: str, key: str, source: int) -> tuple[int, str | None]:
        """The state version and the claimed record (None if there is none), read at one moment."""
        version, data = self._fetch("versioned", {"base": base, "key": key, "source": source})[0]
        return int(version), None if data is None else str(data)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()  # never back to the pool: its settings were changed
            self._connection = None


def _is_driver_error(exc: Exception) -> bool:
    module = type(exc).__module__
    return isinstance(exc, DBAPIError) or module.startswith(("sqlite3", "psycopg"))
