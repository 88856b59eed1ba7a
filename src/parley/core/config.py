"""Settings from the environment and `.env`: exactly the variables of the API contract."""

import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import structlog
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from parley.core.durations import parse_duration, parse_rate

DATA_DIR = Path("data")
SECRET_FILE_NAME = "jwt-secret"  # noqa: S105 - a file name
MIN_SECRET_LENGTH = 32
KNOWN_WEAK_SECRETS = {"", "secret", "changeme", "change-me", "dev", "development", "jwt-secret"}
QUEUE_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://", "nats://")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


def _split_list(value: Any) -> Any:
    """Accept `a,b` as well as a JSON list for list-valued variables."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = f"sqlite:///{DATA_DIR / 'parley.db'}"
    redis_url: str | None = None
    jwt_secret: SecretStr | None = None
    jwt_algorithm: str = Field(default="HS256", exclude=True)
    jwt_expires_in: int = 15 * 60
    refresh_token_expires_in: int = 30 * 86400
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    cors_origins: Annotated[list[str], NoDecode] = []
    rate_limit_window: int = 60
    rate_limit_max: int = Field(default=300, ge=1)
    login_rate_limit: str = "10/15m"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    media_dir: Path = DATA_DIR / "media"
    media_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    log_level: str = "INFO"
    log_format: LogFormat | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    first_admin_email: str | None = None
    first_admin_password: SecretStr | None = None
    forwarded_allow_ips: Annotated[list[str], NoDecode] = []
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "Parley <no-reply@localhost>"
    public_base_url: str = "http://localhost:8000"
    require_email_verification: bool = False
    # Encrypts secrets kept at rest (TOTP); without it a key is derived from JWT_SECRET.
    encryption_key: SecretStr | None = None
    audit_retention: int = 365 * 86400
    # The server edge (parley.server): per worker, applied before a request reaches the app.
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    max_headers: int = Field(default=100, ge=1)
    header_timeout: int = 10
    body_timeout: int = 30
    keepalive_timeout: int = 5
    max_connections: int = Field(default=1000, ge=1)
    # The event log and its stream (parley.events).
    event_retention: int = Field(default=7 * 86400, ge=1)
    event_stream_heartbeat: int = Field(default=15, ge=1)
    # Webhooks (parley.webhooks): the retry delays after each failed attempt, whether URLs may
    # reach private addresses (None: only in development), one attempt's timeout in seconds,
    # and how long finished deliveries stay in the log.
    webhook_retry_schedule: Annotated[list[int], NoDecode] = [5, 30, 120, 600, 3600, 21600, 86400]
    webhook_allow_private: bool | None = None
    webhook_timeout: float = Field(default=10.0, gt=0, le=60)
    webhook_delivery_retention: int = 30 * 86400
    # Background work (parley.jobs): no QUEUE_URL runs jobs inside `parley serve`.
    queue_url: str | None = None
    queue_name: str = "parley-jobs"
    job_lease: int = 60
    purge_interval: int = 3600
    idempotency_ttl: int = 24 * 3600

    @field_validator(
        "jwt_expires_in",
        "refresh_token_expires_in",
        "rate_limit_window",
        "header_timeout",
        "body_timeout",
        "keepalive_timeout",
        "audit_retention",
        "event_retention",
        "event_stream_heartbeat",
        "webhook_delivery_retention",
        "job_lease",
        "purge_interval",
        "idempotency_ttl",
        mode="before",
    )
    @classmethod
    def _durations(cls, value: Any) -> int:
        return parse_duration(value)

    @field_validator("login_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("cors_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        items = _split_list(value)
        if isinstance(items, list):
            return [parse_duration(item) for item in items]
        return items

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("queue_url")
    @classmethod
    def _queue_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(QUEUE_SCHEMES):
            raise ValueError(
                "QUEUE_URL must start with redis://, rediss://, amqp://, amqps:// or nats://"
            )
        return value or None

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PUBLIC_BASE_URL must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("encryption_key")
    @classmethod
    def _encryption_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"ENCRYPTION_KEY must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _production_needs_a_strong_secret(self) -> "Settings":
        if self.environment is Environment.PRODUCTION and not _is_strong(self.jwt_secret):
            raise ValueError(
                f"JWT_SECRET must be set to a random value of at least {MIN_SECRET_LENGTH} "
                "characters when ENVIRONMENT=production"
            )
        return self

    @property
    def is_development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.CONSOLE if self.is_development else LogFormat.JSON

    @property
    def webhooks_may_reach_private_addresses(self) -> bool:
        if self.webhook_allow_private is not None:
            return self.webhook_allow_private
        return self.is_development

    @property
    def login_rate(self) -> tuple[int, int]:
        return parse_rate(self.login_rate_limit)

    def signing_key(self) -> str:
        """Return the JWT secret, generating and keeping one outside production."""
        if self.jwt_secret is not None and self.jwt_secret.get_secret_value():
            return self.jwt_secret.get_secret_value()
        return _development_secret()


def _is_strong(secret: SecretStr | None) -> bool:
    if secret is None:
        return False
    value = secret.get_secret_value()
    return len(value) >= MIN_SECRET_LENGTH and value.lower() not in KNOWN_WEAK_SECRETS


@lru_cache(maxsize=1)
def _development_secret() -> str:
    path = DATA_DIR / SECRET_FILE_NAME
    if not path.exists():
        _write_secret_once(path)
    return path.read_text().strip()


def _write_secret_once(path: Path) -> None:
    """Create the secret file atomically, so workers starting together agree on one secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    draft.touch(mode=0o600)
    draft.write_text(secrets.token_urlsafe(48))
    try:
        os.link(draft, path)
    except FileExistsError:
        return
    finally:
        draft.unlink()
    structlog.get_logger("parley.config").warning(
        "jwt_secret_generated", path=str(path), hint="set JWT_SECRET outside development"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
