"""Every governance query: element and rule lookups, the clean zone's bulk reads and writes, base records,
claims, history and conflicts. Department scoping of what a caller may read lives here too."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import String, Text, any_, bindparam, delete, exists, func, insert, select, text, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from zhongtai.catalog.models import InformationItem, Resource
from zhongtai.core.bulk import bulk_insert, bulk_upsert, from_json, key_list, select_rows, utc_moment
from zhongtai.core.principal import Principal
from zhongtai.governance.models import (
    BaseClaim,
    BaseHistory,
    BaseKind,
    BaseLink,
    BaseRecord,
    BaseSource,
    CleanRecord,
    Conflict,
    DataElement,
    GovernancePass,
    GovernanceReject,
    PassStatus,
    Problem,
    ProblemEvent,
    ProblemStatus,
    QualitySnapshot,
    RuleSet,
)
from zhongtai.governance.rules import RawRow
from zhongtai.ingest.models import Job, RawRecord, Run, RunStatus
from zhongtai.orgs.models import Department

CLEAN_COLUMNS = [
    "job_id",
    "source_key",
    "resource_id",
    "pass_id",
    "batch_id",
    "rule_version",
    "data",
    "changes",
]
CLAIM_COLUMNS = ["base", "key", "source_id", "job_id", "source_key", "data", "batch_id", "observed_at"]
RECORD_COLUMNS = ["base", "key", "data", "provenance", "version", "valid_from"]
LATER_CLAIM = (
    "base_claims.observed_at < excluded.observed_at OR (base_claims.observed_at = excluded.observed_at "
    "AND (base_claims.job_id, base_claims.source_key) <= (excluded.job_id, excluded.source_key))"
)


class _Moments:
    """Timestamps as the driver returns them, converted once each: the claims and records fusion reads
    were mostly written at a few moments (one per pass)."""

    def __init__(self) -> None:
        self._seen: dict[Any, datetime] = {}

    def of(self, value: datetime | str) -> datetime:
        moment = self._seen.get(value)
        if moment is None:
            moment = self._seen[value] = utc_moment(value)
        return moment


class ClaimRow(NamedTuple):  # fusion reads millions: a tuple is quicker to make than a frozen dataclass
    source_id: int
    data: dict[str, Any]
    batch_id: int
    observed_at: datetime
    text: str | None = None  # ``data`` as the JSON text written, when at hand (a record of one claim is it)


class RecordState(NamedTuple):
    """A base record's current version. Its data and provenance stay JSON text until asked for: fusion
    mostly finds a record it fuses again unchanged, which comparing the texts shows."""

    data_json: str
    provenance_json: str
    version: int
    valid_from: datetime

    @property
    def data(self) -> dict[str, Any]:
        decoded: dict[str, Any] = from_json(self.data_json)
        return decoded

    @property
    def provenance(self) -> dict[str, Any]:
        decoded: dict[str, Any] = from_json(self.provenance_json)
        return decoded


_records = BaseRecord.__table__
# Prepared once: JSON comes back as text (type_coerce skips the column's JSON processing).
LOOKUP = select(type_coerce(_records.c.data, Text()), type_coerce(_records.c.provenance, Text())).where(
    _records.c.base == bindparam("base"), _records.c.key == bindparam("key")
)
RAW_PAGE = (
    "SELECT source_key, batch_id, data FROM raw_records WHERE job_id = ? AND source_key > ? "
    "ORDER BY source_key LIMIT ?"
)
RAW_PAGE_OF_BATCH = (
    "SELECT source_key, batch_id, data FROM raw_records WHERE job_id = ? AND source_key > ? "
    "AND batch_id = ? ORDER BY source_key LIMIT ?"
)
PAGE_STARTS = (
    "SELECT source_key FROM (SELECT source_key, row_number() OVER (ORDER BY source_key) AS n "
    "FROM raw_records WHERE job_id = ?) AS numbered WHERE n = n / ? * ? ORDER BY source_key"
)
PAGE_STARTS_OF_BATCH = (
    "SELECT source_key FROM (SELECT source_key, row_number() OVER (ORDER BY source_key) AS n "
    "FROM raw_records WHERE job_id = ? AND batch_id = ?) AS numbered WHERE n = n / ? * ? ORDER BY source_key"
)
ANALYZE_AFTER = 10_000  # claims written by a pass before fusion refreshes the statistics
CHUNK = 5_000  # keys per IN (...) list: well under SQLite's 32,766 parameters


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


_STILL_OPEN = Problem.status.in_([ProblemStatus.OPEN, ProblemStatus.ASSIGNED])


class GovernanceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self._department_codes: dict[int, str] = {}

    def _among(self, column: Any, values: Sequence[str]) -> Any:
        """``column IN values``; on PostgreSQL one array parameter (``= ANY``), so a list of thousands of
        keys is neither thousands of placeholders to parse nor a plan per list length."""
        if self.postgres:
            return column == any_(bindparam(None, list(values), type_=ARRAY(String())))
        return column.in_(values)

    # --- definitions ------------------------------------------------------------------------------

    def elements(self) -> list[DataElement]:
        """Every version of every data element, newest version of each code last."""
        return list(self.session.scalars(select(DataElement).order_by(DataElement.code, DataElement.version)))

    def current_elements(self) -> dict[str, DataElement]:
        return {element.code: element for element in self.elements()}

    def element_versions(self, code: str) -> list[DataElement]:
        return list(
            self.session.scalars(
                select(DataElement).where(DataElement.code == code).order_by(DataElement.version.desc())
            )
        )

    def rule_set(self, resource_id: int, version: int | None = None) -> RuleSet | None:
        query = select(RuleSet).where(RuleSet.resource_id == resource_id)
        if version is not None:
            return self.session.scalar(query.where(RuleSet.version == version))
        return self.session.scalar(query.order_by(RuleSet.version.desc()).limit(1))

    def rule_sets(self, resource_id: int) -> list[RuleSet]:
        return list(
            self.session.scalars(
                select(RuleSet).where(RuleSet.resource_id == resource_id).order_by(RuleSet.version.desc())
            )
        )

    def item_elements(self, resource_id: int) -> dict[str, str | None]:
        rows = self.session.execute(
            select(InformationItem.name, InformationItem.data_element).where(
                InformationItem.resource_id == resource_id
            )
        )
        return {name: element for name, element in rows}

    def resource(self, code: str) -> Resource | None:
        return self.session.scalar(select(Resource).where(Resource.code == code))

    def resource_by_id(self, resource_id: int) -> Resource:
        resource = self.session.get(Resource, resource_id)
        assert resource is not None
        return resource

    def resource_of_job(self, job_code: str) -> Resource | None:
        query = select(Resource).join(Job, Job.resource_id == Resource.id).where(Job.code == job_code)
        return self.session.scalar(query)

    def department_code(self, department_id: int) -> str:
        if department_id not in self._department_codes:  # lists ask again and again for a few departments
            code = self.session.scalar(select(Department.code).where(Department.id == department_id))
            self._department_codes[department_id] = code or ""
        return self._department_codes[department_id]

    def job_ids(self, resource_id: int) -> list[int]:
        return list(
            self.session.scalars(select(Job.id).where(Job.resource_id == resource_id).order_by(Job.id))
        )

    def run(self, run_id: int) -> Run | None:
        return self.session.get(Run, run_id)

    def base_sources(self, resource_id: int | None = None) -> list[BaseSource]:
        query = select(BaseSource).where(BaseSource.enabled.is_(True)).order_by(BaseSource.id)
        if resource_id is not None:
            query = query.where(BaseSource.resource_id == resource_id)
        return list(self.session.scalars(query))

    def all_base_sources(self) -> list[BaseSource]:
        """Every base source, enabled or not, by base and priority."""
        query = select(BaseSource).order_by(BaseSource.base, BaseSource.priority, BaseSource.id)
        return list(self.session.scalars(query))

    def base_source(self, base: BaseKind, resource_id: int, key_item: str) -> BaseSource | None:
        query = select(BaseSource).where(
            BaseSource.base == base, BaseSource.resource_id == resource_id, BaseSource.key_item == key_item
        )
        return self.session.scalar(query)

    def governed_resource_ids(self) -> list[int]:
        """Resources with a rule set or feeding a base database."""
        with_rules = select(RuleSet.resource_id)
        feeding = select(BaseSource.resource_id).where(BaseSource.enabled.is_(True))
        return sorted(set(self.session.scalars(with_rules.union(feeding))))

    # --- the raw and clean zones -------------------------------------------------------------------

    def raw_rows(self, job_id: int, batch_id: int | None, after: str, limit: int) -> list[RawRow]:
        """The next page of a job's raw rows in key order (keyset paging), optionally of one batch."""
        page = self.raw_page(job_id, batch_id, after, limit)
        return [RawRow(job_id, key, batch, from_json(data)) for key, batch, data in page]

    def raw_page(
        self, job_id: int, batch_id: int | None, after: str, limit: int
    ) -> list[tuple[str, int, str]]:
        """``raw_rows`` as (source key, batch id, JSON text), the data not decoded."""
        if batch_id is None:
            rows = select_rows(self.session.connection(), RAW_PAGE, [job_id, after, limit])
        else:
            rows = select_rows(self.session.connection(), RAW_PAGE_OF_BATCH, [job_id, after, batch_id, limit])
        return cast(list[tuple[str, int, str]], rows)  # the driver's rows, as the query selects them

    def page_starts(self, job_id: int, batch_id: int | None, page: int) -> list[str]:
        """Where each page of a job's raw rows (``page`` keys, in key order) starts: after ``""``, then
        after every ``page``-th key — the same pages ``raw_rows`` reads one after another."""
        sql = PAGE_STARTS if batch_id is None else PAGE_STARTS_OF_BATCH
        params = [job_id, page, page] if batch_id is None else [job_id, batch_id, page, page]
        return ["", *(key for (key,) in select_rows(self.session.connection(), sql, params))]

    def write_clean(self, rows: list[tuple[Any, ...]], *, new: bool = False) -> None:
        """Rows of (job_id, source_key, resource_id, pass_id, batch_id, rule_version, data, changes);
        ``new``: none of their keys can be in the clean zone (inserted, not merged)."""
        connection = self.session.connection()
        if new:
            bulk_insert(connection, "clean_records", CLEAN_COLUMNS, rows)
        else:
            bulk_upsert(connection, "clean_records", CLEAN_COLUMNS, ["job_id", "source_key"], rows)

    def hold_resource(self, resource_id: int) -> None:
        """Passes of one resource in one process, one at a time (until commit): what a pass finds empty
        when it begins stays so but for its own writes. (On SQLite the writer's lock does it.)"""
        if self.postgres:
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('zhongtai.pass.resource'), :id)"),
                {"id": resource_id},
            )
        else:
            self.take_write_lock()

    def others_running(self, resource_id: int, own_pass: int) -> bool:
        """Whether another pass of the resource is recorded running (a partitioned pass commits that)."""
        query = select(GovernancePass.id).where(
            GovernancePass.resource_id == resource_id,
            GovernancePass.status == PassStatus.RUNNING,
            GovernancePass.id != own_pass,
        )
        return self.session.execute(query.limit(1)).first() is not None

    def jobs_without_clean(self, job_ids: Sequence[int]) -> set[int]:
        """Those of the jobs with no row in the clean zone."""
        held = select(CleanRecord.job_id).where(CleanRecord.job_id == Job.id).limit(1)
        query = select(Job.id).where(Job.id.in_(list(job_ids)), ~exists(held))
        return set(self.session.scalars(query))

    def sources_without_claims(self, source_ids: Sequence[int]) -> set[int]:
        """Those of the base sources with no claim."""
        made = select(BaseClaim.key).where(BaseClaim.source_id == BaseSource.id).limit(1)
        query = select(BaseSource.id).where(BaseSource.id.in_(list(source_ids)), ~exists(made))
        return set(self.session.scalars(query))

    def drop_clean(self, job_id: int, keys: Sequence[str]) -> None:
        for part in chunks(keys):
            self.session.execute(
                delete(CleanRecord).where(
                    CleanRecord.job_id == job_id, self._among(CleanRecord.source_key, part)
                )
            )

    def clean_rows_of(self, job_id: int, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """source key -> clean data of those of ``keys`` the clean zone holds."""
        found: dict[str, dict[str, Any]] = {}
        for part in chunks(keys):
            query = select(CleanRecord.source_key, CleanRecord.data).where(
                CleanRecord.job_id == job_id, self._among(CleanRecord.source_key, part)
            )
            found.update({key: data for key, data in self.session.execute(query)})
        return found

    def clean_keys_without_raw(self, job_ids: list[int]) -> list[tuple[int, str]]:
        gone = ~exists().where(
            RawRecord.job_id == CleanRecord.job_id, RawRecord.source_key == CleanRecord.source_key
        )
        query = select(CleanRecord.job_id, CleanRecord.source_key).where(
            CleanRecord.job_id.in_(job_ids), gone
        )
        return [(job_id, key) for job_id, key in self.session.execute(query)]

    def drop_clean_without_raw(self, job_ids: list[int]) -> int:
        """Clean rows whose raw row is gone (removed from the source by a full-mode batch)."""
        gone = ~exists().where(
            RawRecord.job_id == CleanRecord.job_id, RawRecord.source_key == CleanRecord.source_key
        )
        result = self.session.execute(delete(CleanRecord).where(CleanRecord.job_id.in_(job_ids), gone))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def clean_values(self, resource_id: int, item: str, except_keys: set[tuple[int, str]]) -> dict[str, str]:
        """value -> source key of the item in the resource's clean rows, for unique rules."""
        found: dict[str, str] = {}
        query = select(CleanRecord.job_id, CleanRecord.source_key, CleanRecord.data).where(
            CleanRecord.resource_id == resource_id
        )
        for job_id, key, data in self.session.execute(query):
            value = data.get(item)
            if value not in (None, "") and (job_id, key) not in except_keys:
                found.setdefault(str(value), key)
        return found

    def batch_keys(self, job_id: int, batch_id: int) -> list[str]:
        query = select(RawRecord.source_key).where(RawRecord.job_id == job_id, RawRecord.batch_id == batch_id)
        return list(self.session.scalars(query))

    def write_rejects(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(GovernanceReject), rows)

    def clean_page(self, resource_id: int, offset: int, limit: int) -> tuple[list[CleanRecord], int]:
        base = select(CleanRecord).where(CleanRecord.resource_id == resource_id)
        total = self.session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = self.session.scalars(
            base.order_by(CleanRecord.job_id, CleanRecord.source_key).offset(offset).limit(limit)
        )
        return list(rows), total

    def clean_data(self, resource_id: int) -> Iterator[dict[str, Any]]:
        query = select(CleanRecord.data).where(CleanRecord.resource_id == resource_id)
        for (data,) in self.session.execute(query.execution_options(yield_per=10_000)):
            yield data

    def count_raw(self, job_ids: list[int]) -> int:
        if not job_ids:
            return 0
        return self.session.scalar(select(func.count()).where(RawRecord.job_id.in_(job_ids))) or 0

    def count_clean(self, resource_id: int) -> int:
        return self.session.scalar(select(func.count()).where(CleanRecord.resource_id == resource_id)) or 0

    # --- passes ------------------------------------------------------------------------------------

    def passes(self, resource_id: int, limit: int = 20) -> list[GovernancePass]:
        query = select(GovernancePass).where(GovernancePass.resource_id == resource_id)
        return list(self.session.scalars(query.order_by(GovernancePass.id.desc()).limit(limit)))

    def pass_(self, pass_id: int) -> GovernancePass | None:
        return self.session.get(GovernancePass, pass_id)

    def pass_for_run(self, run_id: int) -> GovernancePass | None:
        query = (
            select(GovernancePass).where(GovernancePass.run_id == run_id).order_by(GovernancePass.id.desc())
        )
        return self.session.scalar(query.limit(1))

    def rejects(self, pass_id: int, offset: int, limit: int) -> tuple[list[GovernanceReject], int]:
        base = select(GovernanceReject).where(GovernanceReject.pass_id == pass_id)
        total = self.session.scalar(select(func.count()).select_from(base.subquery())) or 0
        return list(
            self.session.scalars(base.order_by(GovernanceReject.id).offset(offset).limit(limit))
        ), total

    def reject_reasons(self, pass_ids: list[int]) -> list[tuple[str | None, str, int]]:
        """(item, rule id, count) of the passes' refusals, commonest first."""
        if not pass_ids:
            return []
        query = (
            select(GovernanceReject.item, GovernanceReject.rule_id, func.count())
            .where(GovernanceReject.pass_id.in_(pass_ids))
            .group_by(GovernanceReject.item, GovernanceReject.rule_id)
            .order_by(func.count().desc())
        )
        return [(item, rule, int(count)) for item, rule, count in self.session.execute(query)]

    # --- base databases ----------------------------------------------------------------------------

    def prepare_fusion(self, bucket: int | None = None) -> None:
        """Serialize fusion until commit, so the last transaction to fuse a key sees every committed
        claim. A one-process pass fuses under the exclusive lock; a partitioned pass's workers fuse
        disjoint buckets of keys (``fusion.bucket_of``) in parallel, each under the shared lock and its
        bucket's. On SQLite the writer's lock does it: taken first, before any read, so a fusion never
        reads a snapshot another writer has moved past."""
        if not self.postgres:
            self.take_write_lock()
        elif bucket is None:
            self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('zhongtai.fusion'))"))
        else:
            self.session.execute(text("SELECT pg_advisory_xact_lock_shared(hashtext('zhongtai.fusion'))"))
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('zhongtai.fusion.bucket'), :bucket)"),
                {"bucket": bucket},
            )

    def refresh_statistics(self, written: int) -> None:
        """After a big load, refresh the planner's statistics before fusion reads: tables it believes
        empty (or a tenth of what the pass wrote) get sequential scans for every key lookup. Tables it
        knows at their size are left alone: their key statistics grow with them (a key's share of
        distinct values is kept as a fraction), and ANALYZE costs a second or so a table."""
        if not self.postgres or written < ANALYZE_AFTER:
            return
        believed = self.session.execute(
            text(
                "SELECT relname, reltuples FROM pg_class WHERE oid IN "
                "(to_regclass('base_claims'), to_regclass('base_records'), to_regclass('gov_conflicts'))"
            )
        )
        stale = [str(name) for name, rows in believed if rows * 10 < written]
        if stale:  # names from the list above, never input
            self.session.execute(text(f"ANALYZE {', '.join(sorted(stale))}"))

    def take_write_lock(self) -> None:
        """SQLite: take the database's write lock now (waiting up to the busy timeout), not at the
        transaction's first write, which fails outright if another writer committed since its first
        read. A no-op statement that writes nothing still takes it. PostgreSQL: nothing to do."""
        if not self.postgres:
            self.session.execute(text("UPDATE gov_passes SET id = id WHERE id < 0"))

    def insert_claims(self, rows: list[tuple[Any, ...]]) -> None:
        """Claims on keys their source has no claim on (``write_claims``' rows)."""
        bulk_insert(self.session.connection(), "base_claims", CLAIM_COLUMNS, rows)

    def write_claims(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows of (base, key, source_id, job_id, source_key, data, batch_id, observed_at). A source's
        claim on a key is its row governed last: of a later pass, or of the same pass later in key order
        (so pages of one pass written in parallel, in any order, leave what one process would)."""
        bulk_upsert(
            self.session.connection(),
            "base_claims",
            CLAIM_COLUMNS,
            ["base", "key", "source_id"],
            rows,
            only_if=LATER_CLAIM,
        )

    def withdraw_claims(
        self, source_ids: list[int], job_id: int, source_keys: Sequence[str]
    ) -> list[tuple[str, str]]:
        """Drop the claims these rows made (they were refused); returns the (base, key) they were about."""
        withdrawn: list[tuple[str, str]] = []
        for part in chunks(source_keys):
            query = (
                delete(BaseClaim)
                .where(
                    BaseClaim.source_id.in_(source_ids),
                    BaseClaim.job_id == job_id,
                    self._among(BaseClaim.source_key, part),
                )
                .returning(BaseClaim.base, BaseClaim.key)
            )
            withdrawn.extend((str(base), key) for base, key in self.session.execute(query))
        return withdrawn

    def withdraw_source_claims(self, source_id: int) -> list[tuple[str, str]]:
        """Drop every claim of a source (switched off); returns the (base, key) they were about."""
        query = (
            delete(BaseClaim).where(BaseClaim.source_id == source_id).returning(BaseClaim.base, BaseClaim.key)
        )
        return [(str(base), key) for base, key in self.session.execute(query)]

    def withdraw_claims_without_raw(self, source_ids: list[int], job_ids: list[int]) -> list[tuple[str, str]]:
        """Drop the claims of rows gone from the raw zone (removed at the source by a full-mode batch)."""
        gone = ~exists().where(
            RawRecord.job_id == BaseClaim.job_id, RawRecord.source_key == BaseClaim.source_key
        )
        query = (
            delete(BaseClaim)
            .where(BaseClaim.source_id.in_(source_ids), BaseClaim.job_id.in_(job_ids), gone)
            .returning(BaseClaim.base, BaseClaim.key)
        )
        return [(str(base), key) for base, key in self.session.execute(query)]

    def drop_record(self, base: BaseKind, key: str) -> None:
        self.session.execute(delete(BaseRecord).where(BaseRecord.base == base, BaseRecord.key == key))

    def claims(
        self, base: BaseKind, keys: Sequence[str], except_sources: Sequence[int] = ()
    ) -> dict[str, list[ClaimRow]]:
        """Every source's claim on each key (but ``except_sources``'), as plain rows (no ORM objects:
        fusion reads millions)."""
        sql = (
            "SELECT key, source_id, data, batch_id, observed_at FROM base_claims "
            "WHERE base = ? AND key IN_KEYS"
        )
        if except_sources:  # the pass's own source ids: integers, never input
            sql += f" AND source_id NOT IN ({', '.join(str(int(s)) for s in except_sources)})"
        found: dict[str, list[ClaimRow]] = {}
        connection = self.session.connection()
        moments = _Moments()
        for part in chunks(keys):
            rows = select_rows(connection, sql, [base.value, key_list(connection, part)])
            for key, source_id, data, batch_id, observed_at in rows:
                claim = ClaimRow(source_id, from_json(data), batch_id, moments.of(observed_at), data)
                found.setdefault(key, []).append(claim)
        return found

    def has_claims(self, base: BaseKind, except_sources: Sequence[int] = ()) -> bool:
        query = select(BaseClaim.key).where(
            BaseClaim.base == base, BaseClaim.source_id.not_in(list(except_sources))
        )
        return self.session.execute(query.limit(1)).first() is not None

    def has_records(self, base: BaseKind) -> bool:
        query = select(BaseRecord.key).where(BaseRecord.base == base).limit(1)
        return self.session.execute(query).first() is not None

    def has_conflicts(self, base: BaseKind) -> bool:
        query = select(Conflict.id).where(Conflict.base == base).limit(1)
        return self.session.execute(query).first() is not None

    def record_states(self, base: BaseKind, keys: Sequence[str]) -> dict[str, RecordState]:
        """The current version of each key's base record, read straight through the driver."""
        sql = (
            "SELECT key, data, provenance, version, valid_from FROM base_records "
            "WHERE base = ? AND key IN_KEYS"
        )
        found: dict[str, RecordState] = {}
        connection = self.session.connection()
        moments = _Moments()
        for part in chunks(keys):
            rows = select_rows(connection, sql, [base.value, key_list(connection, part)])
            for key, data, provenance, version, valid_from in rows:
                found[key] = RecordState(data, provenance, version, moments.of(valid_from))
        return found

    def record(self, base: BaseKind, key: str) -> BaseRecord | None:
        return self.session.get(BaseRecord, (base, key))

    def lookup(self, base: BaseKind, key: str) -> tuple[str, str] | None:
        """(data, provenance) JSON text of a base record: the hot path, no ORM object, no JSON parsing."""
        row = self.session.execute(LOOKUP, {"base": base.value, "key": key}).first()
        return None if row is None else (row[0], row[1])

    def records_after(self, base: BaseKind, after: str, limit: int) -> list[BaseRecord]:
        query = select(BaseRecord).where(BaseRecord.base == base, BaseRecord.key > after)
        return list(self.session.scalars(query.order_by(BaseRecord.key).limit(limit)))

    def history(self, base: BaseKind, key: str) -> list[BaseHistory]:
        query = select(BaseHistory).where(BaseHistory.base == base, BaseHistory.key == key)
        return list(self.session.scalars(query.order_by(BaseHistory.valid_from.desc())))

    def version_at(self, base: BaseKind, key: str, moment: datetime) -> BaseHistory | None:
        query = select(BaseHistory).where(
            BaseHistory.base == base,
            BaseHistory.key == key,
            BaseHistory.valid_from <= moment,
            BaseHistory.valid_to > moment,
        )
        return self.session.scalar(query.limit(1))

    def claims_of(self, base: BaseKind, key: str) -> list[BaseClaim]:
        query = select(BaseClaim).where(BaseClaim.base == base, BaseClaim.key == key)
        return list(self.session.scalars(query.order_by(BaseClaim.source_id)))

    def source_labels(self) -> dict[int, tuple[str, str, str]]:
        """base source id -> (department code, resource code, resource name)."""
        query = (
            select(BaseSource.id, Department.code, Resource.code, Resource.name)
            .join(Resource, Resource.id == BaseSource.resource_id)
            .join(Department, Department.id == Resource.provider_department_id)
        )
        return {sid: (dept, code, name) for sid, dept, code, name in self.session.execute(query)}

    def write_records(self, rows: list[tuple[Any, ...]], *, new: bool = False) -> None:
        """Rows of (base, key, data, provenance, version, valid_from); ``new``: none of their keys has a
        record (inserted, not merged)."""
        connection = self.session.connection()
        if new:
            bulk_insert(connection, "base_records", RECORD_COLUMNS, rows)
        else:
            bulk_upsert(connection, "base_records", RECORD_COLUMNS, ["base", "key"], rows)

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(BaseHistory), rows)

    def base_page(
        self, base: BaseKind, query_text: str, offset: int, limit: int
    ) -> tuple[list[BaseRecord], int]:
        query = select(BaseRecord).where(BaseRecord.base == base)
        if query_text:
            query = query.where(BaseRecord.key.startswith(query_text, autoescape=True))
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(query.order_by(BaseRecord.key).offset(offset).limit(limit))
        return list(rows), total

    def count_records(self) -> dict[str, int]:
        query = select(BaseRecord.base, func.count()).group_by(BaseRecord.base)
        return {str(base): int(count) for base, count in self.session.execute(query)}

    # --- probabilistic links -------------------------------------------------------------------------

    def drop_links(self, job_ids: list[int], batch_id: int | None) -> None:
        """Links of the rows a pass governs again (the whole jobs, or one batch of them)."""
        query = delete(BaseLink).where(BaseLink.job_id.in_(job_ids))
        if batch_id is not None:
            batch_rows = select(RawRecord.source_key).where(
                RawRecord.job_id == BaseLink.job_id, RawRecord.batch_id == batch_id
            )
            query = query.where(BaseLink.source_key.in_(batch_rows.scalar_subquery()))
        self.session.execute(query)

    def add_links(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(BaseLink), rows)

    def links_to(self, base: BaseKind, key: str) -> list[BaseLink]:
        query = select(BaseLink).where(BaseLink.base == base, BaseLink.key == key)
        return list(self.session.scalars(query.order_by(BaseLink.id)))

    # --- conflicts ---------------------------------------------------------------------------------

    def conflicts_for(self, base: BaseKind, keys: Sequence[str]) -> dict[tuple[str, str], Conflict]:
        found: dict[tuple[str, str], Conflict] = {}
        for part in chunks(keys):
            query = select(Conflict).where(Conflict.base == base, self._among(Conflict.key, part))
            found.update({(c.key, c.attribute): c for c in self.session.scalars(query)})
        return found

    def add_conflicts(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(Conflict), rows)

    def conflicts(
        self, principal: Principal, open_only: bool, offset: int, limit: int, base: BaseKind | None = None
    ) -> tuple[list[Conflict], int]:
        query = select(Conflict)
        if open_only:
            query = query.where(Conflict.open.is_(True))
        if base is not None:
            query = query.where(Conflict.base == base)
        # Conflicts quote the values departments hold: the bureau's governance staff see them all; anyone
        # else, auditors included (minimum necessary), only those their own department takes part in.
        if not (principal.is_operator or principal.is_platform_reviewer):
            query = query.where(
                Conflict.departments.contains(f",{principal.department_code},", autoescape=True)
            )
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(query.order_by(Conflict.id.desc()).offset(offset).limit(limit))
        return list(rows), total

    def conflicts_of(self, base: BaseKind, key: str) -> list[Conflict]:
        query = select(Conflict).where(Conflict.base == base, Conflict.key == key)
        return list(self.session.scalars(query.order_by(Conflict.attribute)))

    # --- quality and problems ----------------------------------------------------------------------

    def add_snapshot(self, snapshot: QualitySnapshot) -> None:
        self.session.add(snapshot)

    def last_measured(self, resource_id: int) -> datetime | None:
        query = select(func.max(QualitySnapshot.measured_at)).where(
            QualitySnapshot.resource_id == resource_id
        )
        return self.session.scalar(query)

    def snapshots(self, resource_id: int, limit: int = 30) -> list[QualitySnapshot]:
        query = select(QualitySnapshot).where(QualitySnapshot.resource_id == resource_id)
        rows = list(self.session.scalars(query.order_by(QualitySnapshot.id.desc()).limit(limit)))
        return rows[::-1]

    def latest_snapshots(self, principal: Principal | None = None) -> list[tuple[QualitySnapshot, Resource]]:
        newest = select(func.max(QualitySnapshot.id)).group_by(QualitySnapshot.resource_id)
        query = (
            select(QualitySnapshot, Resource)
            .join(Resource, Resource.id == QualitySnapshot.resource_id)
            .where(QualitySnapshot.id.in_(newest))
            .order_by(Resource.code)
        )
        if principal is not None and not principal.sees_all_departments:
            query = query.where(QualitySnapshot.department_id == principal.department_id)
        return [(snapshot, resource) for snapshot, resource in self.session.execute(query)]

    def department_series(self, department_id: int) -> list[tuple[datetime, float]]:
        """Every snapshot of the department's resources, oldest first, for its chart."""
        query = (
            select(QualitySnapshot.measured_at, QualitySnapshot.score)
            .where(QualitySnapshot.department_id == department_id)
            .order_by(QualitySnapshot.measured_at)
        )
        return [(at, score) for at, score in self.session.execute(query)]

    def problems(
        self, principal: Principal, statuses: Sequence[str] | None, offset: int, limit: int
    ) -> tuple[list[Problem], int]:
        query = select(Problem)
        if statuses:
            query = query.where(Problem.status.in_(list(statuses)))
        if not principal.sees_all_departments:
            query = query.where(Problem.department_id == principal.department_id)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(query.order_by(Problem.id.desc()).offset(offset).limit(limit))
        return list(rows), total

    def open_problem_count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(Problem).where(_STILL_OPEN)) or 0

    def open_problems_of(self, department_id: int, limit: int) -> list[Problem]:
        query = select(Problem).where(_STILL_OPEN, Problem.department_id == department_id)
        return list(self.session.scalars(query.order_by(Problem.opened_at).limit(limit)))

    def problem(self, principal: Principal, problem_id: int) -> Problem | None:
        problem = self.session.get(Problem, problem_id)
        if problem is None:
            return None
        if not principal.sees_all_departments and problem.department_id != principal.department_id:
            return None
        return problem

    def problem_events(self, problem_id: int) -> list[ProblemEvent]:
        query = select(ProblemEvent).where(ProblemEvent.problem_id == problem_id).order_by(ProblemEvent.id)
        return list(self.session.scalars(query))

    def claims_against_records(
        self, source_ids: list[int]
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(claim values, fused values) for every claim of these sources, streamed."""
        query = (
            select(BaseClaim.data, BaseRecord.data)
            .join(BaseRecord, (BaseRecord.base == BaseClaim.base) & (BaseRecord.key == BaseClaim.key))
            .where(BaseClaim.source_id.in_(source_ids))
        )
        rows = self.session.execute(query.execution_options(yield_per=20_000))
        return ((claim, fused) for claim, fused in rows)

    def last_gathered(self, resource_id: int) -> datetime | None:
        """When the resource's last successful ingestion batch finished."""
        query = (
            select(func.max(Run.finished_at))
            .join(Job, Job.id == Run.job_id)
            .where(Job.resource_id == resource_id, Run.status == RunStatus.SUCCEEDED)
        )
        return self.session.scalar(query)

    def problems_of(self, resource_id: int) -> list[Problem]:
        query = select(Problem).where(Problem.resource_id == resource_id)
        return list(self.session.scalars(query.order_by(Problem.id)))

    def department(self, code: str) -> Department | None:
        return self.session.scalar(select(Department).where(Department.code == code))

    def departments_by_id(self, ids: set[int]) -> dict[int, Department]:
        if not ids:
            return {}
        query = select(Department).where(Department.id.in_(ids))
        return {d.id: d for d in self.session.scalars(query)}
