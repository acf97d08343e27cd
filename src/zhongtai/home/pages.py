"""The home page (``/``): pending work by deadline, recent activity and key figures, per role."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from zhongtai.core.http import DbSession
from zhongtai.core.web import SignedInPage
from zhongtai.home import service
from zhongtai.screen.auth import screen_only

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(page: SignedInPage, session: DbSession) -> Response:
    assert page.principal is not None
    if screen_only(page.principal):  # a wall display's account has the screen and nothing else
        return RedirectResponse("/screen", status_code=303)
    return page.render(
        "home.html",
        work=service.pending_work(session, page.principal),
        activity=service.recent_activity(session, page.principal),
        figures=service.key_figures(session),
    )
