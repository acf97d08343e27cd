"""Checking a citizen's real name against the population base, the way any department's app would: signed
calls to the platform's own capabilities (``person.verify`` answers only match / no match;
``person.by-id`` returns what the grant allows), as the app whose key the settings name, for the purpose it
subscribed with. The gateway checks the subscription and grant and audits each call with the person as its
subject. In-process (the ASGI app itself) when no platform address is configured."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from starlette.types import ASGIApp

from zhongtai.core.errors import M_, Unavailable
from zhongtai.core.settings import Settings
from zhongtai.gateway.client import GatewaySigner

VERIFY = "person.verify"
LOOKUP = "person.by-id"
ENTITY_VERIFY = "entity.verify"
INSURED = "social.insured"  # 社会保险参保信息 by employer: an enterprise's insured employees
EMPLOYER_ITEM, INSURANCE_STATUS_ITEM, INSURED_NOW = "单位名称", "参保状态", "正常参保"
MAX_INSURED = 5_000
ID_ITEM, NAME_ITEM, MOBILE_ITEM, HOUSEHOLD_ITEM = "公民身份号码", "姓名", "联系电话", "户号"
CREDIT_ITEM, REPRESENTATIVE_ITEM, REPRESENTATIVE_ID_ITEM = (
    "统一社会信用代码",
    "法定代表人",
    "法定代表人身份号码",
)


class IdentityCheck(Protocol):
    """What the public side asks of the population base (each answer yes/no, or the household)."""

    async def matches(self, id_number: str, name: str, mobile: str, end_user: str) -> bool: ...

    async def household(self, id_number: str, end_user: str) -> str | None: ...

    async def in_household(self, id_number: str, name: str, household: str, end_user: str) -> bool: ...

    async def entity_matches(
        self, credit_code: str, representative: str, representative_id: str, mobile: str, end_user: str
    ) -> bool: ...

    async def name_matches(self, id_number: str, name: str, end_user: str) -> bool: ...

    async def insured(self, employer: str, end_user: str) -> list[tuple[str, str]]: ...


def _unavailable(detail: str) -> Unavailable:
    return Unavailable(
        M_("the identity check is unavailable now (%(detail)s); try again later", detail=detail),
        code="identity_check_unavailable",
    )


@dataclass(frozen=True)
class AppKey:
    key_id: str
    secret: str
    purpose: str

    @classmethod
    def read(cls, settings: Settings) -> AppKey:
        path = settings.resolved_identity_credentials
        if path is None or not path.is_file():
            raise _unavailable("no gateway key configured: ZHONGTAI_PUBLIC_IDENTITY_CREDENTIALS")
        try:
            stored = json.loads(path.read_text("utf-8"))
            return cls(str(stored["key_id"]), str(stored["secret"]), str(stored["purpose"]))
        except (ValueError, KeyError, TypeError):
            raise _unavailable("the gateway key file is not readable") from None


class GatewayIdentityCheck:
    """:class:`IdentityCheck` through the platform's gateway."""

    def __init__(self, settings: Settings, app: ASGIApp, base_url: str = "http://platform") -> None:
        self.settings, self.app, self.base_url = settings, app, base_url

    async def _call(self, method: str, path: str, end_user: str, body: Any = None) -> httpx.Response:
        key = AppKey.read(self.settings)
        signer = GatewaySigner(key.key_id, key.purpose, secret=key.secret, end_user=end_user)
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=self.base_url, timeout=10) as client:
            try:
                return await client.request(method, path, json=body, auth=signer)
            except httpx.HTTPError as exc:
                raise _unavailable(type(exc).__name__) from None

    async def matches(self, id_number: str, name: str, mobile: str, end_user: str) -> bool:
        body = {ID_ITEM: id_number, NAME_ITEM: name, MOBILE_ITEM: mobile}
        return await self._match(body, end_user)

    async def in_household(self, id_number: str, name: str, household: str, end_user: str) -> bool:
        body = {ID_ITEM: id_number, NAME_ITEM: name, HOUSEHOLD_ITEM: household}
        return await self._match(body, end_user)

    async def name_matches(self, id_number: str, name: str, end_user: str) -> bool:
        """A name and an ID number that belong together in the population base (an employee listed)."""
        return await self._match({ID_ITEM: id_number, NAME_ITEM: name}, end_user)

    async def entity_matches(
        self, credit_code: str, representative: str, representative_id: str, mobile: str, end_user: str
    ) -> bool:
        """The legal-entity base: this credit code's legal representative and registered mobile."""
        body = {
            CREDIT_ITEM: credit_code,
            REPRESENTATIVE_ITEM: representative,
            REPRESENTATIVE_ID_ITEM: representative_id,
            MOBILE_ITEM: mobile,
        }
        return await self._match(body, end_user, ENTITY_VERIFY)

    async def _match(self, body: dict[str, str], end_user: str, capability: str = VERIFY) -> bool:
        answer = await self._call("POST", f"/gw/{capability}", end_user, body)
        if answer.status_code == 422:
            return False  # a value the register cannot hold (e.g. a malformed mobile): no match
        if answer.status_code != 200:
            raise _unavailable(f"{capability} answered {answer.status_code}")
        return bool(answer.json().get("match"))

    async def insured(self, employer: str, end_user: str) -> list[tuple[str, str]]:
        """The employer's insured employees (name, ID number) from the social insurance base, page by page
        through the list capability: an enterprise imports its own staff for a resumption application."""
        found: list[tuple[str, str]] = []
        query = {EMPLOYER_ITEM: employer, INSURANCE_STATUS_ITEM: INSURED_NOW, "page_size": "100"}
        while len(found) < MAX_INSURED:
            answer = await self._call("GET", f"/gw/{INSURED}?{urlencode(query)}", end_user)
            if answer.status_code != 200:
                raise _unavailable(f"{INSURED} answered {answer.status_code}")
            page = answer.json()
            for record in page.get("records", []):
                name, number = record.get(NAME_ITEM), record.get(ID_ITEM)
                if isinstance(name, str) and isinstance(number, str) and name and number:
                    found.append((name, number))
            if not page.get("next"):
                break
            query["after"] = str(page["next"])
        return found

    async def household(self, id_number: str, end_user: str) -> str | None:
        answer = await self._call("GET", f"/gw/{LOOKUP}/{id_number}", end_user)
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise _unavailable(f"{LOOKUP} answered {answer.status_code}")
        value = answer.json().get("record", {}).get(HOUSEHOLD_ITEM)
        return str(value) if value else None
