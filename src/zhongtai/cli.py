"""The ``zhongtai`` command line."""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from zhongtai.core.database import (
    build_engine,
    build_sessionmaker,
    current_revision,
    ensure_migrated,
    head_revision,
    transaction,
    upgrade,
)
from zhongtai.core.errors import M_, DatabaseNotMigrated, Invalid, NotFound, ZhongtaiError
from zhongtai.core.identity.models import Role
from zhongtai.core.principal import platform_actor
from zhongtai.core.settings import Settings, get_settings
from zhongtai.core.types import utcnow
from zhongtai.healthcode import commands as healthcode_commands
from zhongtai.screen import commands as screen_commands

app = typer.Typer(help="Zhongtai (中台) city platform", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
departments_app = typer.Typer(help="Departments", no_args_is_help=True)
users_app = typer.Typer(help="Users and API tokens", no_args_is_help=True)
catalog_app = typer.Typer(help="Resource catalog import/export", no_args_is_help=True)
ingest_app = typer.Typer(help="Data ingestion (数据归集): sources, jobs, runs", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(departments_app, name="departments")
app.add_typer(users_app, name="users")
app.add_typer(catalog_app, name="catalog")
app.add_typer(ingest_app, name="ingest")
governance_app = typer.Typer(
    help="Data governance (数据治理): elements, rules, passes, quality", no_args_is_help=True
)
base_app = typer.Typer(help="Base databases (基础库): point lookups", no_args_is_help=True)
app.add_typer(governance_app, name="governance")
app.add_typer(base_app, name="base")
audit_app = typer.Typer(help="Audit trail (审计): verify, checkpoint, purge", no_args_is_help=True)
sharing_app = typer.Typer(help="Sharing and exchange (共享交换): delivery", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(sharing_app, name="sharing")
gateway_app = typer.Typer(help="Capability gateway (能力网关): signed calls", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")
app.add_typer(healthcode_commands.app, name="healthcode")
app.add_typer(screen_commands.app, name="screen")

console = Console()
err = Console(stderr=True, soft_wrap=True)  # error lines stay whole for scripts and grep
F = TypeVar("F", bound=Callable[..., Any])

CLI_ACTOR = platform_actor("cli", "command line")


def friendly_errors(func: F) -> F:
    """Turn expected failures into one readable line and a non-zero exit, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZhongtaiError as exc:
            err.print(f"[red]error:[/red] {exc.message}", highlight=False)
            raise typer.Exit(2) from None
        except DatabaseNotMigrated as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None
        except ValidationError as exc:
            err.print(f"[red]configuration error:[/red] {exc.errors()[0]['msg']}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def settings() -> Settings:
    return get_settings()


def migrated_sessionmaker() -> Any:
    engine = build_engine(settings().resolved_database_url)
    ensure_migrated(engine)
    return build_sessionmaker(engine)


# ---- db -------------------------------------------------------------------------------------------


@db_app.command("upgrade")
@friendly_errors
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    url = settings().resolved_database_url
    upgrade(url, revision)
    console.print(f"database at revision [bold]{current_revision(build_engine(url))}[/bold]")


@db_app.command("current")
@friendly_errors
def db_current() -> None:
    """Show the database's revision and the code's."""
    url = settings().resolved_database_url
    console.print(f"database: {current_revision(build_engine(url)) or 'empty'}; code: {head_revision(url)}")


# ---- serve / demo -----------------------------------------------------------------------------------


def _exit_on_terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def demo_kiosk_link(factory: sessionmaker[Session], base_url: str) -> str:
    """A kiosk link for the demo's wall display (a new one each start; the old ones expire)."""
    from zhongtai.screen import service as screen

    with transaction(factory) as session:
        made = screen.create_link(session, CLI_ACTOR, "演示大屏", 30)
    return f"{base_url}/screen/k/{made.token}"


def start_demo_summary(factory: sessionmaker[Session], show: Callable[[str], object]) -> None:
    """One line under the logins that keeps up with the demo city (records gathered, calls, deliveries),
    refreshed in place every few seconds, so the logins and the address stay on screen."""
    import threading
    import time

    from zhongtai.home.service import key_figures

    def summarize() -> None:
        while True:
            try:
                with transaction(factory) as session:
                    figures = {f.key: f.value for f in key_figures(session)}
                show(
                    f"gathered {figures.get('ingest.records', 0):,} records · "
                    f"{figures.get('governance.tables', 0)} tables governed · "
                    f"{figures.get('capabilities.calls_today', 0):,} gateway calls today · "
                    f"{figures.get('sharing.granted', 0)} grants"
                )
            except Exception:  # noqa: S110 - a summary line must never stop the demo
                pass
            time.sleep(5)

    threading.Thread(target=summarize, name="demo-summary", daemon=True).start()


def run_server(host: str, port: int, with_worker: bool | None = None) -> None:
    import signal
    import subprocess

    import uvicorn

    from zhongtai.app import create_app
    from zhongtai.core.logging import configure_logging

    current = settings()
    configure_logging(current.log_level, current.log_json, current.log_file)
    engine = build_engine(current.resolved_database_url)
    ensure_migrated(engine)
    if current.env != "production":  # the demo's proxied capability calls this process's demo backend
        from zhongtai.demo.capabilities import follow_serving_address

        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a bind-all address
        if follow_serving_address(build_sessionmaker(engine), current, f"http://{local}:{port}"):
            console.print(f"the demo's proxied capability now calls this server's demo backend (port {port})")
    engine.dispose()
    if with_worker is None:
        with_worker = not current.queue_url  # embedded queue: nobody else will run the jobs
    worker = None
    if with_worker:
        # A separate process, as in production: the worker owns signal handling and its threads.
        worker = subprocess.Popen([sys.executable, "-c", "from zhongtai.cli import main; main()", "worker"])
        started = f"background worker started (pid {worker.pid})"
        if current.log_file:  # the demo's terminal keeps its logins and address on screen
            logging.getLogger("zhongtai.cli").info(started)
        else:
            console.print(started)
    # uvicorn shuts down on SIGTERM and then raises the signal again under the handler found before it
    # started: the default would end this process at once and leave the worker running on its own.
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    try:
        uvicorn.run(create_app(current), host=host, port=port, log_config=None, proxy_headers=False)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)


@app.command()
@friendly_errors
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    worker: bool | None = typer.Option(
        None,
        "--worker/--no-worker",
        help="Also run a background worker (default: when the queue is embedded)",
    ),
) -> None:
    """Serve the web pages and the API."""
    run_server(host, port, worker)


@app.command()
@friendly_errors
def worker(threads: int = typer.Option(2, min=1, max=64, help="Jobs run at once by this worker")) -> None:
    """Run background jobs (ingestion runs, schedules). Start one per machine; they share the queue."""
    from zhongtai.core.jobs import build_queue
    from zhongtai.core.logging import configure_logging
    from zhongtai.tasks import register_all

    current = settings()
    configure_logging(current.log_level, current.log_json, current.log_file)
    context = build_queue(current, migrated_sessionmaker(), register_all)
    if context.queue.immediate:
        raise ZhongtaiError(M_("ZHONGTAI_QUEUE_URL=memory:// runs jobs inline; a worker has nothing to do"))
    if current.resolved_database_url.startswith("sqlite"):
        threads = 1  # SQLite takes one writer at a time; a second thread would only wait for the lock
    from zhongtai.core import heap

    heap.settle()
    context.queue.create_consumer(workers=threads, worker_type="thread", periodic=True).run()


@app.command()
@friendly_errors
def demo(
    seed: int = typer.Option(2020, help="Random seed; the same seed builds the same city"),
    persons: int = typer.Option(
        100_000, min=100, max=50_000_000, help="Residents in the simulated department systems"
    ),
    no_serve: bool = typer.Option(False, "--no-serve", help="Build the demo city, gather its data, and exit"),
    reset: bool = typer.Option(False, "--reset", help="Drop all data first (rebuilds the schema)"),
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Migrate, build the synthetic demo city, print its logins, and serve it."""
    from zhongtai.demo.capabilities import build_demo_capabilities, credentials_path, start_app_calls
    from zhongtai.demo.city import DEMO_PASSWORD, build_demo_city, reset_database
    from zhongtai.demo.governance import build_demo_governance
    from zhongtai.demo.healthcode import build_demo_healthcode, gate_link, residents, start_simulation
    from zhongtai.demo.opendata import build_demo_application, build_demo_opendata, start_open_data
    from zhongtai.demo.province import PATH as PROVINCE_PATH
    from zhongtai.demo.province import build_demo_report
    from zhongtai.demo.services import build_demo_cases, build_demo_services, start_services
    from zhongtai.demo.sharing import build_demo_sharing
    from zhongtai.demo.sources import ACTIVITY_MARKER, build_demo_sources, demo_enterprise
    from zhongtai.demo.subscriber import PATH as SUBSCRIBER_PATH

    if not os.environ.get("ZHONGTAI_WEBHOOK_ALLOWED_HOSTS"):  # the demo's subscriber runs on this machine
        os.environ["ZHONGTAI_WEBHOOK_ALLOWED_HOSTS"] = f"{host}/32" if host[0].isdigit() else host
    if not os.environ.get("ZHONGTAI_LOG_FILE"):  # request and delivery lines go to a file (the worker's too)
        os.environ["ZHONGTAI_LOG_FILE"] = str(settings().data_dir / "log" / "zhongtai.log")
    get_settings.cache_clear()
    url = settings().resolved_database_url
    if reset:
        reset_database(url)
    upgrade(url)
    factory = build_sessionmaker(build_engine(url))
    users = build_demo_city(factory, seed=seed, console=console)
    jobs = build_demo_sources(factory, settings(), seed, persons, console)
    governed = build_demo_governance(factory)
    applications = build_demo_sharing(factory, settings(), f"http://{host}:{port}{SUBSCRIBER_PATH}")
    console.print(f"sharing: {applications} applications in the demo city's queues")
    served = build_demo_capabilities(factory, settings(), f"http://{host}:{port}")
    build_demo_healthcode(factory, settings(), seed, persons)  # keys, capabilities, places, a gate
    build_demo_report(factory, settings(), f"http://{host}:{port}{PROVINCE_PATH}")  # 向省报送, daily
    console.print(f"services: {build_demo_services(factory, settings())} service items with their materials")
    build_demo_opendata(
        factory, settings()
    )  # the open datasets' rules; released once their rows are governed
    keyfile = credentials_path(settings())
    console.print(f"capabilities: {served} behind the gateway; the health-code app's key is in {keyfile}")
    (settings().resolved_sources_dir / ACTIVITY_MARKER).touch()
    if no_serve:
        for job in jobs:
            ingest_run(job)  # gathered here, with a progress bar
        for code in governed:
            governance_apply(
                code, batch=None, workers=None
            )  # the worker does this after each batch when serving
        build_demo_cases(factory, settings(), seed, persons)  # licences issued, cases in every state
        screen_commands.profiles()  # risk-crowd profiles from the governed population base (progress bar)
        screen_commands.rollup()
        console.print(f"open data: {build_demo_opendata(factory, settings())} datasets released at /open")
        build_demo_application(factory, settings(), seed, persons)  # approved, for the demo enterprise
    # The first batch of every job now (serving: the worker gathers every source at once, instead of
    # waiting up to an hour for a register's schedule); after it each job keeps its own schedule.
    from zhongtai.core.jobs import build_queue
    from zhongtai.ingest.tasks import enqueue_run
    from zhongtai.tasks import register_all

    context = build_queue(settings(), factory, register_all)
    for job in jobs:
        enqueue_run(context, job, "demo", "demo")
    console.print(
        f"queued the first batch of {len(jobs)} ingestion jobs; after it, each job runs on its own "
        "schedule, and each batch is governed as it lands"
    )
    table = Table(title=f"demo logins (password for all: {DEMO_PASSWORD})")
    for column in ("username", "department", "roles"):
        table.add_column(column)
    for username, department, roles in users:
        table.add_row(username, department, ", ".join(roles))
    console.print(table)
    citizens = residents(seed, persons)
    people = Table(title="demo citizens: sign in at /m (one-time code on the page /m/inbox)")
    for column in ("姓名", "身份证号", "手机号"):
        people.add_column(column)
    for resident in citizens:
        people.add_row(resident.name, resident.id_number, resident.mobile)
    console.print(people)
    enterprise = demo_enterprise(seed, persons)
    if enterprise is not None:
        console.print(
            "demo enterprise, sign in at /m/login/enterprise (code on /m/inbox): "
            f"统一社会信用代码 {enterprise.credit_code} · 法定代表人 {enterprise.representative} · "
            f"身份证号 {enterprise.representative_id} · 登记手机 {enterprise.mobile} ({enterprise.name})",
            soft_wrap=True,
        )
    if not no_serve:
        base_url = f"http://{host}:{port}"
        console.print(f"the compound's gate (a guard's phone): {gate_link(settings(), base_url)}")
        address = "" if port == 8000 else f" --base-url {base_url}"
        console.print(
            "the health-code app calls the gateway once the people are governed; call it yourself with "
            f"`zhongtai gateway call /gw/person.by-id/<ID number> --credentials {keyfile}{address}`"
        )
        console.print(
            f"the big screen: {base_url}/screen (login admin, or the wall display's account screen); "
            f"kiosk link, no sign-in: {demo_kiosk_link(factory, base_url)}",
            soft_wrap=True,
        )
        console.print(
            f"open data: {base_url}/open (twelve datasets, released as their registers are governed; "
            f"`ckanapi action package_search -r {base_url} q=医疗`); the demo enterprise's approved "
            f"application and its API key: {base_url}/m/open; deciding applications: scjgj.officer at "
            f"{base_url}/open/applications",
            soft_wrap=True,
        )
        console.print(f"log lines (requests, deliveries, jobs): {settings().log_file}")
        console.print(f"[bold green]Zhongtai demo city at {base_url}/[/bold green]  (Ctrl-C to stop)")
        start_app_calls(factory, settings(), base_url)
        start_simulation(factory, settings(), base_url, seed, persons)
        start_services(factory, settings(), seed, persons)  # cases, once the registers are governed
        start_open_data(factory, settings(), seed, persons)  # an approved application, once released
        with console.status("starting…") as status:
            start_demo_summary(factory, status.update)
            run_server(host, port)


# ---- departments ------------------------------------------------------------------------------------


@departments_app.command("list")
@friendly_errors
def departments_list(as_json: bool = typer.Option(False, "--json", help="Machine-readable output")) -> None:
    """List departments."""
    from zhongtai.orgs.service import list_departments

    with transaction(migrated_sessionmaker()) as session:
        rows = list_departments(session)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False, indent=2))
        return
    table = Table()
    for column in ("code", "name", "kind", "parent", "systems"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.code, r.name, r.kind.value, r.parent_code or "", str(r.system_count))
    console.print(table)


# ---- users ------------------------------------------------------------------------------------------


def read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise ZhongtaiError(M_("passwords differ"))
        return first
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("create")
@friendly_errors
def users_create(
    name: str,
    department: Annotated[str, typer.Option(help="Department code")],
    role: Annotated[list[Role], typer.Option(help="Role; repeat for several")],
    display_name: str = typer.Option("", help="Name shown in the UI"),
) -> None:
    """Create a user; the password is read from standard input."""
    from zhongtai.core.identity.service import create_user

    password = read_password()
    with transaction(migrated_sessionmaker()) as session:
        create_user(
            session,
            CLI_ACTOR,
            username=name,
            display_name=display_name or name,
            department_code=department,
            roles=list(role),
            password=password,
        )
    console.print(
        f"created user [bold]{name}[/bold] in {department} with roles {', '.join(r.value for r in role)}"
    )


@users_app.command("token")
@friendly_errors
def users_token(
    name: str,
    token_name: str = typer.Option("cli", "--name", help="Label for the token"),
    days: int | None = typer.Option(None, help="Expire after this many days"),
) -> None:
    """Print a new API token for user NAME (shown once; only its hash is stored)."""
    from zhongtai.core.identity.repository import IdentityRepository
    from zhongtai.core.identity.service import issue_token

    with transaction(migrated_sessionmaker()) as session:
        user = IdentityRepository(session).user_by_username(name)
        if user is None:
            raise NotFound(M_("no user %(name)r", name=name))
        token, _ = issue_token(session, CLI_ACTOR, user, token_name, days)
    typer.echo(token)


@users_app.command("list")
@friendly_errors
def users_list() -> None:
    """List users with their department and roles."""
    from zhongtai.core.identity.repository import IdentityRepository

    with transaction(migrated_sessionmaker()) as session:
        rows = [
            (u.username, u.department.code, ", ".join(r.role.value for r in u.roles), u.is_active)
            for u in IdentityRepository(session).users()
        ]
    table = Table()
    for column in ("username", "department", "roles", "active"):
        table.add_column(column)
    for username, dept, roles, active in rows:
        table.add_row(username, dept, roles, "yes" if active else "no")
    console.print(table)


# ---- catalog ----------------------------------------------------------------------------------------


def _format_for(path: Path | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    if path is not None and path.suffix.lower() in {".csv", ".json"}:
        return path.suffix.lower().lstrip(".")
    return "json"


@catalog_app.command("export")
@friendly_errors
def catalog_export(
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write; default stdout"),
    fmt: str | None = typer.Option(None, "--format", help="json or csv (default from the file name)"),
) -> None:
    """Export every catalog entry (JSON or CSV)."""
    from zhongtai.catalog import transfer

    fmt = _format_for(output, fmt)
    with transaction(migrated_sessionmaker()) as session:
        text = transfer.dump(transfer.export_records(session, CLI_ACTOR), fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


MAX_IMPORT_FILE = 50 * 1024 * 1024


@catalog_app.command("import")
@friendly_errors
def catalog_import(
    path: Path,
    fmt: str | None = typer.Option(None, "--format", help="json or csv (default from the file name)"),
) -> None:
    """Import catalog entries: all of them, or none if any is wrong."""
    from zhongtai.catalog import transfer

    if not path.is_file():
        raise ZhongtaiError(M_("no such file: %(path)s", path=path))
    if path.stat().st_size > MAX_IMPORT_FILE:
        raise ZhongtaiError(
            M_("%(path)s is larger than %(value)s MiB", path=path, value=MAX_IMPORT_FILE // (1024 * 1024))
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ZhongtaiError(M_("%(path)s is not UTF-8 text", path=path)) from None
    records = transfer.parse(text, _format_for(path, fmt))
    with console.status(f"importing {len(records)} entries"), transaction(migrated_sessionmaker()) as session:
        codes = transfer.import_records(session, CLI_ACTOR, records)
    console.print(f"imported {len(codes)} catalog entries")


# ---- ingest -------------------------------------------------------------------------------------------


@ingest_app.command("sources")
@friendly_errors
def ingest_sources() -> None:
    """List sources (connection secrets are never shown)."""
    from zhongtai.ingest import service
    from zhongtai.ingest.repository import IngestRepository

    table = Table()
    table.add_column("code", no_wrap=True)
    for column in ("name", "system", "kind", "last test"):
        table.add_column(column)
    with transaction(migrated_sessionmaker()) as session:
        for source in IngestRepository(session).sources(CLI_ACTOR):
            read = service.source_read(source)
            tested = "—" if read.last_test_ok is None else ("ok" if read.last_test_ok else "failed")
            table.add_row(read.code, read.name, read.system, read.kind.value, tested)
    console.print(table)


@ingest_app.command("test")
@friendly_errors
def ingest_test(source: str) -> None:
    """Test the connection to SOURCE."""
    from zhongtai.ingest import service

    with transaction(migrated_sessionmaker()) as session:
        outcome = service.check_source(session, settings(), CLI_ACTOR, source)
    if not outcome.ok:
        err.print(f"[red]connection failed:[/red] {outcome.message}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]ok[/green] {outcome.message}", highlight=False)


@ingest_app.command("jobs")
@friendly_errors
def ingest_jobs() -> None:
    """List ingestion jobs with their last batch."""
    from zhongtai.ingest.repository import IngestRepository

    table = Table()
    table.add_column("code", no_wrap=True)
    for column in ("source", "resource", "mode", "schedule", "watermark", "last batch"):
        table.add_column(column)
    with transaction(migrated_sessionmaker()) as session:
        repository = IngestRepository(session)
        jobs = repository.jobs(CLI_ACTOR)
        last = repository.last_runs([job.id for job in jobs])
        for job in jobs:
            run = last.get(job.id)
            summary = f"#{run.id} {run.status.value} {run.rows_written}/{run.rows_read}" if run else "—"
            table.add_row(
                job.code,
                job.source.code,
                job.resource.code,
                job.mode.value,
                job.schedule or "—",
                job.watermark or "—",
                summary,
            )
    console.print(table)


@ingest_app.command("run")
@friendly_errors
def ingest_run(job: str) -> None:
    """Run one batch of JOB now, in this process, with a progress bar."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from zhongtai.ingest.runner import run_job

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task(f"{job}: starting", total=None)

        def show(run_id: int, read: int, written: int, rejected: int) -> None:
            bar.update(
                task,
                description=f"{job} batch #{run_id}: {read:,} read, {written:,} written, "
                f"{rejected:,} rejected",
            )

        outcome = run_job(
            migrated_sessionmaker(),
            settings(),
            job,
            trigger="cli",
            requested_by=CLI_ACTOR.username,
            progress=show,
        )
    assert outcome is not None
    line = (
        f"batch #{outcome.run_id} {outcome.status.value}: {outcome.rows_read:,} read, "
        f"{outcome.rows_written:,} written, {outcome.rows_rejected:,} rejected"
    )
    if outcome.status.value != "succeeded":
        err.print(f"[red]{line}[/red]: {outcome.error}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]{line}[/green]; watermark {outcome.watermark_after or '—'}", highlight=False)


# ---- governance -------------------------------------------------------------------------------------


@governance_app.command("elements")
@friendly_errors
def governance_elements() -> None:
    """List the data elements (current versions)."""
    from zhongtai.governance import service

    table = Table()
    for column in ("code", "version", "name", "kind", "standard"):
        table.add_column(column)
    with transaction(migrated_sessionmaker()) as session:
        for element in service.list_elements(session):
            table.add_row(element.code, f"v{element.version}", element.name, element.kind, element.standard)
    console.print(table)


@governance_app.command("rules")
@friendly_errors
def governance_rules(
    resource: str,
    set_file: Path | None = typer.Option(
        None, "--set", help="JSON file with the rules to save as a new version"
    ),
    comment: str = typer.Option("", help="Note kept with the new version"),
) -> None:
    """Print RESOURCE's current rules as JSON, or save a new version from a file."""
    from zhongtai.governance import service
    from zhongtai.governance.schemas import RuleSetWrite

    with transaction(migrated_sessionmaker()) as session:
        if set_file is None:
            read = service.current_rules(session, CLI_ACTOR, resource)
        else:
            try:
                raw = json.loads(set_file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise Invalid(
                    M_("cannot read rules from %(set_file)s: %(exc)s", set_file=set_file, exc=exc)
                ) from None
            rules = service.parse_rules(raw.get("rules") if isinstance(raw, dict) else raw)
            read = service.save_rules(
                session, CLI_ACTOR, resource, RuleSetWrite(rules=rules, comment=comment)
            )
    console.print_json(data={"resource": read.resource, "version": read.version, "rules": read.rules})


@governance_app.command("apply")
@friendly_errors
def governance_apply(
    resource: str,
    batch: int | None = typer.Option(None, help="Only this ingestion batch (run id)"),
    workers: int | None = typer.Option(
        None, min=1, max=64, help="Worker processes for the rules (default: ZHONGTAI_GOVERN_WORKERS or 1)"
    ),
) -> None:
    """Govern RESOURCE's raw rows now (a pass), then measure its quality; with a progress bar."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from zhongtai.core import heap
    from zhongtai.governance.pipeline import run_pass
    from zhongtai.governance.quality import measure
    from zhongtai.governance.repository import GovernanceRepository

    factory = migrated_sessionmaker()
    heap.settle()  # as the worker does: a pass's full collections need not walk the modules' objects
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
        ) as bar:
            task = bar.add_task(f"{resource}: governing", total=None)
            outcome = run_pass(
                factory,
                resource,
                run_id=batch,
                trigger="cli",
                requested_by=CLI_ACTOR.username,
                progress=lambda rows: bar.update(task, description=f"{resource}: {rows:,} rows governed"),
                workers=workers or settings().govern_workers,
            )
    finally:
        heap.release()  # run in process (tests, scripts), the caller's objects are collectable again
    line = (
        f"{resource} pass #{outcome.pass_id} {outcome.status.value}: {outcome.raw_rows:,} raw = "
        f"{outcome.clean_rows:,} clean + {outcome.rejected_rows:,} rejected"
    )
    if outcome.worker_seconds:
        line += f" ({len(outcome.worker_seconds)} workers, CPU s each: {list(outcome.worker_seconds)})"
    if outcome.error:
        err.print(f"[red]{line}[/red]: {outcome.error}", highlight=False)
        raise typer.Exit(1)
    with transaction(factory) as session:
        found = GovernanceRepository(session).resource(resource)
        score = measure(session, found, utcnow()).score if found else None
    console.print(f"[green]{line}[/green]; quality score {score}", highlight=False)


@governance_app.command("quality")
@friendly_errors
def governance_quality(as_json: bool = typer.Option(False, "--json")) -> None:
    """Latest quality scores per department and resource."""
    from zhongtai.governance import service

    with transaction(migrated_sessionmaker()) as session:
        overview = service.quality_overview(session, CLI_ACTOR)
    if as_json:
        console.print_json(overview.model_dump_json())
        return
    table = Table(title="quality by department")
    for column in ("department", "resources", "score"):
        table.add_column(column)
    for department in overview.departments:
        table.add_row(
            f"{department.department_name} {department.department}",
            str(department.resources),
            f"{department.score}",
        )
    console.print(table)


@base_app.command("lookup")
@friendly_errors
def base_lookup(
    base: str = typer.Argument(help="person, entity, license or address"),
    key: str = typer.Argument(help="ID number, credit code, licence number or address"),
) -> None:
    """Look a record up in a base database through the lookup service, with its provenance."""
    from zhongtai.governance.lookups import BaseLookup
    from zhongtai.governance.models import BaseKind

    try:
        kind = BaseKind(base)
    except ValueError:
        raise Invalid(
            M_("no base database %(base)r: person, entity, license or address", base=base)
        ) from None
    with transaction(migrated_sessionmaker()) as session:
        view = BaseLookup(session).get(kind, key)
    if view is None:
        err.print(f"no {kind.value} record for that key")
        raise typer.Exit(1)
    console.print_json(data={"key": view.key, "data": view.data, "provenance": view.provenance})


# ---- audit and sharing ----------------------------------------------------------------------------


@audit_app.command("verify")
@friendly_errors
def audit_verify() -> None:
    """Check both hash chains against the signed checkpoints; exit 1 naming the first bad entry."""
    from zhongtai.core.audit_integrity import verify

    with migrated_sessionmaker()() as session:
        report = verify(session, settings())
    checked = ", ".join(f"{chain} {count}" for chain, count in report.checked.items())
    if report.first_bad is not None:
        err.print(f"[red]audit trail tampered:[/red] {report.first_bad}", highlight=False)
        raise typer.Exit(1)
    console.print(f"audit trail intact: {checked} entries, {report.checkpoints} signed checkpoints")


@audit_app.command("checkpoint")
@friendly_errors
def audit_checkpoint() -> None:
    """Sign each chain's head into the checkpoint file (the worker does this hourly)."""
    from zhongtai.core.audit_integrity import checkpoint

    with migrated_sessionmaker()() as session:
        written = checkpoint(session, settings())
    for point in written:
        console.print(f"{point.chain}: seq {point.seq} {point.hash[:16]}…")
    if not written:
        console.print("nothing new to checkpoint")


@audit_app.command("purge")
@friendly_errors
def audit_purge() -> None:
    """Remove entries past their retention (access ≥ 6 months, changes ≥ 3 years), up to a checkpoint."""
    from zhongtai.core.audit_integrity import purge

    with transaction(migrated_sessionmaker()) as session:
        removed = purge(session, settings())
    console.print(", ".join(f"{chain}: {count} removed" for chain, count in removed.items()))


@sharing_app.command("dispatch")
@friendly_errors
def sharing_dispatch(
    loop: bool = typer.Option(False, "--loop", help="Keep delivering until interrupted"),
) -> None:
    """Deliver due subscription events (one round, or continuously with --loop)."""
    from zhongtai.sharing.dispatch import dispatch_due, run_forever

    factory = migrated_sessionmaker()
    if loop and settings().nats_url:  # events flow through JetStream; run this on several machines
        import asyncio

        from zhongtai.sharing import jetstream

        asyncio.run(jetstream.run_forever(factory, settings()))
        return
    if loop:
        run_forever(factory, settings())
        return
    stats = dispatch_due(factory, settings())
    console.print(
        f"delivered {stats.delivered}, failed {stats.failed}, dead-lettered {stats.dead}, held {stats.held}"
    )


@gateway_app.command("nginx")
@friendly_errors
def gateway_nginx(
    prefix: Path = typer.Option(Path("/var/lib/zhongtai/nginx"), help="nginx's folder (config, pid, temp)"),
    listen: str = typer.Option("127.0.0.1:8080", help="Where nginx listens (the address callers use)"),
    platform: str = typer.Option("127.0.0.1:8000", help="Where the platform serves (host:port)"),
    watch: bool = typer.Option(False, "--watch", help="Keep the file in step with the registry, reloading"),
    nginx: str = typer.Option("nginx", help="The nginx binary, for reloads"),
) -> None:
    """Write the platform's nginx configuration from the capability registry: nginx passes every request
    to the platform, and carries proxied calls whose answers need no masking after the gateway's checks
    and audit record (X-Accel-Redirect). Needs ZHONGTAI_GATEWAY_ACCEL_SECRET on both sides."""
    import subprocess

    from zhongtai.gateway import accel

    secret = settings().gateway_accel_secret
    if secret is None:
        raise ZhongtaiError(
            M_("set ZHONGTAI_GATEWAY_ACCEL_SECRET (the platform's too) before making nginx's configuration")
        )
    proxy = accel.Proxy(listen, platform, prefix.resolve(), secret.get_secret_value())
    factory = migrated_sessionmaker()
    version, changed = accel.write_config(factory, proxy)
    console.print(f"{proxy.config} ({'written' if changed else 'unchanged'}, registry version {version})")
    console.print(f"start it with: {nginx} -p {proxy.prefix} -c {proxy.config}")
    if watch:

        def reload() -> None:
            command = proxy.reload_command(nginx)  # the operator's own binary and folder
            done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
            console.print(f"nginx reloaded ({done.returncode}) {done.stderr.strip()[:200]}")

        accel.follow(factory, proxy, reload)


@gateway_app.command("call")
@friendly_errors
def gateway_call(
    path: str = typer.Argument(..., help="Gateway path, e.g. /gw/person.by-id/340104199003070014"),
    credentials: Path = typer.Option(..., exists=True, dir_okay=False, help="JSON: key_id, secret, purpose"),
    body: str | None = typer.Option(None, help="JSON body (sends a POST)"),
    end_user: str | None = typer.Option(None, help="The app's id of the person it acts for"),
    base_url: str = typer.Option("http://127.0.0.1:8000", help="The platform's address"),
) -> None:
    """Call a capability as an app, signing with its key (RFC 9421, http-message-signatures)."""
    import httpx

    from zhongtai.gateway.client import GatewaySigner

    try:
        stored = json.loads(credentials.read_text("utf-8"))
        signer = GatewaySigner(
            stored["key_id"], stored["purpose"], secret=stored["secret"], end_user=end_user
        )
        payload = json.loads(body) if body is not None else None
    except (ValueError, KeyError) as exc:
        raise ZhongtaiError(M_("unreadable credentials or body: %(exc)s", exc=exc)) from exc
    with httpx.Client(base_url=base_url, auth=signer, timeout=30) as client:
        try:
            answer = client.post(path, json=payload) if payload is not None else client.get(path)
        except httpx.HTTPError as exc:
            raise ZhongtaiError(
                M_("cannot reach %(base_url)s: %(name)s", base_url=base_url, name=type(exc).__name__)
            ) from exc
    console.print(f"HTTP {answer.status_code}")
    if answer.headers.get("content-type", "").startswith("application/json"):
        console.print_json(answer.text)
    else:
        console.print(answer.text)
    if answer.status_code >= 400:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
