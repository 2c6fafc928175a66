"""Shared fixtures: the fake daemon, SQLite flag files, a manual clock, condition waits."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_daemon import FakeDaemon  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
MIGRATION = REPO / "migrations" / "sqlite" / "0001_controller.sql"

LEARNING = {
    "LEARNING_MODE": "shadow",
    "LEARNING_STATUS": "running",
    "LEARNING_DATA_COLLECTION": "true",
    "LEARNING_APPLY_PARAMETERS": "false",
    "LEARNING_AB_TEST_ENABLED": "false",
    "LEARNING_AB_TEST_PERCENTAGE": "0",
    "LEARNING_ROLLOUT_PERCENTAGE": "0",
    "LEARNING_SEED": "42",
    "LEARNING_ASSIGNMENT_VERSION": "1",
}


def in_ci() -> bool:
    """Whether this run is CI: `CI` is `true`, `1` or `yes` in any letter case.

    The one definition for the Python tests; `scripts/ci.sh` and `tests/it/support.rs` say
    the same for bash and Rust.
    """
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll a predicate against a deadline: synchronises on state, never on elapsed time."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class ManualClock:
    """A `time.monotonic` stand-in the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class FlagsDB:
    """A SQLite file with the controller's schema, written the way the controller writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with sqlite3.connect(path) as db:
            db.executescript(MIGRATION.read_text())
            db.execute("PRAGMA journal_mode=WAL")

    def commit(self, rollout: str, changed: Dict[str, Optional[str]]) -> int:
        """One change in one transaction: bump the table version, write the rows."""
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE rollout_flags_version SET version = version + 1 WHERE id = 1")
            (version,) = db.execute("SELECT version FROM rollout_flags_version").fetchone()
            for key, value in changed.items():
                if value is None:
                    db.execute("DELETE FROM rollout_flags WHERE key = ?", (key,))
                else:
                    db.execute(
                        "INSERT INTO rollout_flags (key, value, rollout, version, updated_at, updated_by, reason)"
                        " VALUES (?, ?, ?, ?, '2026-11-25T00:00:00Z', 'test@host', 'test')"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version",
                        (key, value, rollout, version),
                    )
            db.execute("COMMIT")
            return int(version)
        finally:
            db.close()


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    d = FakeDaemon()
    d.commit("learning-intelligence", dict(LEARNING))
    yield d
    d.close()


@pytest.fixture
def flags_db(tmp_path: Path) -> FlagsDB:
    db = FlagsDB(tmp_path / "rollout.db")
    db.commit("learning-intelligence", dict(LEARNING))
    return db


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
