"""What decides whether nginx may carry a call, without nginx: only published, unmasked proxied
capabilities get a location; only a request carrying the shared secret is handed over; the note nginx
brings back when a backend is down cannot be forged or altered."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from zhongtai.capabilities.models import CapabilityKind, CapabilityStatus, Operation
from zhongtai.gateway import accel
from zhongtai.gateway.state import CapabilityEntry
from zhongtai.sharing.masking import Masking

SECRET = "s" * 32


def entry(code: str, url: str | None = "http://10.0.0.5:8080/api", **changes: object) -> CapabilityEntry:
    base = CapabilityEntry(
        id=1,
        code=code,
        name=code,
        kind=CapabilityKind.PROXY,
        operation=Operation.PROXY,
        status=CapabilityStatus.PUBLISHED,
        provider_department_id=1,
        resource_id=None,
        resource_code=None,
        items=(),
        base=None,
        source_id=None,
        key_item=None,
        attributes={},
        verify_items=(),
        upstream_url=url,
        health_path=None,
        methods=("GET",),
        validator=None,
        masked_fields={},
        timeout_ms=1500,
        rate_per_second=10,
        daily_quota=100,
        breaker_failures=3,
        breaker_reset_seconds=10,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_only_published_unmasked_proxies_get_an_nginx_location() -> None:
    capabilities = [
        entry("gaj.plain"),
        entry("gaj.masked", masked_fields={"phone": next(iter(Masking))}),
        entry("gaj.draft", status=CapabilityStatus.DRAFT),
        entry("gaj.lookup", kind=CapabilityKind.DATA),
        entry("gaj.tls", url="https://backend.gaj.example/v1/"),
    ]
    config = accel.nginx_config(capabilities, "127.0.0.1:8080", "127.0.0.1:8000", SECRET, "/srv/nginx")
    assert "gaj\\.plain" in config and "gaj\\.tls" in config
    assert "gaj\\.masked" not in config and "gaj\\.draft" not in config and "gaj\\.lookup" not in config
    assert "server 10.0.0.5:8080" in config and "server backend.gaj.example:443" in config
    assert "proxy_ssl_name backend.gaj.example" in config
    assert "proxy_read_timeout 1500ms" in config
    assert "proxy_pass_request_headers off" in config  # the caller's signature never reaches a backend
    assert config.count(SECRET) == 2  # set on what nginx passes to the platform, overwriting a client's


def test_what_nginx_may_carry() -> None:
    plain = entry("gaj.plain")
    assert accel.carried(plain, "a/b-c_d.e~f")
    assert not accel.carried(plain, "名字")  # a decoded path nginx would pass on differently
    assert not accel.carried(plain, "a b")
    assert not accel.carried(entry("gaj.slash", url="http://10.0.0.5/api/"), "")
    assert not accel.carried(entry("gaj.masked", masked_fields={"x": next(iter(Masking))}), "a")


def test_only_the_shared_secret_hands_a_call_over() -> None:
    assert accel.through_proxy({accel.ACCEL_HEADER: SECRET}, SECRET)
    assert not accel.through_proxy({accel.ACCEL_HEADER: SECRET[:-1]}, SECRET)
    assert not accel.through_proxy({}, SECRET)
    assert not accel.through_proxy({accel.ACCEL_HEADER: SECRET}, None)


@given(app=st.text(min_size=1, max_size=30), flip=st.integers(min_value=0, max_value=500))
def test_a_note_cannot_be_altered(app: str, flip: int) -> None:
    note = accel.CallNote(app, "WJW", "gaj.plain", "epidemic", "k1", None, "rid")
    sealed = accel.seal_note(note, SECRET)
    assert accel.open_note(sealed, SECRET) == note
    assert accel.open_note(sealed, "other-secret") is None
    position = flip % len(sealed)
    altered = sealed[:position] + ("A" if sealed[position] != "A" else "B") + sealed[position + 1 :]
    assert accel.open_note(altered, SECRET) is None
