"""Masking formats and the projection of rows onto a grant (property-based)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zhongtai.sharing.masking import Masking, Projection, mask

TEXT = st.text(max_size=60)


def test_the_platform_formats() -> None:
    assert mask(Masking.ID_NUMBER, "340104199003071234") == "340***********1234"
    assert mask(Masking.MOBILE, "13812345678") == "138****5678"
    assert mask(Masking.NAME, "张三") == "张*"
    assert mask(Masking.NAME, "欧阳修") == "欧阳*"
    assert mask(Masking.ADDRESS, "安徽省合肥市蜀山区长江西路100号") == "安徽省合肥市蜀山区***"
    assert mask(Masking.ADDRESS, "广西壮族自治区南宁市青秀区民族大道1号") == "广西壮族自治区南宁市青秀区***"
    assert mask(Masking.BANK_CARD, "6222021234567890123") == "***************0123"
    assert mask(Masking.FULL, "阳性") == "***"
    assert mask(Masking.ID_NUMBER, None) is None


@given(rule=st.sampled_from(list(Masking)), value=TEXT)
def test_masking_is_idempotent(rule: Masking, value: str) -> None:
    once = mask(rule, value)
    assert mask(rule, once) == once


@given(value=st.from_regex(r"[1-9]\d{16}[\dX]", fullmatch=True))
def test_a_masked_id_number_hides_the_birth_date(value: str) -> None:
    masked = mask(Masking.ID_NUMBER, value)
    assert masked[:3] == value[:3] and masked[-4:] == value[-4:]
    assert value[6:14] not in masked


@given(
    row=st.dictionaries(st.text(min_size=1, max_size=8), TEXT, max_size=12),
    granted=st.lists(st.text(min_size=1, max_size=8), max_size=6, unique=True),
    data=st.data(),
)
def test_a_projection_lets_out_granted_items_only_masked_unless_granted_plain(
    row: dict[str, str], granted: list[str], data: st.DataObject
) -> None:
    rules = (
        data.draw(st.dictionaries(st.sampled_from(granted), st.sampled_from(list(Masking))))
        if granted
        else {}
    )
    plain = data.draw(st.lists(st.sampled_from(granted), unique=True)) if granted else []
    projected = Projection(granted, rules, plain)(row)
    assert set(projected) == set(granted)  # nothing outside the grant, ever
    for item, value in projected.items():
        if item in plain:
            assert value == row.get(item)
        else:
            assert value == mask(rules.get(item, Masking.FULL), row.get(item))
            assert mask(rules.get(item, Masking.FULL), value) == value  # masking twice changes nothing


def test_deliveries_are_pinned_to_the_checked_address_keeping_the_name_for_host_and_tls() -> None:
    import ipaddress

    from zhongtai.sharing.webhooks import pinned

    url, host, tls = pinned("https://hook.example.gov.cn:8443/in?x=1", ipaddress.ip_address("203.0.113.7"))
    assert (url, host, tls) == (
        "https://203.0.113.7:8443/in?x=1",
        {"host": "hook.example.gov.cn:8443"},
        {"sni_hostname": "hook.example.gov.cn"},
    )
    url, host, tls = pinned("http://hook.example.gov.cn/in", ipaddress.ip_address("2001:db8::1"))
    assert (url, host, tls) == ("http://[2001:db8::1]/in", {"host": "hook.example.gov.cn"}, {})
