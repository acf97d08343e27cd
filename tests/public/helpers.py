"""A stand-in for the population base's capabilities (the real path through the gateway has its own test),
and a signed-in citizen."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fastapi.testclient import TestClient
from stdnum.cn import ric


def an_id(n: int, born: str = "19900101") -> str:
    stem = f"340104{born}{n:03d}"
    return stem + ric.calc_check_digit(stem + "0")


@dataclass
class Resident:
    id_number: str
    name: str
    mobile: str
    household: str


@dataclass(frozen=True)
class Firm:
    credit_code: str
    representative: str
    representative_id: str
    mobile: str


@dataclass
class FakeRegister:
    """Answers like ``person.verify``, ``person.by-id`` and ``entity.verify``: yes/no only, the household
    by ID number."""

    residents: list[Resident] = field(default_factory=list)
    calls: int = 0
    firms: list[Firm] = field(default_factory=list)
    staff: dict[str, list[Resident]] = field(default_factory=dict)  # insured employees by employer name

    async def entity_matches(
        self, credit_code: str, representative: str, representative_id: str, mobile: str, end_user: str
    ) -> bool:
        self.calls += 1
        return Firm(credit_code, representative, representative_id, mobile) in self.firms

    async def insured(self, employer: str, end_user: str) -> list[tuple[str, str]]:
        self.calls += 1
        return [(r.name, r.id_number) for r in self.staff.get(employer, [])]

    def _find(self, id_number: str) -> Resident | None:
        return next((r for r in self.residents if r.id_number == id_number), None)

    async def matches(self, id_number: str, name: str, mobile: str, end_user: str) -> bool:
        self.calls += 1
        found = self._find(id_number)
        return found is not None and (found.name, found.mobile) == (name, mobile)

    async def household(self, id_number: str, end_user: str) -> str | None:
        self.calls += 1
        found = self._find(id_number)
        return found.household if found else None

    async def name_matches(self, id_number: str, name: str, end_user: str) -> bool:
        self.calls += 1
        found = self._find(id_number)
        return found is not None and found.name == name

    async def in_household(self, id_number: str, name: str, household: str, end_user: str) -> bool:
        self.calls += 1
        found = self._find(id_number)
        return found is not None and (found.name, found.household) == (name, household)


WANG = Resident(an_id(1), "王小明", "13800001111", "340104H0001")
WANG_CHILD = Resident(an_id(2, "20150601"), "王乐乐", "13800002222", "340104H0001")
NEIGHBOUR = Resident(an_id(3), "李四", "13800003333", "340104H0002")


def register(client: TestClient) -> FakeRegister:
    fake = FakeRegister([WANG, WANG_CHILD, NEIGHBOUR])
    client.app.state.identity = fake  # type: ignore[attr-defined]
    return fake


def csrf(client: TestClient, path: str = "/m/login") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def last_code(client: TestClient) -> str:
    inbox = client.get("/m/inbox")
    found = re.search(r"验证码 (\d{6})", inbox.text)
    assert found, inbox.text[:500]
    return found.group(1)


def start(client: TestClient, resident: Resident, **override: str) -> tuple[int, str]:
    body = {
        "csrf_token": csrf(client),
        "id_number": resident.id_number,
        "name": resident.name,
        "mobile": resident.mobile,
        **override,
    }
    answer = client.post("/m/login", data=body)
    return answer.status_code, answer.text


def sign_in(client: TestClient, resident: Resident) -> None:
    status, text = start(client, resident)
    assert status == 200, text[:800]
    pending = re.search(r'name="pending" value="([^"]+)"', text)
    assert pending
    answer = client.post(
        "/m/login/code",
        data={"csrf_token": csrf(client), "pending": pending.group(1), "code": last_code(client)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/m/code", answer.text[:500]
