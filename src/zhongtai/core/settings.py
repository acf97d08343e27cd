"""One typed settings object, read from ``ZHONGTAI_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "change-me-zhongtai-development-secret"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHONGTAI_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        "development", description="Deployment environment; default secrets are refused outside development."
    )
    data_dir: Path = Field(Path("./var"), description="Folder for the SQLite database and local files.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is a SQLite file zhongtai.db under data_dir."
    )
    secret_key: str = Field(DEFAULT_SECRET, description="Signs session cookies. Must be set in production.")
    session_hours: int = Field(8, ge=1, le=24 * 30, description="Web session lifetime in hours.")
    cookie_secure: bool | None = Field(
        None, description="Mark cookies Secure; defaults to on outside development."
    )
    login_max_failures: int = Field(5, ge=1, description="Failed logins before an account name is locked.")
    login_lockout_minutes: int = Field(15, ge=1, description="How long a locked account name stays locked.")
    max_body_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest request body accepted (imports included)."
    )
    log_json: bool = Field(True, description="Emit structured JSON log lines.")
    log_level: str = Field("INFO", description="Root log level.")
    log_file: Path | None = Field(
        None,
        description="Write the log lines to this file (appended) instead of the terminal, which then shows "
        "warnings and errors only; the demo sets data_dir/log/zhongtai.log.",
    )
    queue_url: str | None = Field(
        None,
        description="Background job queue: unset = embedded (a SQLite file queue.db under data_dir); "
        "redis://host:port/db = shared by several worker machines; memory:// = run jobs inline (tests).",
    )
    secrets_key: str | None = Field(
        None,
        description="Fernet key encrypting source passwords and tokens at rest; "
        "default is derived from secret_key.",
    )
    inbox_dir: Path | None = Field(
        None, description="Where file sources' inboxes live; default data_dir/inbox."
    )
    sources_dir: Path | None = Field(
        None, description="The only place SQLite source databases may live; default data_dir/sources."
    )
    ingest_chunk_rows: int = Field(20_000, ge=1, description="Rows converted and written per chunk.")
    govern_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Worker processes a governance pass is partitioned over (pages by key range, each "
        "written in a transaction of its own); 1 = the pass's own process. For PostgreSQL with cores to "
        "spare; on SQLite (one writer) one process is faster.",
    )
    ingest_process_rows: int = Field(
        200_000,
        ge=0,
        description="A database batch at least this big is read and mapped in a second process (0: never).",
    )
    source_timeout_seconds: float = Field(
        15.0, gt=0, description="Connect / request timeout when talking to a department system."
    )
    max_upload_bytes: int = Field(
        4 * 1024**3, ge=1024, description="Largest file accepted into a file source's inbox by upload."
    )
    audit_dir: Path | None = Field(
        None,
        description="Where signed audit checkpoints and their key live (keep it off the database's storage); "
        "default data_dir/audit.",
    )
    audit_access_days: int = Field(
        183, ge=183, description="Days data-access audit entries are kept (at least six months)."
    )
    audit_admin_days: int = Field(
        3 * 365 + 1,
        ge=3 * 365 + 1,
        description="Days approval, grant and change entries are kept (≥ 3 years).",
    )
    sharing_auto_check: bool = Field(
        False,
        description="The bureau's compliance check of applications for unconditionally shared resources "
        "passes automatically (the grant is issued at once).",
    )
    sharing_bureau_days: int = Field(
        2,
        ge=1,
        le=60,
        description="Working days the bureau has to check an application before it is overdue.",
    )
    sharing_provider_days: int = Field(
        5, ge=1, le=60, description="Working days a provider has to decide before the application is overdue."
    )
    outbox_days: int = Field(
        30,
        ge=1,
        description="Days change events (copies of shared rows) are kept for replay once every subscription "
        "has them; older ones are purged daily.",
    )
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts (names, or CIDR blocks such as 10.8.0.0/16) subscriber endpoints may be on; "
        "anything else is refused, and private or loopback addresses only where a CIDR entry names them.",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Time a subscriber has to answer.")
    webhook_max_attempts: int = Field(
        20,
        ge=1,
        description="Delivery attempts of one event before it is dead-lettered "
        "(the back-off doubles up to an hour: 20 attempts ≈ 13 h).",
    )
    nats_url: str | None = Field(
        None,
        description="NATS with JetStream (nats://host:4222): subscription events flow through it so several "
        "dispatchers share the work; unset = dispatchers read the database outbox directly.",
    )
    nats_prefix: str = Field(
        "zhongtai",
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
        description="Subject prefix and stream name stem in NATS.",
    )
    gateway_redis_url: str | None = Field(
        None,
        description="Redis (redis://host:6379/0) holding the gateway's rate-limit counters and "
        "signature nonces, shared by every gateway instance; unset = kept in each process.",
    )
    gateway_accel_secret: SecretStr | None = Field(
        None,
        description="Shared with the platform's nginx (`zhongtai gateway nginx`), which sends it on every "
        "request it passes on: for those, proxied capabilities whose answers need no masking are carried "
        "by nginx (X-Accel-Redirect) after the gateway's checks and audit record. Unset = the gateway "
        "calls every backend itself.",
    )
    gateway_clock_skew_seconds: int = Field(
        30, ge=0, le=600, description="How far a signature's created time may lie ahead of our clock."
    )
    gateway_signature_max_age_seconds: int = Field(
        300, ge=5, le=3600, description="Oldest signature accepted (its nonce is remembered this long)."
    )
    gateway_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body the gateway forwards or reads."
    )
    gateway_max_json_depth: int = Field(20, ge=2, le=200, description="Deepest JSON nesting accepted.")
    gateway_max_page_size: int = Field(100, ge=1, le=1000, description="Most records one list call returns.")
    gateway_budget_ms: int = Field(
        10_000, ge=100, description="Total time one gateway call may take, retries included."
    )
    gateway_max_response_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest upstream answer passed back to the caller."
    )
    platform_department_code: str = Field(
        "SJZYJ", description="Code of the department that runs the platform (the data resource bureau)."
    )
    timezone: str = Field(
        "Asia/Shanghai",
        description="The city's time zone (IANA name) for every time a page shows and date-time inputs.",
    )

    city_division: str = Field(
        "340100",
        pattern=r"^\d{4}00$",
        description="The city's GB/T 2260 code; its districts are the codes under it (statistics).",
    )
    healthcode_city: str = Field("庐州市", description="The city named in the health code certificates.")
    healthcode_regulator: str = Field(
        "SCJGJ",
        description="The department deciding enterprises' resumption applications (market regulation).",
    )
    healthcode_regulator_by_district: bool = Field(
        False,
        description="Send a resumption application to the government of the district its site names (when "
        "the city has that department), instead of healthcode_regulator.",
    )
    healthcode_issuer: str = Field("CN-340100", description="The iss claim of every code the city signs.")
    healthcode_person_minutes: int = Field(
        3, ge=1, le=60, description="How long a person code is valid (the page refreshes it before)."
    )
    healthcode_place_days: int = Field(
        365,
        ge=1,
        le=3650,
        description="How long a printed place code is valid; retired keys stay listed so long.",
    )
    healthcode_signer_days: int = Field(
        730, ge=30, description="Validity of a code-signing certificate (rotate well before it ends)."
    )
    healthcode_department: str = Field(
        "WJW", description="The department (code) of health staff: they declare risk areas and edit rules."
    )
    healthcode_tests_resource: str = Field(
        "核酸检测结果信息",
        description="The catalog resource of test results: the situation counts the rows gathered into it.",
    )
    healthcode_correction_workdays: int = Field(
        3, ge=1, le=30, description="Working days a department has to answer a health code correction."
    )
    healthcode_publish_lead_minutes: int = Field(
        10, ge=0, le=1440, description="A new signing key is on the trust list this long before it signs."
    )

    public_identity_credentials: Path | None = Field(
        None,
        description="JSON file with the gateway key (key_id, secret, purpose) of the app that checks a "
        "citizen's real name through the person.verify and person.by-id capabilities; default "
        "data_dir/demo/wjw-health-code.json outside production.",
    )
    public_sms_url: str | None = Field(
        None,
        description="HTTP SMS gateway for one-time codes (POST JSON {mobile, text}); unset outside "
        "production: codes go to the log and the demo inbox page (/m/inbox).",
    )
    public_sms_token: SecretStr | None = Field(
        None, description="Bearer token for the SMS gateway (never logged)."
    )
    public_code_minutes: int = Field(5, ge=1, le=30, description="How long a one-time sign-in code is valid.")
    public_code_attempts: int = Field(
        5, ge=1, le=10, description="Wrong guesses of one code before it is void (then ask for a new one)."
    )
    public_lockout_failures: int = Field(
        5,
        ge=1,
        le=50,
        description="Failed identity checks or code guesses for one ID number, or from one address, "
        "before sign-in is locked for public_lockout_minutes.",
    )
    public_lockout_minutes: int = Field(30, ge=1, le=1440, description="How long a sign-in lock lasts.")
    public_session_hours: int = Field(72, ge=1, le=720, description="A citizen's session lifetime.")

    screen_interval_seconds: float = Field(
        5.0, ge=0.5, le=60, description="How often the big screen's figures are recomputed and pushed."
    )
    screen_max_streams: int = Field(
        200,
        ge=1,
        le=100_000,
        description="Live screen connections one server process holds; more are answered 503 and retry.",
    )
    screen_public_epsilon: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Privacy-loss budget (ε) of one public release of the risk-crowd figures; one release "
        "a day, split evenly over its tables.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from None
        return value

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "development" and self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                "ZHONGTAI_SECRET_KEY is still the development default; set a random secret "
                f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) for env={self.env}"
            )
        if self.env != "development" and len(self.secret_key) < 32:
            raise ValueError("ZHONGTAI_SECRET_KEY must be at least 32 characters outside development")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'zhongtai.db').resolve()}"

    @property
    def resolved_inbox_dir(self) -> Path:
        return (self.inbox_dir or self.data_dir / "inbox").resolve()

    @property
    def resolved_sources_dir(self) -> Path:
        return (self.sources_dir or self.data_dir / "sources").resolve()

    @property
    def resolved_audit_dir(self) -> Path:
        return (self.audit_dir or self.data_dir / "audit").resolve()

    @property
    def resolved_identity_credentials(self) -> Path | None:
        if self.public_identity_credentials is not None:
            return self.public_identity_credentials
        return None if self.env == "production" else self.data_dir / "demo" / "wjw-health-code.json"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.env != "development"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
