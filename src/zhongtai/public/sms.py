"""Sending a one-time code to a mobile, pluggable: production posts to the HTTP SMS gateway in the settings;
elsewhere the message goes to the log (the mobile masked, the code shown: development only) and the demo
inbox page, so the demo and tests can sign in without a phone."""

from __future__ import annotations

import logging
from typing import Protocol

import httpx
from sqlalchemy.orm import Session

from zhongtai.core.errors import M_, Unavailable
from zhongtai.core.settings import Settings
from zhongtai.public.models import SentMessage
from zhongtai.sharing.masking import mask_mobile

log = logging.getLogger("zhongtai.public.sms")


class Sender(Protocol):
    def send(self, session: Session, mobile: str, text: str) -> None: ...


class DemoInbox:
    """Development and tests: the log and the demo inbox (``/m/inbox``)."""

    def send(self, session: Session, mobile: str, text: str) -> None:
        session.add(SentMessage(mobile=mobile, text=text))
        log.info("text message (development sender)", extra={"mobile": mask_mobile(mobile), "text": text})


class HttpGateway:
    """Production: ``POST {public_sms_url}`` with JSON ``{"mobile", "text"}`` and a bearer token."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url, self.token = url, token

    def send(self, session: Session, mobile: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            answer = httpx.post(self.url, json={"mobile": mobile, "text": text}, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            log.warning("SMS gateway unreachable", extra={"error": type(exc).__name__})
            raise _not_sent() from None
        if answer.status_code >= 300:
            log.warning("SMS gateway refused", extra={"status": answer.status_code})
            raise _not_sent()


def _not_sent() -> Unavailable:
    return Unavailable(
        M_("the text message could not be sent; try again in a minute"), code="sms_unavailable"
    )


def sender_for(settings: Settings) -> Sender:
    if settings.public_sms_url:
        token = settings.public_sms_token.get_secret_value() if settings.public_sms_token else None
        return HttpGateway(settings.public_sms_url, token)
    if settings.env == "production":
        raise Unavailable(
            M_("no SMS gateway is configured: set ZHONGTAI_PUBLIC_SMS_URL"), code="sms_unavailable"
        )
    return DemoInbox()
