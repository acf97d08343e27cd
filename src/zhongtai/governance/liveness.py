"""Whether the process running a partitioned pass is still there.

A partitioned pass commits its pass row as ``running`` before its pages are written (the workers refer
to it). If the process running it is killed, nothing would ever finish that row, and the pass would look
as if it were still running. So while it runs, that process holds a lock which is let go of when the
process dies: a PostgreSQL session advisory lock on the pass's id (whichever machine the process is on),
or, on SQLite, an ``flock`` on a file beside the database (one machine by nature). A pass that starts
later for the same resource tries the lock of every pass still marked running: one it can take belongs
to a process that is gone, and that pass is recorded as failed (``reap_interrupted``).

A one-process pass needs none of this: it is one transaction, and its row is committed with its end.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.database import transaction
from zhongtai.core.types import utcnow
from zhongtai.governance.models import GovernancePass, PassStatus

INTERRUPTED = "interrupted: the process running this pass stopped before it finished"
_LOCKS = "hashtext('zhongtai.pass')"  # the advisory locks' first key: a namespace of their own


class PassHold:
    """Held by the process running a partitioned pass, from before its ``running`` row is committed
    until its end: ``take(pass_id)`` in the transaction that records the pass, ``release()`` after."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pass_id = 0
        self.connection: Connection | None = None
        self.file: int | None = None
        self.path: Path | None = None

    def take(self, pass_id: int) -> None:
        self.pass_id = pass_id
        if self.engine.dialect.name == "postgresql":
            self.connection = self.engine.connect()
            self.connection.execute(text(f"SELECT pg_advisory_lock({_LOCKS}, :id)"), {"id": pass_id})
            self.connection.commit()  # a session lock: it outlives the transaction
            return
        self.path = _lock_file(self.engine, pass_id)
        self.file = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.execute(
                    text(f"SELECT pg_advisory_unlock({_LOCKS}, :id)"), {"id": self.pass_id}
                )
                self.connection.commit()
            except Exception:  # whatever failed, the session must not keep the lock
                self.connection.invalidate()  # its session ends, and the lock with it
            self.connection.close()
            self.connection = None
        if self.file is not None:
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            os.close(self.file)  # closing the file lets go of the flock
            self.file = None

    def __enter__(self) -> PassHold:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def reap_interrupted(factory: sessionmaker[Session], resource_id: int) -> list[int]:
    """Passes of the resource still marked running whose process is gone, recorded as failed; returns
    their ids."""
    engine = factory.kw["bind"]
    with transaction(factory) as session:
        running = session.scalars(
            select(GovernancePass).where(
                GovernancePass.resource_id == resource_id, GovernancePass.status == PassStatus.RUNNING
            )
        ).all()
        reaped = []
        for governed in running:
            if _gone(engine, governed.id):
                governed.status, governed.error, governed.finished_at = (
                    PassStatus.FAILED,
                    INTERRUPTED,
                    utcnow(),
                )
                reaped.append(governed.id)
        return reaped


def _gone(engine: Engine, pass_id: int) -> bool:
    """Whether nobody holds the pass's lock (its process ended without finishing it)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            taken = connection.scalar(text(f"SELECT pg_try_advisory_lock({_LOCKS}, :id)"), {"id": pass_id})
            if taken:
                connection.execute(text(f"SELECT pg_advisory_unlock({_LOCKS}, :id)"), {"id": pass_id})
            connection.commit()
            return bool(taken)
    path = _lock_file(engine, pass_id)
    try:
        handle = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True  # made before the pass's row was committed and removed only after its end
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(handle)
    path.unlink(missing_ok=True)
    return True


def _lock_file(engine: Engine, pass_id: int) -> Path:
    database = engine.url.database
    assert database, "a partitioned pass needs a database file other processes can open"
    return Path(f"{database}.pass-{pass_id}.lock")
