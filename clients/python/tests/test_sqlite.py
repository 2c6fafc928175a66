"""The client reading the controller's SQLite file directly."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from conftest import MIGRATION, FlagsDB, wait_until

from rollout_client import Refresh, RolloutClient, SourceError, SQLiteSource
from rollout_client.assignment import draw
from rollout_client.sources import source_from_url

FAST = Refresh(poll_interval=0.01)


def test_schema_is_the_controllers_migration(flags_db: FlagsDB) -> None:
    assert MIGRATION.exists()
    with sqlite3.connect(flags_db.path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"rollout_flags", "rollout_flags_version"} <= tables


def test_reads_and_follows_the_version(flags_db: FlagsDB) -> None:
    with RolloutClient(SQLiteSource(str(flags_db.path)), refresh=FAST) as client:
        assert client.version == 1
        assert client.flag("LEARNING_MODE") == "shadow"
        assert client.stats()["mode"] == "poll" and client.stats()["kind"] == "sqlite"
        flags_db.commit("learning-intelligence", {"LEARNING_MODE": "ab_test", "LEARNING_STATUS": None})
        wait_until(lambda: client.version == 2)
        assert client.flag("LEARNING_MODE") == "ab_test"
        assert client.flag("LEARNING_STATUS") is None
        assert client.rows()["LEARNING_MODE"].version == 2


def test_rereads_only_when_the_version_moved(flags_db: FlagsDB) -> None:
    with RolloutClient(SQLiteSource(str(flags_db.path)), refresh=FAST) as client:
        wait_until(lambda: client.stats()["not_modified"] >= 10, what="cheap polls")
        assert client.stats()["full_loads"] == 1
        flags_db.commit("learning-intelligence", {"LEARNING_STATUS": "paused"})
        wait_until(lambda: client.version == 2)
        assert client.stats()["full_loads"] == 2


def test_url_spelling_matches_the_daemon(flags_db: FlagsDB) -> None:
    src = source_from_url(f"sqlite://{flags_db.path}")
    assert isinstance(src, SQLiteSource) and src.path == str(flags_db.path)
    with RolloutClient(f"sqlite://{flags_db.path}", refresh=FAST) as client:
        assert client.version == 1


def test_opens_read_only(flags_db: FlagsDB) -> None:
    src = SQLiteSource(str(flags_db.path))
    db = src._connect(1.0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("DELETE FROM rollout_flags")
    finally:
        db.close()


def test_missing_file_gives_defaults_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    policy = Refresh(poll_interval=0.01, backoff_initial=0.01, backoff_max=0.05)
    with RolloutClient(SQLiteSource(str(path)), defaults={"LEARNING_MODE": "shadow"}, refresh=policy) as client:
        assert client.flags() == {"LEARNING_MODE": "shadow"}
        wait_until(lambda: client.stats()["consecutive_failures"] >= 3)
        assert not path.exists()  # a read-only open never creates the file
        assert "cannot open" in (client.stats()["last_error"] or "")
        db = FlagsDB(path)
        db.commit("learning-intelligence", {"LEARNING_MODE": "full"})
        wait_until(lambda: client.version == 1)  # retried with backoff, never cut off
        assert client.flag("LEARNING_MODE") == "full"


def test_source_errors_are_source_errors(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with pytest.raises(SourceError):
        SQLiteSource(str(path)).fetch(1.0)


def test_enabled_for_per_mode(flags_db: FlagsDB) -> None:
    units = [f"ACC-{i}" for i in range(200)]
    with RolloutClient(f"sqlite://{flags_db.path}", refresh=FAST) as client:
        assert not any(client.enabled_for("learning-intelligence", u) for u in units)
        flags_db.commit("learning-intelligence", {"LEARNING_MODE": "rollout", "LEARNING_APPLY_PARAMETERS": "true",
                                                  "LEARNING_ROLLOUT_PERCENTAGE": "50"})
        wait_until(lambda: client.version == 2)
        on = {u for u in units if client.enabled_for("learning-intelligence", u)}
        assert on == {u for u in units if draw(42, "rollout", u) < 0.5}
        flags_db.commit("learning-intelligence", {"LEARNING_STATUS": "paused"})  # pause keeps exposure
        wait_until(lambda: client.version == 3)
        assert {u for u in units if client.enabled_for("learning-intelligence", u)} == on


def test_wal_reader_sees_uncheckpointed_commits(flags_db: FlagsDB) -> None:
    # The daemon's writes can sit in the -wal file; a read-only reader must still see them.
    writer = sqlite3.connect(flags_db.path)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    writer.execute("SELECT version FROM rollout_flags_version").fetchall()  # keeps the -wal alive
    try:
        with RolloutClient(f"sqlite://{flags_db.path}", refresh=FAST) as client:
            flags_db.commit("learning-intelligence", {"LEARNING_MODE": "full"})
            assert os.path.exists(str(flags_db.path) + "-wal")
            wait_until(lambda: client.flag("LEARNING_MODE") == "full")
    finally:
        writer.close()
