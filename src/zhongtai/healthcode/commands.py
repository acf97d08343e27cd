"""``zhongtai healthcode …``: verify a code offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import typer

from zhongtai.healthcode.keys import TrustError
from zhongtai.healthcode.verifier import report, trust_from_files

app = typer.Typer(
    help="Health code (安康码): keys, the trust list, offline verification", no_args_is_help=True
)


@app.command("rotate-key")
def rotate_key() -> None:
    """Issue a new code-signing certificate: listed at once, signing after the publish lead; the old one
    keeps verifying until its last code expires."""
    from zhongtai.cli import CLI_ACTOR, migrated_sessionmaker, settings
    from zhongtai.core.database import transaction
    from zhongtai.core.types import utcnow
    from zhongtai.healthcode import service

    current = settings()
    with transaction(migrated_sessionmaker()) as session:
        key = service.rotate(session, current, CLI_ACTOR, utcnow())
        kid, starts = key.kid, key.signs_from
    typer.echo(f"new signing key {kid}: on the trust list now, signing from {starts.isoformat()}")


@app.command("trust-list")
def print_trust_list() -> None:
    """Print the current signed trust list (JSON), as GET /api/v1/healthcode/trust-list serves it."""
    from zhongtai.cli import migrated_sessionmaker, settings
    from zhongtai.core.database import transaction
    from zhongtai.core.types import utcnow
    from zhongtai.healthcode import service

    with transaction(migrated_sessionmaker()) as session:
        document = service.trust_list(session, settings(), utcnow())
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


@app.command("verify")
def verify(
    text: str = typer.Argument(..., help="The code's text (AK1:… or HC1:…), as a QR reader gives it"),
    trust_list: Path | None = typer.Option(
        None, "--trust-list", exists=True, dir_okay=False, help="The platform's trust list (JSON)"
    ),
    certificate: Path | None = typer.Option(
        None,
        "--certificate",
        exists=True,
        dir_okay=False,
        help="One signing certificate: PEM, DER or base64 DER",
    ),
    root: Path | None = typer.Option(
        None, "--root", exists=True, dir_okay=False, help="Pin the trust list's root certificate"
    ),
    at: str | None = typer.Option(None, "--at", help="Verify as of this ISO 8601 time (default: now)"),
) -> None:
    """Print one JSON object {"valid", "stage", "reason", "payload"}; exit 0 only when the code is valid."""
    if (trust_list is None) == (certificate is None):
        _fail("give exactly one of --trust-list FILE or --certificate FILE")
    try:
        moment = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        _fail(f"--at {at!r} is not an ISO 8601 time (e.g. 2026-12-08T09:30:00+08:00)")
    if moment.tzinfo is None:
        _fail("--at needs a zone offset (e.g. +08:00)")
    try:
        trust = trust_from_files(trust_list, certificate, root, moment)
    except (TrustError, ValueError, UnicodeDecodeError) as exc:
        _fail(f"cannot read the trust: {exc}")
    result = report(text, trust, moment)
    typer.echo(json.dumps(result, ensure_ascii=False))
    raise typer.Exit(0 if result["valid"] else 1)


def _fail(message: str) -> NoReturn:
    """A command that cannot verify at all (no trust, a bad clock): the same JSON shape, exit 2."""
    answer = {"valid": False, "stage": None, "reason": message, "payload": None}
    typer.echo(json.dumps(answer, ensure_ascii=False))
    raise typer.Exit(2)
