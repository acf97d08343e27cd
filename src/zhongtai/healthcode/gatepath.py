"""The gate-scan API's own path, built like the gateway's: what every scan needs is cached in memory and
checked against cheap fingerprints (gates, signing keys, rule versions), driver reads instead of ORM
objects, the whole scan in one worker-thread hop, and entry records with their audit entries committed in
groups by whichever scanning thread finds the writer free — a scan answers once its group is committed
(fail closed: no record, no answer). A scan with a temperature at or above the fever line takes the full
path (its evidence recomputes the person's colour)."""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from zhongtai.core import audit
from zhongtai.core.bulk import bulk_insert
from zhongtai.core.errors import M_, NotFound, Unavailable
from zhongtai.core.security import token_digest
from zhongtai.core.settings import Settings
from zhongtai.healthcode.envelope import AK_PREFIX, EnvelopeError, open_code
from zhongtai.healthcode.gate import NotAPersonCode, decide
from zhongtai.healthcode.rules import Colour, RuleSet

log = logging.getLogger("zhongtai.healthcode.gatepath")
MAX_GROUP = 1_000
PASSAGE_COLUMNS = ("gate_id", "place_id", "subject", "at", "colour", "decision", "refusal", "temperature",
                   "direction", "plate")  # fmt: skip


@dataclass(frozen=True, slots=True)
class GateEntry:
    gate_id: int
    place_id: int
    place_code: str
    office: str


@dataclass
class _Caches:
    gates_print: tuple[Any, ...] = ()
    gates: dict[str, GateEntry] = field(default_factory=dict)
    rules_version: int = -1
    rules: RuleSet = field(default_factory=RuleSet)


GATES_PRINT = text(
    "SELECT count(*), max(g.id), max(g.revoked_at), max(p.decided_at) FROM healthcode_gates g "
    "JOIN healthcode_places p ON p.id = g.place_id"
)
GATES = text(
    "SELECT g.token_hash, g.id, p.id, p.code, p.office FROM healthcode_gates g "
    "JOIN healthcode_places p ON p.id = g.place_id WHERE g.revoked_at IS NULL AND p.status = 'approved'"
)
RULES_VERSION = text("SELECT max(version) FROM healthcode_rules")
COLOUR = text("SELECT colour, since FROM healthcode_colours WHERE subject = :subject")


class GatePath:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.caches = _Caches()
        self._mutex = threading.Lock()  # guards the pending list
        self._writer = threading.Lock()  # held by the thread committing a group
        self._pending: list[_Slot] = []

    # --- the verification (one worker-thread hop) -----------------------------------------------------

    def scan(self, key: str, given: Any, now: datetime) -> tuple[GateEntry, dict[str, Any], float]:
        """Check a scan and, unless it must take the fever path, record it (committed on return)."""
        gate, answer, fever_line = self.check(key, given.text, now)
        if answer["valid"] and given.temperature is not None and given.temperature >= fever_line:
            return gate, answer, fever_line  # the caller records it with its evidence
        subject = answer.get("subject")
        decision = answer["decision"] if answer["valid"] else "refused"
        colour = int(answer["colour"]) if answer["valid"] else None
        refusal = None if answer["valid"] else answer["stage"]
        passage = (gate.gate_id, gate.place_id, subject, now, colour, decision, refusal, given.temperature,
                   given.direction, given.plate)  # fmt: skip
        self.record(passage, audit_entry(gate, subject, decision, now))
        return gate, answer, fever_line

    def check(self, key: str, code: str, now: datetime) -> tuple[GateEntry, dict[str, Any], float]:
        """The gate, the answer of one scan and the rules' fever line (nothing written yet)."""
        from zhongtai.healthcode import service  # the trust cache lives there

        with self.engine.connect() as connection:
            gate = self._gate(connection, key)
            rules = self._rules(connection)
            fever = rules.yellow.fever_celsius
            try:
                with _session(connection) as session:
                    trust = service.trust(session, self.settings, now)
                opened = open_code(code, trust, now, (AK_PREFIX,), _revoked(connection))
                answer = decide(opened, rules)
            except EnvelopeError as exc:
                return gate, {"valid": False, "stage": exc.stage.value, "reason": exc.reason}, fever
            except NotAPersonCode as exc:
                return gate, {"valid": False, "stage": "payload", "reason": str(exc)}, fever
        body = {
            "valid": True,
            "decision": answer.decision.value,
            "colour": answer.colour,
            "masked_name": answer.masked_name,
            "subject": answer.subject or None,
        }
        return gate, body, fever

    def _gate(self, connection: Any, key: str) -> GateEntry:
        printed = tuple(connection.execute(GATES_PRINT).one())
        if printed != self.caches.gates_print:
            rows = connection.execute(GATES).all()
            self.caches.gates = {h: GateEntry(g, p, code, office) for h, g, p, code, office in rows}
            self.caches.gates_print = printed
        gate = self.caches.gates.get(token_digest(key))
        if gate is None:
            raise NotFound(M_("this gate link is unknown or was withdrawn"), code="gate_not_found")
        return gate

    def _rules(self, connection: Any) -> RuleSet:
        version = connection.execute(RULES_VERSION).scalar() or 1
        if version != self.caches.rules_version:
            from zhongtai.healthcode.colouring import current_rules

            with _session(connection) as session:
                self.caches.rules = current_rules(session)
            self.caches.rules_version = version
        return self.caches.rules

    # --- group commit, in the scanning threads themselves ------------------------------------------------

    def record(self, passage: tuple[Any, ...], entry: dict[str, Any]) -> None:
        """Returns once the entry record and its audit entry are committed (Unavailable if they cannot be).
        Group commit without a hop: the thread that finds the writer free writes everything queued so far,
        its own scan and those of threads that arrived meanwhile; the others wait for that commit. One scan
        alone costs one transaction; a crowd shares them."""
        slot = _Slot(passage, entry)
        with self._mutex:
            self._pending.append(slot)
        while not slot.done.is_set():
            if self._writer.acquire(blocking=False):
                try:
                    self._flush()
                finally:
                    self._writer.release()
            else:
                slot.done.wait(0.002)
        if slot.failed:
            raise Unavailable(
                M_("the audit trail cannot be written, so nothing was done; try again later"),
                code="audit_unavailable",
            )

    def _flush(self) -> None:
        with self._mutex:
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
        if not group:
            return
        try:
            self._write([(s.passage, s.entry) for s in group])
        except Exception as exc:  # the whole group fails closed
            log.error("gate scans not written", extra={"error": type(exc).__name__, "scans": len(group)})
            for item in group:
                item.failed = True
        for item in group:
            item.done.set()

    def _write(self, scans: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> None:
        with self.engine.begin() as connection:
            bulk_insert(connection, "healthcode_passages", PASSAGE_COLUMNS, [p for p, _ in scans])
            entries = [e for _, e in scans if e]
            if entries:
                audit.append_access(connection, entries)


@dataclass
class _Slot:
    passage: tuple[Any, ...]
    entry: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    failed: bool = False


def _revoked(connection: Any) -> Any:
    """Online revocation, as ``service.revoked_by_colour``, by one driver read."""
    from zhongtai.healthcode.envelope import AK_CLAIM

    def why(opened: Any) -> str | None:
        claim = opened.claims.get(AK_CLAIM)
        if not isinstance(claim, dict) or claim.get("t") != "person":
            return None
        found = connection.execute(COLOUR, {"subject": str(claim.get("s", ""))}).first()
        now_shown = Colour(found[0]).label if found else Colour.GREEN.label
        if now_shown == str(claim.get("c", "")):
            return None
        return f"the holder's colour is now {now_shown}, not what this code shows"

    return why


@contextlib.contextmanager
def _session(connection: Any) -> Any:
    from sqlalchemy.orm import Session

    session = Session(bind=connection)
    try:
        yield session
    finally:
        session.close()


def audit_entry(gate: GateEntry, subject: str | None, decision: str, now: datetime) -> dict[str, Any]:
    """The access entry of a scan that named a person (``audit.append_access`` fields)."""
    if not subject:
        return {}
    return {
        "occurred_at": now,
        "actor_user_id": None,
        "actor_username": f"gate:{gate.gate_id}",
        "department_code": gate.office,
        "event_type": "healthcode.gate.scanned",
        "target_type": "place",
        "target_id": gate.place_code,
        "outcome": "success",
        "changes": {"decision": decision},
        "request_id": None,
        "app": None,
        "purpose": "epidemic.gate",
        "grant_id": None,
        "resource_code": "-",
        "items": ["colour", "masked_name"],
        "record_count": 1,
        "subject": subject,
    }
