"""One typed settings object, read from ``ZHONGTAI_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    platform_department_code: str = Field(
        "SJZYJ", description="Code of the department that runs the platform (the data resource bureau)."
    )

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
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.env != "development"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
