"""Web login, sessions, CSRF, lockout and API tokens."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import PASSWORD, World
from zhongtai.core.identity.models import ApiToken, User
from zhongtai.core.web import SESSION_COOKIE


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "form has no CSRF token"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> int:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": "/catalog"},
        follow_redirects=False,
    )
    return response.status_code


def test_login_sets_a_session_and_pages_need_it(client: TestClient, world: World) -> None:
    assert client.get("/catalog", follow_redirects=False).headers["location"].startswith("/login")
    assert login(client, "officer_a") == 303
    cookie = client.cookies.get(SESSION_COOKIE)
    assert (cookie and "zs_" not in cookie.split(".")[0][:3]) or cookie  # signed, opaque value
    assert client.get("/catalog").status_code == 200


def test_password_is_stored_as_argon2(world: World, factory: sessionmaker[Session]) -> None:
    with factory() as session:
        user = session.scalars(select(User).where(User.username == "officer_a")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, world: World) -> None:
    token = csrf_from(client.get("/login").text)
    wrong = client.post("/login", data={"csrf_token": token, "username": "officer_a", "password": "nope"})
    unknown = client.post("/login", data={"csrf_token": token, "username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text


def test_repeated_failures_lock_the_account_name(client: TestClient, world: World) -> None:
    for _ in range(5):
        assert login(client, "officer_b", "wrong password") == 401
    # Even the right password is refused while locked.
    token = csrf_from(client.get("/login").text)
    locked = client.post("/login", data={"csrf_token": token, "username": "officer_b", "password": PASSWORD})
    assert locked.status_code == 401
    assert "登录失败次数过多" in locked.text
    assert login(client, "officer_a") == 303  # other accounts are unaffected


def test_login_without_csrf_token_is_refused(client: TestClient, world: World) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "officer_a", "password": PASSWORD})
    assert response.status_code == 403
    assert "表单校验码" in response.text
    assert client.cookies.get(SESSION_COOKIE) is None


def test_forms_need_the_sessions_csrf_token(client: TestClient, world: World) -> None:
    login(client, "officer_a")
    response = client.post("/systems/new", data={"code": "GAJ-X", "name": "x", "csrf_token": "forged"})
    assert response.status_code == 403
    missing = client.post("/systems/new", data={"code": "GAJ-X", "name": "x"})
    assert missing.status_code == 403
    token = csrf_from(client.get("/systems/new").text)
    ok = client.post(
        "/systems/new", data={"code": "GAJ-X", "name": "新系统", "csrf_token": token}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_tampered_session_cookie_is_signed_out(client: TestClient, world: World) -> None:
    login(client, "officer_a")
    value = client.cookies.get(SESSION_COOKIE)
    assert value
    client.cookies.set(SESSION_COOKIE, value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    response = client.get("/catalog", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_logout_ends_the_session_on_the_server(client: TestClient, world: World) -> None:
    login(client, "officer_a")
    stolen = client.cookies.get(SESSION_COOKIE)
    token = csrf_from(client.get("/catalog").text)
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, stolen or "")
    assert client.get("/catalog", follow_redirects=False).status_code == 303


def test_tokens_are_hashed_listed_and_revocable(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    headers = world.auth("consumer_a")
    created = client.post("/api/v1/tokens", json={"name": "etl"}, headers=headers)
    assert created.status_code == 201
    secret = created.json()["token"]
    with factory() as session:
        hashes = list(session.scalars(select(ApiToken.token_hash)))
    assert secret not in hashes and all(len(h) == 64 for h in hashes)
    listed = client.get("/api/v1/tokens", headers=headers).json()
    assert all("token" not in t for t in listed)
    new_headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=new_headers).json()["username"] == "consumer_a"
    revoked = client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/api/v1/me", headers=new_headers).status_code == 401


def test_a_token_made_on_the_page_is_shown_once_and_a_reload_makes_no_second(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    assert login(client, "consumer_a") == 303
    token = csrf_from(client.get("/tokens").text)
    made = client.post("/tokens", data={"csrf_token": token, "name": "etl-web"}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/tokens"
    shown = client.get("/tokens")
    secret = re.search(r'<code id="new-token">([^<]+)</code>', shown.text)
    assert secret and shown.headers["cache-control"] == "no-store"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret[1]}"}).status_code == 200
    reloaded = client.get("/tokens").text
    assert 'id="new-token"' not in reloaded and secret[1] not in reloaded
    with factory() as session:
        assert session.scalar(select(func.count()).where(ApiToken.name == "etl-web")) == 1


def test_a_tokens_last_use_is_kept_to_the_minute_without_a_write_per_call(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    created = client.post("/api/v1/tokens", json={"name": "etl"}, headers=world.auth("consumer_a")).json()
    headers = {"Authorization": f"Bearer {created['token']}"}

    def last_used() -> datetime | None:
        with factory() as session:
            return session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == created["id"]))

    assert last_used() is None
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert last_used() == first  # the second call within the minute wrote nothing
    with factory() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == created["id"])
            .values(last_used_at=first - timedelta(minutes=2))
        )
        session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    later = last_used()
    assert later is not None and later >= first


def test_a_user_cannot_revoke_someone_elses_token(client: TestClient, world: World) -> None:
    mine = client.post("/api/v1/tokens", json={"name": "x"}, headers=world.auth("officer_a")).json()
    response = client.delete(f"/api/v1/tokens/{mine['id']}", headers=world.auth("officer_b"))
    assert response.status_code == 404
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {mine['token']}"}).status_code == 200


def test_open_redirect_after_login_is_refused(client: TestClient, world: World) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": "officer_a", "password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"  # the home page, not the other site
