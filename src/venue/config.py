"""The venue's settings, validated once at start (DESIGN.md §2: `config.py`).

Sources, strongest first: environment variables, then a TOML config file (`--config FILE` or
`VENUE_CONFIG`, keys are the field names below), then the defaults, which are the embedded
set-up: SQLite at `./var/venue.db`, journal and snapshots under `./var/`.

Every setting has a `VENUE_` name. A few also answer to the names operators already use for
engines of this kind (`DATABASE_URL`, `HOST`, `PORT`, `LOG_LEVEL`, `MAX_ORDERS_PER_SECOND`,
`ORDER_BOOK_DEPTH`, `MATCHING_INTERVAL_MS`, `ORDER_EXPIRATION_HOURS`, `MAX_ORDER_BOOK_SIZE`,
`RATE_LIMIT_PER_MINUTE`, `JWT_SECRET_KEY`, `REDIS_URL`).

Connections (`venue.gateway.connections`): `max_connections` (4096) bounds the open HTTP and
WebSocket connections, a connection beyond it is answered 503 "overloaded" and closed; the
last `reserved_connections` (16) of them serve only /health, /ready and /metrics; a request
must arrive complete within `request_timeout_s` (10) of the connection opening (or of its
first byte), and an idle keep-alive connection closes after `keep_alive_timeout_s` (5). The
process's open files limit must hold `max_connections` plus a margin, else startup stops.

Invariants:
- An invalid value, an unknown `VENUE_` variable or an unknown key in the config file stops
  startup with a `SettingsError` that names it. Nothing is silently ignored.
- Secrets (`jwt_secret_key`) are `SecretStr`: never printed, never logged.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "VENUE_"


# The config file of the `load_settings` call in progress (pydantic-settings asks the class).
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("venue_config_file", default=None)


class SettingsError(ValueError):
    """A setting that stops startup; the message names it."""


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def _names(field: str, *legacy: str) -> AliasChoices:
    return AliasChoices(ENV_PREFIX + field.upper(), *legacy, field)


class Settings(BaseSettings):
    """Field names are the config file's keys; `VENUE_<NAME>` is each one's variable."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="forbid", populate_by_name=True, frozen=True
    )

    # where things live
    data_dir: Path = Field(Path("var"), validation_alias=_names("data_dir"))
    database_url: str | None = Field(None, validation_alias=_names("database_url", "DATABASE_URL"))
    # the HTTP server
    host: str = Field("127.0.0.1", validation_alias=_names("host", "HOST"))
    port: int = Field(8000, ge=0, le=65535, validation_alias=_names("port", "PORT"))
    log_level: LogLevel = Field(LogLevel.INFO, validation_alias=_names("log_level", "LOG_LEVEL"))
    # JSON lines for machines; None: JSON unless stderr is a terminal (then readable lines)
    log_json: bool | None = Field(None, validation_alias=_names("log_json"))
    # the journal and the sequencer
    fsync: str = Field("batch", validation_alias=_names("fsync"))
    batch_size_max: int = Field(4096, ge=1, le=65536, validation_alias=_names("batch_size_max"))
    inbox_capacity: int = Field(100_000, ge=1, validation_alias=_names("inbox_capacity"))
    tick_interval_ms: int = Field(
        100, ge=1, le=60_000, validation_alias=_names("tick_interval_ms", "MATCHING_INTERVAL_MS")
    )
    snapshot_every_commands: int = Field(
        1_000_000, ge=0, validation_alias=_names("snapshot_every_commands")
    )
    snapshot_every_s: int = Field(600, ge=0, validation_alias=_names("snapshot_every_s"))
    snapshots_keep: int = Field(2, ge=1, validation_alias=_names("snapshots_keep"))
    segment_retention: str = Field("keep", validation_alias=_names("segment_retention"))
    # trading rules the operator sets venue-wide
    max_orders_per_second: int | None = Field(
        None, ge=1, validation_alias=_names("max_orders_per_second", "MAX_ORDERS_PER_SECOND")
    )
    order_book_depth: int = Field(
        100, ge=1, le=5000, validation_alias=_names("order_book_depth", "ORDER_BOOK_DEPTH")
    )
    order_expiration_hours: int = Field(
        0,
        ge=0,
        le=24 * 366,
        validation_alias=_names("order_expiration_hours", "ORDER_EXPIRATION_HOURS"),
    )
    max_order_book_size: int = Field(
        1_000_000, ge=1, validation_alias=_names("max_order_book_size", "MAX_ORDER_BOOK_SIZE")
    )
    # the API
    rate_limit_per_minute: int = Field(
        0, ge=0, validation_alias=_names("rate_limit_per_minute", "RATE_LIMIT_PER_MINUTE")
    )
    recv_window_ms: int = Field(5000, ge=100, le=60_000, validation_alias=_names("recv_window_ms"))
    ws_max_subscriptions: int = Field(50, ge=1, validation_alias=_names("ws_max_subscriptions"))
    ws_queue_messages: int = Field(1000, ge=10, validation_alias=_names("ws_queue_messages"))
    ws_max_inflight: int = Field(256, ge=1, le=10_000, validation_alias=_names("ws_max_inflight"))
    # connections (gateway/connections.py): a bound on open connections (HTTP and WebSocket),
    # the last `reserved_connections` of it for /health, /ready and /metrics; deadlines
    max_connections: int = Field(
        4096, ge=1, le=1_000_000, validation_alias=_names("max_connections")
    )
    reserved_connections: int = Field(16, ge=0, validation_alias=_names("reserved_connections"))
    request_timeout_s: int = Field(10, ge=1, le=3600, validation_alias=_names("request_timeout_s"))
    keep_alive_timeout_s: int = Field(
        5, ge=1, le=3600, validation_alias=_names("keep_alive_timeout_s")
    )
    projector_queue_batches: int = Field(
        10_000, ge=1, validation_alias=_names("projector_queue_batches")
    )
    # secrets and services kept for the issues that use them (sessions, scale-out)
    jwt_secret_key: SecretStr | None = Field(
        None, validation_alias=_names("jwt_secret_key", "JWT_SECRET_KEY")
    )
    redis_url: str | None = Field(None, validation_alias=_names("redis_url", "REDIS_URL"))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = _CONFIG_FILE.get()
        if config_file is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, config_file))

    @model_validator(mode="after")
    def _reserve_within_bound(self) -> Settings:
        if self.reserved_connections >= self.max_connections:
            raise ValueError("reserved_connections must be less than max_connections")
        return self

    @field_validator("fsync")
    @classmethod
    def _fsync(cls, value: str) -> str:
        if value not in ("batch", "none"):
            raise ValueError("must be 'batch' (durable) or 'none' (UNSAFE, benchmarks only)")
        return value

    @field_validator("segment_retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        if value not in ("keep", "archive", "delete"):
            raise ValueError("must be 'keep', 'archive' or 'delete'")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value or None

    @field_validator("jwt_secret_key")
    @classmethod
    def _jwt_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value


def _known_env_names() -> set[str]:
    names: set[str] = {ENV_PREFIX + "CONFIG"}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
    return names


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `overrides` (the CLI's own options), the environment and the config file,
    in that order of strength. Raises `SettingsError` naming what is wrong."""
    known = _known_env_names()
    unknown = sorted(
        name
        for name in os.environ
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known
    )
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]} (see `venue serve --help`)")
    if config_file is None and os.environ.get(ENV_PREFIX + "CONFIG"):
        config_file = Path(os.environ[ENV_PREFIX + "CONFIG"])
    if config_file is not None:
        try:
            file_values = tomllib.loads(config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"config file {config_file}: {exc}") from None
        for key in file_values:
            if key not in Settings.model_fields:
                raise SettingsError(f"config file {config_file}: unknown setting {key!r}")
    token = _CONFIG_FILE.set(config_file)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        location = str(first["loc"][0]) if first["loc"] else "settings"
        raise SettingsError(f"invalid setting {_source_of(location)}: {first['msg']}") from None
    finally:
        _CONFIG_FILE.reset(token)


def _source_of(location: str) -> str:
    """The name the operator used for the setting pydantic reports as `location`: the
    environment variable that is set, else the field (a config file key or an option)."""
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        if location == field_name or location in choices:
            for name in choices:
                if name != field_name and name in os.environ:
                    return f"{name} ({field_name})"
            return field_name
    return location


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{(settings.data_dir / 'venue.db').resolve()}"
