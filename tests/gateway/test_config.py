"""Settings: names operators use, a TOML file, and startup stopped by anything wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from venue.config import SettingsError, database_url, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("VENUE_") or name in (
            "PORT", "HOST", "DATABASE_URL", "LOG_LEVEL", "MATCHING_INTERVAL_MS",
            "ORDER_BOOK_DEPTH", "RATE_LIMIT_PER_MINUTE", "JWT_SECRET_KEY", "REDIS_URL",
        ):  # fmt: skip
            monkeypatch.delenv(name)


def test_defaults_are_the_embedded_set_up() -> None:
    settings = load_settings()
    assert settings.data_dir == Path("var")
    assert settings.fsync == "batch"
    assert database_url(settings).endswith("var/venue.db")
    assert database_url(settings).startswith("sqlite:///")


def test_operator_names_and_venue_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("MATCHING_INTERVAL_MS", "250")
    monkeypatch.setenv("VENUE_ORDER_BOOK_DEPTH", "20")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    settings = load_settings()
    assert (settings.port, settings.tick_interval_ms, settings.order_book_depth) == (9001, 250, 20)
    assert database_url(settings) == "postgresql://u@h/db"


def test_the_environment_beats_the_file_and_options_beat_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "venue.toml"
    config.write_text('port = 7000\norder_book_depth = 7\nlog_level = "debug"\n')
    monkeypatch.setenv("PORT", "7100")
    settings = load_settings(config)
    assert (settings.port, settings.order_book_depth, settings.log_level) == (7100, 7, "debug")
    assert load_settings(config, port=7200).port == 7200


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("VENUE_COLOUR", "red", "VENUE_COLOUR"),
        ("VENUE_PORT", "eighty", "VENUE_PORT"),
        ("PORT", "70000", "port"),
        ("VENUE_FSYNC", "sometimes", "fsync"),
        ("DATABASE_URL", "mysql://x", "database_url"),
        ("JWT_SECRET_KEY", "short", "jwt_secret_key"),
        ("REDIS_URL", "http://x", "redis_url"),
    ],
)
def test_a_bad_setting_stops_startup_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_an_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "venue.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings(config)


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", "s" * 40)
    settings = load_settings()
    assert "s" * 40 not in repr(settings)
