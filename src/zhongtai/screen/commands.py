"""``zhongtai screen …``: kiosk links for wall displays, and the rollups and profiles by hand."""

from __future__ import annotations

import re

import typer

app = typer.Typer(
    help="Big screen (可视化大屏): kiosk links, rollups, risk-crowd profiles", no_args_is_help=True
)
DURATION = re.compile(r"^(\d{1,3})d$")


def _days(text: str) -> int:
    found = DURATION.match(text.strip())
    if found is None:
        raise typer.BadParameter(f"{text!r}: give the lifetime in days, e.g. 30d")
    return int(found.group(1))


@app.command("link")
def link(
    label: str = typer.Option("kiosk", "--label", help="Where the display hangs, e.g. 指挥中心北墙"),
    expires: str = typer.Option("30d", "--expires", help="Lifetime in days (1d to 366d)"),
    base_url: str = typer.Option("http://127.0.0.1:8000", "--base-url", help="The platform's address"),
) -> None:
    """Print a kiosk link: it opens the screen without signing in until it expires or is revoked
    (only its hash is kept: this is the one time the link is shown)."""
    from zhongtai.cli import CLI_ACTOR, friendly_errors, migrated_sessionmaker
    from zhongtai.core.database import transaction
    from zhongtai.screen import service

    days = _days(expires)

    @friendly_errors
    def make() -> None:
        with transaction(migrated_sessionmaker()) as session:
            made = service.create_link(session, CLI_ACTOR, label, days)
            number, until = made.link.id, made.link.expires_at
        typer.echo(f"{base_url.rstrip('/')}/screen/k/{made.token}")
        typer.echo(
            f"kiosk link {number} ({label}) until {until.isoformat()}; "
            f"revoke it with: zhongtai screen revoke {number}",
            err=True,
        )

    make()


@app.command("revoke")
def revoke(link_id: int = typer.Argument(..., min=1, help="The link's number")) -> None:
    """Revoke a kiosk link: its screens close within a minute."""
    from zhongtai.cli import CLI_ACTOR, friendly_errors, migrated_sessionmaker
    from zhongtai.core.database import transaction
    from zhongtai.screen import service

    @friendly_errors
    def stop() -> None:
        with transaction(migrated_sessionmaker()) as session:
            service.revoke_link(session, CLI_ACTOR, link_id)
        typer.echo(f"kiosk link {link_id} revoked")

    stop()


@app.command("rollup")
def rollup() -> None:
    """Advance every rollup now (the worker does it every minute; a screen every few seconds)."""
    from zhongtai.cli import friendly_errors, migrated_sessionmaker, settings
    from zhongtai.core import rollups
    from zhongtai.core.database import transaction
    from zhongtai.core.types import utcnow
    from zhongtai.figures import build_feeds

    @friendly_errors
    def advance() -> None:
        with transaction(migrated_sessionmaker()) as session:
            done = rollups.advance(session, utcnow(), build_feeds(settings()))
        typer.echo(
            f"{done.rows} events counted, {done.gauges} gauges recounted, {done.pending} ids still looked for"
        )

    advance()


@app.command("profiles")
def profiles() -> None:
    """Sweep the whole population base into the risk-crowd profiles now (the worker takes a page a minute)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from zhongtai.cli import err, friendly_errors, migrated_sessionmaker, settings
    from zhongtai.core.database import transaction
    from zhongtai.core.types import utcnow
    from zhongtai.screen import profiling

    @friendly_errors
    def sweep() -> None:
        total = 0
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=err) as bar:
            task = bar.add_task("profiles: 0 residents", total=None)
            while True:
                with transaction(migrated_sessionmaker()) as session:
                    done = profiling.sweep(session, settings(), utcnow())
                total += done.read
                bar.update(task, description=f"profiles: {total:,} residents")
                if done.wrapped:
                    break
        typer.echo(f"{total} residents profiled")

    sweep()
