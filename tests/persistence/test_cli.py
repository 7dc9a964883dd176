"""`venue db upgrade` and `venue db rebuild` on a real journal directory."""

from __future__ import annotations

from pathlib import Path

from tests.persistence.flows import build_flow, dump
from tests.persistence.test_persistence import run_journaled_venue
from typer.testing import CliRunner

from venue.persistence.cli import db_app
from venue.persistence.database import current_revision, make_engine
from venue.persistence.projector import Projector, catch_up
from venue.persistence.queries import Queries


def test_upgrade_then_rebuild_projects_the_whole_journal(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "var"
    result = runner.invoke(
        db_app, ["upgrade", "--data-dir", str(data_dir), "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    flow, _ = build_flow(11, steps=80)
    last = run_journaled_venue(data_dir / "journal", [c.command for c in flow.history])
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == "0001"
        Queries(engine).create_api_key(
            key_id="k",
            account_id=1,
            role="trader",
            label="",
            secret_sha256="0" * 64,
            created_at_ns=1,
        )
        result = runner.invoke(
            db_app, ["rebuild", "--data-dir", str(data_dir), "--database-url", database_url]
        )
        assert result.exit_code == 0, result.output
        assert f"rebuilt to seq {last:,}" in result.output
        assert "api_keys" in result.output
        rebuilt = dump(engine)
        assert Queries(engine).last_seq() == last
        assert [k.key_id for k in Queries(engine).api_keys()] == ["k"]
        # The same as projecting the journal incrementally.
        from venue.persistence.projector import clear_projections

        clear_projections(engine)
        catch_up(Projector(engine), data_dir / "journal", chunk_commands=5)
        assert dump(engine) == rebuilt
    finally:
        engine.dispose()


def test_rebuild_without_a_journal_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(db_app, ["rebuild", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(db_app, ["upgrade", "--data-dir", str(tmp_path / "var")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "venue.db").exists()
