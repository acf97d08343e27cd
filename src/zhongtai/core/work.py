"""What the home page lists: a piece of work waiting for the signed-in user, from any domain.

Each domain's service offers ``pending_for(session, principal) -> list[WorkItem]``; the home page puts them
together. Nothing here imports a domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class WorkItem:
    kind: str  # a catalog label: what sort of work (e.g. ``home.work.application``)
    title: str  # what it is about, in the data's own words
    href: str  # where the work is done
    action: str  # a catalog label: what to do (e.g. ``home.do.approve``)
    due: datetime | None = None  # a deadline, if the work has one
    reference: str = ""  # its number or code
