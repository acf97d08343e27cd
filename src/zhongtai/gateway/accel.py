"""Proxied calls carried by nginx: the platform checks, nginx carries the bytes.

A request that reaches the gateway through the platform's nginx carries ``X-Zhongtai-Accel`` with the
shared secret (nginx sets it and overwrites whatever a client sent). For a proxied capability whose answer
needs no masking, the gateway does everything it always does — signature, nonce, app, subscription,
purpose, limits and quota, request validation, and the audit record committed (outcome ``forwarded``) —
and then, instead of calling the backend with a Python HTTP client, answers nginx with
``X-Accel-Redirect`` to an internal location generated for that capability from the registry: nginx calls
the backend and streams its answer to the caller. The backend sees what it sees on the Python path (the
content headers, ``X-Zhongtai-App``, ``-Purpose``, ``-End-User``), never the caller's signature. If nginx
cannot reach the backend it asks the gateway (``/gw/_proxy_failed``) to record the failure and answer
503, so no call goes unaudited. Masked answers, capabilities without an nginx location (added since its
last reload) and requests that did not come through nginx keep the Python path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from zhongtai.capabilities.models import CapabilityKind, CapabilityStatus
from zhongtai.gateway.state import CapabilityEntry, capability_entries, current_version

ACCEL_HEADER = "x-zhongtai-accel"
FAILED = "_proxy_failed"  # the capability code nginx calls back with when the backend cannot be reached
INTERNAL = "/_zt_up"
# Sub-paths nginx passes on as they are (a decoded path with anything else stays on the Python path).
PLAIN_SUBPATH = re.compile(r"^[A-Za-z0-9._~/-]*$")
FORWARDED = ("x-zhongtai-app", "x-zhongtai-purpose", "x-zhongtai-end-user")


def through_proxy(headers: dict[str, str], secret: str | None) -> bool:
    """Whether this request came through the platform's nginx (which set the shared secret)."""
    sent = headers.get(ACCEL_HEADER)
    return bool(secret and sent and hmac.compare_digest(sent.encode(), secret.encode()))


def carried(capability: CapabilityEntry, subpath: str) -> bool:
    """Whether nginx may carry this call's answer: unmasked, and a path it passes on unchanged."""
    if capability.masked_fields or not capability.upstream_url:
        return False
    if not subpath and capability.upstream_url.endswith("/"):
        return False  # the Python path keeps that slash; nginx would drop it
    return PLAIN_SUBPATH.fullmatch(subpath) is not None


@dataclass(frozen=True)
class CallNote:
    """What the gateway needs to record a carried call nginx could not complete."""

    app: str
    department_code: str
    capability: str
    purpose: str
    key_id: str
    end_user: str | None
    request_id: str
    resource_code: str = "-"


def seal_note(note: CallNote, secret: str) -> str:
    body = base64.urlsafe_b64encode(json.dumps(asdict(note), separators=(",", ":")).encode()).decode()
    return f"{body}.{_mac(body, secret)}"


def open_note(sealed: str, secret: str) -> CallNote | None:
    body, _, mac = sealed.partition(".")
    if not body or not hmac.compare_digest(mac.encode(), _mac(body, secret).encode()):
        return None
    try:
        return CallNote(**json.loads(base64.urlsafe_b64decode(body.encode())))
    except (ValueError, TypeError):
        return None


def _mac(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def redirect_headers(
    method: str, capability: CapabilityEntry, subpath: str, query: str, forwarded: dict[str, str], note: str
) -> list[tuple[bytes, bytes]]:
    """The answer that hands the call to nginx: where to send it, and the headers the backend gets."""
    target = f"{INTERNAL}/{method}/{capability.code}" + (f"/{subpath}" if subpath else "")
    if query:
        target += f"?{query}"
    headers = [(b"x-accel-redirect", target.encode("latin-1")), (b"x-zt-call", note.encode())]
    for name in FORWARDED:
        if name in forwarded:
            headers.append((f"x-zt-{name[len('x-zhongtai-') :]}".encode(), forwarded[name].encode()))
    return headers


# --- the nginx configuration, from the registry ----------------------------------------------------------


def _upstream_name(origin: str, names: dict[str, str]) -> str:
    return names.setdefault(origin, f"zt_backend_{len(names) + 1}")


def _location(capability: CapabilityEntry, upstream: str, base_path: str, scheme: str, host: str) -> str:
    timeout = f"{max(capability.timeout_ms, 1)}ms"
    tls = f"\n      proxy_ssl_server_name on;\n      proxy_ssl_name {host};" if scheme == "https" else ""
    return f"""
    location ~ ^{INTERNAL}/(?<zt_method>[A-Z]+)/{re.escape(capability.code)}(?<zt_rest>/.*)?$ {{
      internal;
      # the platform's answer headers, read now: once nginx calls the backend they are gone
      set $zt_call $upstream_http_x_zt_call;
      set $zt_request_id $upstream_http_x_request_id;
      set $zt_app $upstream_http_x_zt_app;
      set $zt_purpose $upstream_http_x_zt_purpose;
      set $zt_end_user $upstream_http_x_zt_end_user;
      proxy_method $zt_method;
      proxy_pass {scheme}://{upstream}{base_path.rstrip("/")}$zt_rest$is_args$args;{tls}
      # a backend's answer may not redirect nginx elsewhere (past the checks) nor set the platform's cookies
      proxy_ignore_headers X-Accel-Redirect X-Accel-Expires X-Accel-Limit-Rate
                           X-Accel-Buffering X-Accel-Charset;
      proxy_hide_header Set-Cookie;
      proxy_pass_request_headers off;
      proxy_set_header Host {host};
      proxy_set_header Connection "";
      proxy_set_header Content-Type $http_content_type;
      proxy_set_header Accept $http_accept;
      proxy_set_header Accept-Language $http_accept_language;
      proxy_set_header X-Zhongtai-App $zt_app;
      proxy_set_header X-Zhongtai-Purpose $zt_purpose;
      proxy_set_header X-Zhongtai-End-User $zt_end_user;
      proxy_connect_timeout {timeout};
      proxy_read_timeout {timeout};
      proxy_send_timeout {timeout};
      add_header X-Request-Id $zt_request_id always;
      error_page 502 504 = @zt_backend_down;
    }}"""


def nginx_config(
    capabilities: Iterable[CapabilityEntry], listen: str, platform: str, secret: str, prefix: str
) -> str:
    """The whole nginx configuration: every request goes to the platform (with the shared secret), and
    one internal location per published, unmasked proxied capability carries its calls."""
    names: dict[str, str] = {}
    locations = []
    for capability in sorted(capabilities, key=lambda c: c.code):
        if capability.kind is not CapabilityKind.PROXY or capability.status is not CapabilityStatus.PUBLISHED:
            continue
        if capability.masked_fields or not capability.upstream_url:
            continue
        parts = urlsplit(capability.upstream_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        port = parts.port or (443 if parts.scheme == "https" else 80)
        upstream = _upstream_name(f"{parts.hostname}:{port}", names)
        locations.append(_location(capability, upstream, parts.path, parts.scheme, parts.netloc))
    upstreams = "".join(
        f"\n  upstream {name} {{ server {origin}; keepalive 32; }}" for origin, name in names.items()
    )
    return f"""# Generated by `zhongtai gateway nginx` from the capability registry, again on every change.
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  client_max_body_size 8m;
  upstream zt_platform {{ server {platform}; keepalive 64; }}{upstreams}
  server {{
    listen {listen};
    location / {{
      proxy_pass http://zt_platform;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header {ACCEL_HEADER} "{secret}";
      proxy_buffering off;
    }}
    location @zt_backend_down {{
      rewrite ^ /gw/{FAILED} break;
      proxy_pass http://zt_platform;
      proxy_http_version 1.1;
      proxy_method POST;
      proxy_pass_request_body off;
      proxy_pass_request_headers off;
      proxy_set_header Connection "";
      proxy_set_header Content-Length "";
      proxy_set_header X-Zt-Call $zt_call;
      proxy_set_header X-Request-Id $zt_request_id;
      proxy_set_header {ACCEL_HEADER} "{secret}";
    }}
    proxy_http_version 1.1;{"".join(locations)}
  }}
}}
"""


# --- keeping nginx's configuration in step with the registry --------------------------------------------


@dataclass(frozen=True)
class Proxy:
    """Where the platform's nginx listens, where the platform serves, and nginx's own folder."""

    listen: str
    platform: str
    prefix: Path
    secret: str

    @property
    def config(self) -> Path:
        return self.prefix / "nginx.conf"

    def reload_command(self, nginx: str) -> list[str]:
        return [nginx, "-p", str(self.prefix), "-c", str(self.config), "-s", "reload"]


def write_config(factory: sessionmaker[Session], proxy: Proxy) -> tuple[int, bool]:
    """nginx's configuration for the registry as it is now: (the registry's version, whether the file
    changed). Written whole to a new file and renamed, so nginx never reads half of one."""
    with factory() as session:
        version = current_version(session.connection())
        capabilities = capability_entries(session)
    text = nginx_config(capabilities, proxy.listen, proxy.platform, proxy.secret, str(proxy.prefix))
    proxy.prefix.mkdir(parents=True, exist_ok=True)
    if proxy.config.exists() and proxy.config.read_text("utf-8") == text:
        return version, False
    staged = proxy.config.with_suffix(".conf.new")
    staged.write_text(text, "utf-8")
    os.replace(staged, proxy.config)
    return version, True


def follow(
    factory: sessionmaker[Session],
    proxy: Proxy,
    reload: Callable[[], None],
    every: float = 2.0,
    rounds: int | None = None,
) -> None:
    """Regenerate the configuration whenever the registry's version moves, and reload nginx when it
    changed (a capability published, retired, re-pointed or given masked fields)."""
    seen = -1
    done = 0
    while rounds is None or done < rounds:
        with factory() as session:
            version = current_version(session.connection())
        if version != seen:
            seen, changed = write_config(factory, proxy)
            if changed:
                reload()
        done += 1
        time.sleep(every)
