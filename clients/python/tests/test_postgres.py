"""PostgresSource against a real server, in a database created and dropped by the test.

Needs psycopg and a server at ROLLOUT_TEST_PG_URL (default the repo's test URL). Outside CI
either missing skips; with CI=true it fails, like the Rust PostgreSQL tests.
"""

from __future__ import annotations

import os
import uuid
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from conftest import LEARNING, REPO, in_ci, wait_until

from rollout_client import PostgresSource, Refresh, RolloutClient

PG_URL = os.environ.get("ROLLOUT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")


def unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed (pip install 'rollout-client[postgres]')")
    admin_url = with_db(PG_URL, "postgres")
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.Error as e:
        unavailable(f"PostgreSQL unreachable at {admin_url}: {e}")
    name = f"rollout_py_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = with_db(PG_URL, name)
    try:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute((REPO / "migrations" / "postgres" / "0001_controller.sql").read_text())
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def commit(url: str, rollout: str, changed: dict) -> int:
    import psycopg

    with psycopg.connect(url) as db:  # one transaction, committed on exit
        row = db.execute(
            "UPDATE rollout_flags_version SET version = version + 1 WHERE id = 1 RETURNING version"
        ).fetchone()
        assert row is not None
        version = row[0]
        for key, value in changed.items():
            if value is None:
                db.execute("DELETE FROM rollout_flags WHERE key = %s", (key,))
            else:
                db.execute(
                    "INSERT INTO rollout_flags (key, value, rollout, version, updated_at, updated_by, reason)"
                    " VALUES (%s, %s, %s, %s, now(), 'test', 'test')"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version",
                    (key, value, rollout, version),
                )
        return int(version)


def test_reads_and_polls_postgres(pg_url: str) -> None:
    commit(pg_url, "learning-intelligence", dict(LEARNING))
    source = PostgresSource(pg_url)
    assert "@" not in source.describe()  # no credentials in health output
    with RolloutClient(source, refresh=Refresh(poll_interval=0.01)) as client:
        assert client.version == 1 and client.flag("LEARNING_MODE") == "shadow"
        assert client.stats()["kind"] == "postgres"
        commit(pg_url, "learning-intelligence", {"LEARNING_MODE": "full", "LEARNING_APPLY_PARAMETERS": "true",
                                                 "LEARNING_STATUS": None})
        wait_until(lambda: client.version == 2)
        assert client.flag("LEARNING_STATUS") is None
        assert client.enabled_for("learning-intelligence", "AAPL")
        wait_until(lambda: client.stats()["not_modified"] >= 5)
        assert client.stats()["full_loads"] == 2


def test_url_spelling(pg_url: str) -> None:
    commit(pg_url, "learning-intelligence", dict(LEARNING))
    with RolloutClient(pg_url, refresh="off") as client:
        assert client.version == 1
        commit(pg_url, "learning-intelligence", {"LEARNING_MODE": "ab_test"})
        assert client.refresh() and client.flag("LEARNING_MODE") == "ab_test"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_keeps_the_parents_session(pg_url: str) -> None:
    from test_fork import run_forked

    commit(pg_url, "learning-intelligence", dict(LEARNING))
    with RolloutClient(PostgresSource(pg_url), refresh=Refresh(poll_interval=0.01)) as client:
        wait_until(lambda: client.stats()["not_modified"] >= 1)  # the parent's connection is open
        pid_before = client._source._conn.info.backend_pid  # type: ignore[attr-defined]
        run_forked(client, lambda: commit(pg_url, "learning-intelligence", {"LEARNING_MODE": "full"}), "full")
        wait_until(lambda: client.flag("LEARNING_MODE") == "full")
        commit(pg_url, "learning-intelligence", {"LEARNING_MODE": "rolled_back"})
        wait_until(lambda: client.flag("LEARNING_MODE") == "rolled_back")
        # Same server session as before the fork: the child did not close it under us.
        assert client._source._conn.info.backend_pid == pid_before  # type: ignore[attr-defined]
