"""Subscriber endpoints: the allowlist that keeps the platform from being used to reach internal
addresses, and Standard Webhooks signing (the ``standardwebhooks`` library, the spec's own).

A URL's host must be named in ``ZHONGTAI_WEBHOOK_ALLOWED_HOSTS``: a host name (``.example.gov.cn``
admits its subdomains) or a CIDR block. Before every delivery the host is resolved and each address
checked: loopback, private, link-local and other non-global addresses are refused unless a CIDR entry
names them. Redirects are never followed (a 3xx is a failed delivery), so an allowed host cannot bounce a
delivery to an internal one.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from zhongtai.core.errors import M_, Invalid

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, event_id: str, moment: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, moment, body),
    }


class Allowlist:
    def __init__(self, entries: Sequence[str]) -> None:
        self.names: list[str] = []
        self.networks: list[IPNetwork] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.append(entry.lower().rstrip("."))

    def check_url(self, url: str) -> str:
        """The URL's host if the URL may be subscribed at all; otherwise ``Invalid`` naming why."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise Invalid(
                M_("subscriber URL is malformed: %(exc)s", exc=exc), field="url", code="bad_url"
            ) from exc
        if parts.scheme not in ("http", "https") or not host:
            raise Invalid(M_("subscriber URL must be http(s)://host/…"), field="url", code="bad_url")
        if parts.username or parts.password:
            raise Invalid(M_("subscriber URL must not carry credentials"), field="url", code="bad_url")
        literal = _ip(host)
        if literal is not None:
            if not self._in_networks(literal):
                raise Invalid(
                    M_("address %(host)s is not on the platform's subscriber allowlist", host=host),
                    field="url",
                    code="url_not_allowed",
                )
            return host
        if not any(host == name or (name.startswith(".") and host.endswith(name)) for name in self.names):
            raise Invalid(
                M_(
                    "host %(host)s is not on the platform's subscriber allowlist "
                    "(ZHONGTAI_WEBHOOK_ALLOWED_HOSTS)",
                    host=host,
                ),
                field="url",
                code="url_not_allowed",
            )
        return host

    def check_addresses(self, host: str, resolve: Resolver | None = None) -> IPAddress:
        """Every address the host resolves to must be public, or inside an allowlisted CIDR block;
        returns the one to connect to (the delivery is pinned to it, so a second DNS answer cannot
        send it elsewhere)."""
        addresses = [_ip(host)] if _ip(host) else [_ip(a) for a in (resolve or _resolve)(host)]
        if not addresses:
            raise Invalid(M_("host %(host)s does not resolve", host=host), code="url_unresolvable")
        checked: list[IPAddress] = []
        for address in addresses:
            if address is None or not (address.is_global or self._in_networks(address)):
                raise Invalid(
                    M_("host %(host)s resolves to a non-public address", host=host), code="url_not_allowed"
                )
            checked.append(address)
        return checked[0]

    def _in_networks(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def pinned(url: str, address: IPAddress) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL with its host replaced by the checked address, the Host header, and for HTTPS the TLS
    server name (so the certificate is still verified against the host name)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    header = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": host} if parts.scheme == "https" and _ip(host) is None else {}
    return parts._replace(netloc=netloc).geturl(), {"host": header}, extensions


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _resolve(host: str) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
    except OSError:
        return []
