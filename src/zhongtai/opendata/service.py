"""Open data's business rules: publishing a dataset by its release rules (all or nothing, refused while a
column looks personal), new versions, and what the public may read — only datasets whose resource is
still published and open (or conditionally open), and of those only the released rows."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from zhongtai.catalog.models import OpenType, Resource, ResourceStatus
from zhongtai.core import audit
from zhongtai.core.bulk import bulk_insert, select_rows
from zhongtai.core.errors import M_, Forbidden, Invalid, NotFound
from zhongtai.core.principal import Principal
from zhongtai.core.settings import Settings
from zhongtai.core.types import as_json, utcnow
from zhongtai.governance import service as governance
from zhongtai.governance.auth import may_govern
from zhongtai.healthcode.divisions import districts
from zhongtai.opendata import rules
from zhongtai.opendata.models import OpenDataset, OpenFile, OpenRelease, OpenResource, OpenRow
from zhongtai.orgs.models import Department

OPEN_TYPES = (OpenType.OPEN, OpenType.CONDITIONAL)
LICENCES = {
    "cc-by-4.0": "Creative Commons Attribution 4.0",
    "cc0-1.0": "Creative Commons CCZero",
    "odc-by": "Open Data Commons Attribution License",
}
NAMESPACE = uuid.UUID("6f1c9a8e-3f7b-4c55-9a44-2b8f3c1d0e57")  # stable CKAN ids from our keys
BATCH = 5_000
FORMATS = ("csv", "json", "xlsx")  # a dataset's distributions: its downloads, each a CKAN resource
# The EU data theme (DCAT-AP) of a provider's datasets, by department.
THEMES = {
    "GAJ": "JUST",
    "WJW": "HEAL",
    "SCJGJ": "ECON",
    "ZJJ": "REGI",
    "MZJ": "SOCI",
    "RSJ": "SOCI",
    "ZRZYJ": "ENVI",
    "JTJ": "TRAN",
    "JYJ": "EDUC",
    "TJJ": "ECON",
    "SFJ": "JUST",
    "NYJ": "AGRI",
}


def dataset_uuid(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"dataset:{name}"))


def resource_uuid(name: str, kind: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"resource:{name}:{kind}"))


def dataset_name(resource: Resource) -> str:
    return f"zt-{resource.code.lower()}"


@dataclass(frozen=True)
class Published:
    dataset: OpenDataset
    release: OpenRelease | None  # None: no governed rows yet (the first pass releases them)
    changed: bool  # False: the released rows were the same as the current version's


def _resource(session: Session, code: str) -> Resource:
    resource = session.scalar(select(Resource).where(Resource.code == code))
    if resource is None:
        raise NotFound(M_("no resource %(code)r", code=code), code="resource_not_found")
    return resource


def _check_rules(resource: Resource, wanted: dict[str, str]) -> dict[str, str]:
    items = [item.name for item in resource.items]
    unknown = sorted(set(wanted) - set(items))
    if unknown:
        raise Invalid(M_("%(name)s is not an item of this resource", name=unknown[0]), field="rules")
    bad = sorted(item for item, action in wanted.items() if action not in (*rules.ACTIONS, *rules.COUNTS))
    if bad:
        raise Invalid(
            M_("%(name)s: the rule must be keep, drop, month, year, district or count", name=bad[0]),
            field="rules",
        )
    kept = {item: wanted.get(item, "drop") for item in items}  # an item no rule names stays in
    if rules.is_aggregated(kept):
        mixed = sorted(item for item, action in kept.items() if action not in (*rules.COUNTS, "drop"))
        if mixed:
            raise Invalid(
                M_("%(name)s: an aggregated release lets out only the items it counts by", name=mixed[0]),
                field="rules",
            )
    if all(action == "drop" for action in kept.values()):
        raise Invalid(M_("the release would let no item out"), field="rules")
    return kept


class Released:
    """The rows a release lets out, read as often as needed: streamed from the clean zone through the rules,
    or — for an aggregated release — the suppressed counts, computed once."""

    def __init__(
        self, session: Session, actor: Principal, code: str, kept: dict[str, str], names: tuple[str, ...]
    ):
        self.session, self.actor, self.code, self.kept, self.names = session, actor, code, kept, names
        self.counts: list[dict[str, Any]] | None = None
        if rules.is_aggregated(kept):
            self.counts = rules.aggregated(governance.clean_rows(session, actor, code), kept, names)

    @property
    def columns(self) -> list[str]:
        if self.counts is not None:
            return [item for item, action in self.kept.items() if action in rules.COUNTS] + [
                rules.COUNT_COLUMN
            ]
        return [item for item, action in self.kept.items() if action != "drop"]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self.counts is not None:
            yield from self.counts
            return
        for row in governance.clean_rows(self.session, self.actor, self.code):
            yield rules.released(row, self.kept, self.names)


def _element_kinds(session: Session, resource: Resource) -> dict[str, str]:
    kinds = {element.code: element.kind for element in governance.list_elements(session)}
    return {item.name: kinds.get(item.data_element or "", "") for item in resource.items}


def publish(
    session: Session,
    settings: Settings,
    actor: Principal,
    code: str,
    wanted: dict[str, str],
    license_id: str = "cc-by-4.0",
    tags: list[str] | None = None,
) -> Published:
    """Open a published resource by its release rules, or release a new version of an open one. Nothing
    is written unless the whole release passes the personal-data check."""
    resource = _resource(session, code)
    if not (actor.is_operator or may_govern(actor, resource.provider_department_id)):
        raise Forbidden(M_("only the resource's department officers and the bureau's operators open it"))
    if resource.status is not ResourceStatus.PUBLISHED or resource.open_type not in OPEN_TYPES:
        raise Invalid(
            M_("only a published resource whose open type is open or conditional can be opened"),
            code="not_openable",
        )
    if license_id not in LICENCES:
        raise Invalid(M_("unknown licence %(name)s", name=license_id), field="license_id")
    kept = _check_rules(resource, wanted)
    names = tuple(districts(settings.city_division).values())
    out = Released(session, actor, code, kept, names)
    columns = out.columns
    findings = rules.personal_columns(out, columns, _element_kinds(session, resource))
    if findings:
        first = findings[0]
        raise Invalid(
            M_(
                "column %(name)s still looks personal (%(what)s); drop or generalise it",
                name=first.column,
                what=first.what,
            ),
            field=first.column,
            code="personal_column",
        )
    digest, count = _digest(out)
    dataset = session.scalar(select(OpenDataset).where(OpenDataset.resource_id == resource.id))
    now = utcnow()
    if dataset is None:
        dataset = OpenDataset(
            resource_id=resource.id,
            name=dataset_name(resource),
            title=resource.name,
            notes=resource.abstract,
            access=resource.open_type.value,
            published_by=actor.username,
            created_at=now,
        )
        session.add(dataset)
        session.flush()
        for kind in FORMATS:
            session.add(OpenResource(uid=resource_uuid(dataset.name, kind), dataset_id=dataset.id, kind=kind))
    current = session.get(OpenRelease, dataset.release_id) if dataset.release_id else None
    settled = dataset.license_id == license_id and (tags is None or sorted(set(tags)) == dataset.tags)
    if current is not None and current.digest == digest and current.rules == kept and settled:
        return Published(dataset, current, changed=False)
    dataset.rules, dataset.license_id, dataset.modified_at = kept, license_id, now
    dataset.access = resource.open_type.value
    provider = session.get(Department, resource.provider_department_id)
    dataset.theme = THEMES.get(provider.code if provider else "", "GOVE")
    dataset.tags = sorted(set(tags if tags is not None else dataset.tags or []))
    session.flush()
    if count == 0:  # nothing governed yet: the dataset waits for its first rows
        return Published(dataset, None, changed=False)
    release = _write_release(session, actor, dataset, out, digest, now)
    if current is not None:
        drop_indexes(session, current)  # superseded: downloadable still, no longer searched
    index_release(session, release)
    dataset.release_id = release.id
    audit.record(
        session,
        actor,
        "opendata.released",
        "dataset",
        dataset.name,
        {"version": release.version, "rows": release.rows, "rules": kept},
    )
    return Published(dataset, release, changed=True)


def _digest(out: Released) -> tuple[str, int]:
    """SHA-256 over the rows the release would let out, in the clean zone's order, and their number."""
    digest, count = hashlib.sha256(), 0
    for row in out:
        digest.update((as_json(row) or "").encode())
        digest.update(b"\n")
        count += 1
    return digest.hexdigest(), count


def _write_release(
    session: Session, actor: Principal, dataset: OpenDataset, out: Released, digest: str, now: datetime
) -> OpenRelease:
    latest = select(func.max(OpenRelease.version)).where(OpenRelease.dataset_id == dataset.id)
    version = (session.scalar(latest) or 0) + 1
    release = OpenRelease(
        dataset_id=dataset.id,
        version=version,
        columns=out.columns,
        rules=out.kept,
        rows=0,
        digest=digest,
        created_at=now,
        created_by=actor.username,
    )
    session.add(release)
    session.flush()
    connection, batch, count = session.connection(), [], 0
    next_id = (session.scalar(select(func.max(OpenRow.id))) or 0) + 1
    files = Files(session, release)
    for row in out:
        text_ = as_json(row) or "{}"
        batch.append((next_id + count, release.id, count + 1, text_))
        files.add(row, text_)
        count += 1
        if len(batch) >= BATCH:
            bulk_insert(connection, "open_rows", ("id", "release_id", "row_number", "data"), batch)
            batch = []
    bulk_insert(connection, "open_rows", ("id", "release_id", "row_number", "data"), batch)
    files.finish(dataset.name)
    release.rows = count
    return release


PART = 1 << 20  # bytes of a stored file part


class CsvParts:
    """A release's CSV, written by Python's csv module as its rows are released, in parts of about a
    megabyte (UTF-8 with a byte-order mark first, so spreadsheet programs read the Chinese)."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)
        self.buffer.write("\ufeff")
        self.writer.writerow(columns)

    def add(self, row: dict[str, Any]) -> bytes | None:
        self.writer.writerow(["" if row.get(c) is None else row.get(c) for c in self.columns])
        if self.buffer.tell() < PART:
            return None
        return self.take()

    def take(self) -> bytes:
        data = self.buffer.getvalue().encode()
        self.buffer.seek(0)
        self.buffer.truncate()
        return data


class Files:
    """The release's download files (CSV and JSON) written part by part beside its rows."""

    def __init__(self, session: Session, release: OpenRelease) -> None:
        self.session, self.release = session, release
        self.csv = CsvParts(list(release.columns))
        self.json: list[str] = []
        self.json_size = 0
        self.parts = {"csv": 0, "json": 0}

    def _store(self, kind: str, data: bytes) -> None:
        self.session.add(OpenFile(release_id=self.release.id, kind=kind, part=self.parts[kind], data=data))
        self.parts[kind] += 1
        if self.parts[kind] % 20 == 0:
            self.session.flush()  # a few megabytes at a time, not the whole file in the session

    def add(self, row: dict[str, Any], text_: str) -> None:
        part = self.csv.add(row)
        if part is not None:
            self._store("csv", part)
        self.json.append(text_)
        self.json_size += len(text_)
        if self.json_size >= PART:
            self._json_part(False)

    def _json_part(self, last: bool) -> None:
        body = ",".join(self.json)
        if self.parts["json"] == 0:
            head = as_json({"version": self.release.version, "fields": self.release.columns}) or "{}"
            body = head[:-1] + ', "records": [' + body
        elif self.json:
            body = "," + body
        self._store("json", (body + ("]}" if last else "")).encode())
        self.json, self.json_size = [], 0

    def finish(self, name: str) -> None:
        self._store("csv", self.csv.take())
        self._json_part(True)
        self.session.flush()


def file_part(session: Session, release_id: int, kind: str, part: int) -> bytes | None:
    """One part of a stored download file (None past its last)."""
    found = session.scalar(
        select(OpenFile.data).where(
            OpenFile.release_id == release_id, OpenFile.kind == kind, OpenFile.part == part
        )
    )
    return None if found is None else bytes(found)


# A column name that can be written inside SQL string literals and JSON paths as it is (catalog item names
# are Chinese words; anything else is still filterable, just without an index).
SAFE_COLUMN = re.compile(r"^[^'\"\\?%\x00-\x1f]{1,100}$")


def column_sql(dialect: str, column: str) -> str:
    """A released column's value in SQL, written exactly as its index is, so the planner uses the index."""
    if not SAFE_COLUMN.match(column):
        raise ValueError("not an indexable column name")
    if dialect == "postgresql":
        return f"((data::jsonb) ->> '{column}')"
    return f"json_extract(data, '$.\"{column}\"')"


def _index_names(release: OpenRelease) -> list[tuple[str, str]]:
    return [
        (f"ix_open_rows_r{release.id}_c{n}", c) for n, c in enumerate(release.columns) if SAFE_COLUMN.match(c)
    ]


def index_release(session: Session, release: OpenRelease) -> None:
    """One partial index per released column, over this release's rows only: a filter on any column
    (``datastore_search``) and its total are index lookups, whatever the size of the dataset."""
    dialect = session.get_bind().dialect.name
    for name, column in _index_names(release):
        session.execute(
            text(  # names and release ids are ours; columns pass SAFE_COLUMN
                f"CREATE INDEX IF NOT EXISTS {name} ON open_rows ({column_sql(dialect, column)}, row_number) "
                f"WHERE release_id = {int(release.id)}"
            )
        )


def drop_indexes(session: Session, release: OpenRelease) -> None:
    for name, _ in _index_names(release):
        session.execute(text(f"DROP INDEX IF EXISTS {name}"))


def refresh(session: Session, settings: Settings, actor: Principal, code: str) -> Published | None:
    """After a governance pass: a new version of the resource's open dataset if its released rows changed
    (None: the resource is not opened)."""
    dataset = session.scalar(
        select(OpenDataset)
        .join(Resource, Resource.id == OpenDataset.resource_id)
        .where(Resource.code == code)
    )
    if dataset is None:
        return None
    return publish(
        session, settings, actor, code, dict(dataset.rules), dataset.license_id, list(dataset.tags)
    )


def dataset_name_of(session: Session, resource_name: str) -> str | None:
    """The open dataset of the (first) resource called ``resource_name``, if it was opened."""
    found = session.execute(
        select(OpenDataset.name)
        .join(Resource, Resource.id == OpenDataset.resource_id)
        .where(Resource.name == resource_name)
        .order_by(Resource.id)
        .limit(1)
    ).first()
    return str(found[0]) if found else None


# --- what the public reads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """An open dataset as the public sees it, with what its resource and provider say."""

    dataset: OpenDataset
    resource: Resource
    department: Department
    release: OpenRelease | None


def entries(session: Session) -> list[Entry]:
    """Every dataset the public may see: its resource still published and open (or conditional)."""
    query = (
        select(OpenDataset, Resource, Department)
        .join(Resource, Resource.id == OpenDataset.resource_id)
        .join(Department, Department.id == Resource.provider_department_id)
        .where(Resource.status == ResourceStatus.PUBLISHED, Resource.open_type.in_(OPEN_TYPES))
        .where(OpenDataset.release_id.is_not(None))
        .order_by(OpenDataset.name)
    )
    found = list(session.execute(query))
    releases = {
        r.id: r
        for r in session.scalars(
            select(OpenRelease).where(OpenRelease.id.in_([d.release_id for d, _, _ in found]))
        )
    }
    return [Entry(d, r, dept, releases.get(d.release_id or 0)) for d, r, dept in found]


def entry(session: Session, key: str) -> Entry:
    """One visible dataset by name or id; a hidden one is as unknown as one that never existed."""
    for found in entries(session):
        if key in (found.dataset.name, dataset_uuid(found.dataset.name)):
            return found
    raise NotFound(M_("no open dataset %(name)s", name=key[:100]), code="dataset_not_found")


def release_of(session: Session, found: Entry, version: int | None = None) -> OpenRelease:
    if version is None and found.release is not None:
        return found.release
    release = session.scalar(
        select(OpenRelease).where(OpenRelease.dataset_id == found.dataset.id, OpenRelease.version == version)
    )
    if release is None:
        raise NotFound(M_("no release %(value)s of this dataset", value=version), code="release_not_found")
    return release


def rows(session: Session, release: OpenRelease) -> Iterator[dict[str, Any]]:
    query = select(OpenRow.data).where(OpenRow.release_id == release.id).order_by(OpenRow.row_number)
    for (data,) in session.execute(query.execution_options(yield_per=10_000)):
        yield data


@dataclass(frozen=True)
class Searchable:
    """What ``datastore_search`` needs of a visible dataset, in one indexed read."""

    dataset_id: int
    access: str
    release_id: int
    columns: list[str]
    rows: int


SEARCHABLE_SQL = (
    "SELECT d.id, d.access, r.id, r.columns, r.rows FROM open_resources o "
    "JOIN open_datasets d ON d.id = o.dataset_id JOIN open_releases r ON r.id = d.release_id "
    "JOIN catalog_resources c ON c.id = d.resource_id "
    "WHERE o.uid = ? AND c.status = 'published' AND c.open_type IN ('open', 'conditional')"
)


def searchable(session: Session, resource_uid: str) -> Searchable | None:
    """The visible dataset a CKAN resource id names, with its current release (None: no such, or hidden),
    in one indexed read through the driver."""
    found = select_rows(session.connection(), SEARCHABLE_SQL, (resource_uid,))
    if not found:
        return None
    dataset_id, access, release_id, columns, rows = found[0]
    listed = json.loads(columns) if isinstance(columns, str) else list(columns)
    return Searchable(int(dataset_id), str(access), int(release_id), listed, int(rows))


class Usage:
    """Downloads and API calls counted in memory and written to their datasets at most every few seconds
    (in the transaction of the call that finds them due): a busy dataset costs no write per call. A crash
    loses at most those seconds' counts."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.pending: dict[tuple[int, str], int] = {}
        self.written = time.monotonic()
        self.lock = threading.Lock()

    def add(self, session: Session, dataset_id: int, what: str) -> None:
        with self.lock:
            key = (dataset_id, what)
            self.pending[key] = self.pending.get(key, 0) + 1
            if time.monotonic() - self.written < self.every:
                return
            due, self.pending, self.written = self.pending, {}, time.monotonic()
        for (dataset, kind), n in due.items():
            column = OpenDataset.downloads if kind == "download" else OpenDataset.api_calls
            session.execute(update(OpenDataset).where(OpenDataset.id == dataset).values({column: column + n}))


USAGE = Usage()


def count(session: Session, dataset_id: int, what: str) -> None:
    """A download or an API call, counted on the dataset (shown on its page and in CKAN's metadata)."""
    USAGE.add(session, dataset_id, what)
