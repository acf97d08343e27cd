"""The daily check-in: symptoms turn the code yellow with the person's own declaration as the reason;
one check-in a day; a family member's check-in is the citizen's to make and theirs alone."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.public.helpers import WANG, WANG_CHILD, csrf, register, sign_in


def test_symptoms_turn_the_code_yellow_with_the_declaration_as_reason(client: TestClient) -> None:
    register(client)
    sign_in(client, WANG)
    token = csrf(client, "/m/checkin")
    answer = client.post("/m/checkin", data={"csrf_token": token, "symptoms": ["fever", "cough"]})
    assert answer.status_code == 200 and "黄码" in answer.text and "本人申报" in answer.text
    assert "健康打卡申报有症状" in answer.text
    again = client.post("/m/checkin", data={"csrf_token": token})
    assert again.status_code == 409 and "今天已打卡" in again.text


def test_an_unknown_symptom_is_refused_naming_it(client: TestClient) -> None:
    register(client)
    sign_in(client, WANG)
    answer = client.post(
        "/m/checkin", data={"csrf_token": csrf(client, "/m/checkin"), "symptoms": "headache"}
    )
    assert answer.status_code == 422 and "headache" in answer.text


def test_a_family_members_check_in(client: TestClient) -> None:
    register(client)
    sign_in(client, WANG)
    added = client.post(
        "/m/family",
        data={
            "csrf_token": csrf(client, "/m/family"),
            "id_number": WANG_CHILD.id_number,
            "name": WANG_CHILD.name,
            "relation": "child",
        },
    )
    member = re.search(r'href="/m/code/family/(\d+)"', added.text)
    assert member
    token = csrf(client, f"/m/checkin?member={member.group(1)}")
    done = client.post("/m/checkin", data={"csrf_token": token, "member": member.group(1)})
    assert done.status_code == 200 and "绿码" in done.text
    assert "绿码" in client.get("/m/code").text  # the citizen's own code is untouched
    assert client.post("/m/checkin", data={"csrf_token": token, "member": "999"}).status_code == 404
