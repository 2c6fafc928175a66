"""End to end over HTTP with the real daemon: `rollout daemon --listen 127.0.0.1:0` serves
the contract of the README; the client follows its event stream while the CLI, another
process, changes the rollout.

The daemon logs the address it bound ("HTTP API listening on http://HOST:PORT"). The
binary is found as in test_e2e.py (ROLLOUT_BIN; skipped outside CI when absent).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from conftest import wait_until
from test_e2e import CONFIG, rollout_bin, run

from rollout_client import RolloutClient

ADDRESS = re.compile(r"HTTP API listening on (http://[0-9.:]+)")


def start_daemon(binary: Path, cfg: Path, db: Path, log: Path, listen: str) -> tuple[subprocess.Popen, str]:
    """Starts `rollout daemon --listen LISTEN` and returns it with the address it bound."""
    log.write_bytes(b"")
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [str(binary), "--config", str(cfg), "--database", f"sqlite://{db}", "daemon", "--listen", listen],
            stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "ROLLOUT_LOG": "info", "ROLLOUT_ACTOR": "pytest@http"},
        )
    found: list[str] = []

    def bound() -> bool:
        m = ADDRESS.search(log.read_text(errors="replace"))
        if m:
            found.append(m.group(1))
        return bool(m) or proc.poll() is not None

    wait_until(bound, timeout=30, what="the daemon's HTTP address")
    if not found:
        proc.wait(timeout=10)
        raise AssertionError(f"the daemon exited:\n{log.read_text(errors='replace')}")
    return proc, found[0]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, Path, Path, Path]]:
    binary = rollout_bin()
    cfg = tmp_path / "rollout.yaml"
    cfg.write_text(CONFIG)
    db = tmp_path / "rollout.db"
    proc, url = start_daemon(binary, cfg, db, tmp_path / "daemon.log", "127.0.0.1:0")
    try:
        yield url, binary, cfg, db
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def test_client_follows_the_real_daemon(daemon: tuple[str, Path, Path, Path]) -> None:
    url, binary, cfg, db = daemon
    wait_until(lambda: get_json(f"{url}/v1/flags")["version"] >= 1, timeout=30, what="the first tick")
    with RolloutClient(url) as client:
        assert client.stats()["mode"] == "stream"
        assert client.flag("LEARNING_MODE") == "shadow"
        assert client.version == get_json(f"{url}/v1/flags")["version"]

        run(binary, cfg, db, "promote", "learning-intelligence", "--reason", "http e2e")
        wait_until(lambda: client.flag("LEARNING_MODE") == "ab_test", what="the change by the stream")
        assignments = json.loads(run(binary, cfg, db, "assign", "learning-intelligence", "AAPL", "MSFT", "--json"))
        for a in assignments:
            assert client.enabled_for("learning-intelligence", a["unit"]) == a["enabled"]

        run(binary, cfg, db, "rollback", "learning-intelligence", "--reason", "http e2e")
        wait_until(lambda: client.flag("LEARNING_MODE") == "rolled_back", what="the rollback by the stream")
        stats = client.stats()
        assert stats["changes_applied"] >= 2, stats
        assert stats["gaps"] == 0, stats
        assert client.version == get_json(f"{url}/v1/flags")["version"]


def test_client_keeps_the_last_flags_while_the_daemon_is_down(tmp_path: Path) -> None:
    binary = rollout_bin()
    cfg = tmp_path / "rollout.yaml"
    cfg.write_text(CONFIG)
    db = tmp_path / "rollout.db"
    proc, url = start_daemon(binary, cfg, db, tmp_path / "a.log", "127.0.0.1:0")
    try:
        wait_until(lambda: get_json(f"{url}/v1/flags")["version"] >= 1, timeout=30, what="the first tick")
        with RolloutClient(url, refresh="off") as client:
            assert client.flag("LEARNING_MODE") == "shadow"
            proc.terminate()
            proc.wait(timeout=10)
            for _ in range(5):  # no breaker: every read attempt reaches for the daemon
                assert not client.refresh()
            assert client.stats()["consecutive_failures"] == 5
            assert client.flag("LEARNING_MODE") == "shadow", "last-known-good flags"

            # The daemon comes back on the same address; the very next read gets the change.
            proc, _ = start_daemon(binary, cfg, db, tmp_path / "b.log", url.removeprefix("http://"))
            run(binary, cfg, db, "promote", "learning-intelligence", "--reason", "while the client was cut off")
            assert client.refresh()
            assert client.flag("LEARNING_MODE") == "ab_test"
            assert client.stats()["consecutive_failures"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
