"""End to end with the real controller binary: `rollout tick` writes, the client reads.

The binary comes from env ROLLOUT_BIN (default ../../target/debug/rollout from
clients/python). Outside CI a missing binary skips; with CI=true it fails, so a broken
build path cannot silently turn the cross-language check off.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import in_ci, wait_until

from rollout_client import Refresh, RolloutClient
from rollout_client.assignment import draw

PACKAGE = Path(__file__).resolve().parents[1]


def rollout_bin() -> Path:
    configured = os.environ.get("ROLLOUT_BIN")
    path = Path(configured) if configured else PACKAGE / ".." / ".." / "target" / "debug" / "rollout"
    if not path.is_absolute():
        path = PACKAGE / path
    path = path.resolve()
    if path.is_file() and os.access(path, os.X_OK):
        return path
    message = f"rollout binary not found at {path} (set ROLLOUT_BIN)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


CONFIG = """\
database: sqlite://unused.db
rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - shadow: { duration: 1d }
      - ab_test: { percentage: 10, duration: 1d }
      - canary: { percentage: 25, duration: 1d }
      - full: {}
"""


def run(binary: Path, cfg: Path, db: Path, *args: str) -> str:
    proc = subprocess.run(
        [str(binary), "--config", str(cfg), "--database", f"sqlite://{db}", *args],
        capture_output=True, text=True, timeout=30, env={**os.environ, "ROLLOUT_ACTOR": "pytest@e2e"},
    )
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_client_reads_what_the_controller_writes(tmp_path: Path) -> None:
    binary = rollout_bin()
    cfg = tmp_path / "rollout.yaml"
    cfg.write_text(CONFIG)
    db = tmp_path / "rollout.db"
    run(binary, cfg, db, "tick")

    with RolloutClient(f"sqlite://{db}", refresh=Refresh(poll_interval=0.02)) as client:
        assert client.flag("LEARNING_MODE") == "shadow"
        assert client.flag("LEARNING_SEED") == "42"
        assert client.flag("LEARNING_ASSIGNMENT_VERSION") == "1"
        table = json.loads(run(binary, cfg, db, "flags", "--json"))
        assert client.version == table["version"]
        assert client.flags() == {row["key"]: row["value"] for row in table["flags"]}
        assert not client.enabled_for("learning-intelligence", "AAPL")

        run(binary, cfg, db, "promote", "learning-intelligence", "--reason", "e2e")
        wait_until(lambda: client.flag("LEARNING_MODE") == "ab_test", what="A/B flags")
        units = [f"SYM{i}" for i in range(200)]
        treated = {u for u in units if client.variant("learning-intelligence", u) == "treatment"}
        assert treated == {u for u in units if draw(42, "ab", u) < 0.10}
        out = json.loads(run(binary, cfg, db, "assign", "learning-intelligence", *units[:20], "--json"))
        check_assign_output(out, client, units[:20])
        assert {row["variant"] for row in out} == {"treatment", "control"} or treated.isdisjoint(units[:20])

        run(binary, cfg, db, "promote", "learning-intelligence", "--reason", "e2e")
        wait_until(lambda: client.flag("LEARNING_MODE") == "rollout", what="canary flags")
        mine = {u for u in units if client.enabled_for("learning-intelligence", u)}
        assert mine == {u for u in units if draw(42, "rollout", u) < 0.25}

        # The controller's own view of each unit agrees with the client's, bit for bit.
        out = json.loads(run(binary, cfg, db, "assign", "learning-intelligence", *units[:20], "--json"))
        check_assign_output(out, client, units[:20])

        run(binary, cfg, db, "promote", "learning-intelligence", "--reason", "e2e")
        wait_until(lambda: client.flag("LEARNING_MODE") == "full")
        assert all(client.enabled_for("learning-intelligence", u) for u in units)
        run(binary, cfg, db, "rollback", "learning-intelligence", "--reason", "e2e")
        wait_until(lambda: client.flag("LEARNING_MODE") == "rolled_back")
        assert not any(client.enabled_for("learning-intelligence", u) for u in units)


def check_assign_output(out: object, client: RolloutClient, units: list) -> None:
    """`rollout assign --json`: a list of {unit, u_ab, variant, u_rollout, ..., enabled}."""
    assert isinstance(out, list) and [row["unit"] for row in out] == units, json.dumps(out)[:300]
    for row in out:
        unit = row["unit"]
        assert row["u_ab"] == draw(42, "ab", unit), row
        assert row["u_rollout"] == draw(42, "rollout", unit), row
        assert row["enabled"] == client.enabled_for("learning-intelligence", unit), row
        if client.flag("LEARNING_MODE") == "ab_test":
            # `assign` shows the configured A/B split in every stage; the client's variant()
            # is None outside the A/B stage (nothing to attribute), so compare only there.
            assert row["variant"] == client.variant("learning-intelligence", unit), row
        else:
            assert client.variant("learning-intelligence", unit) is None


def test_assign_agrees_with_this_module_on_thousands_of_units(tmp_path: Path) -> None:
    """`rollout assign --json` (Rust) and `rollout_client.assignment` (Python), each reading
    the same stored flags, decide 3,000 units alike in every stage, also after a hand edit."""
    import sqlite3

    from rollout_client import assignment

    binary = rollout_bin()
    cfg = tmp_path / "rollout.yaml"
    cfg.write_text(CONFIG)
    db = tmp_path / "rollout.db"
    units = [f"unit-{i}" for i in range(3000)]

    def stored_flags() -> dict:
        with sqlite3.connect(db) as conn:
            return dict(conn.execute("SELECT key, value FROM rollout_flags WHERE rollout = 'learning-intelligence'"))

    def compare() -> int:
        rows = json.loads(run(binary, cfg, db, "assign", "learning-intelligence", *units, "--json"))
        flags = stored_flags()
        flag = lambda suffix: flags.get("LEARNING_" + suffix)  # noqa: E731
        assert [r["unit"] for r in rows] == units
        for row in rows:
            unit = row["unit"]
            assert row["enabled"] == assignment.enabled_for(flag, unit), row
            assert row["variant"] == assignment.variant(flag, unit), row
        return sum(r["enabled"] for r in rows)

    run(binary, cfg, db, "tick")
    assert compare() == 0  # shadow
    run(binary, cfg, db, "promote", "learning-intelligence", "--reason", "e2e")
    assert 200 < compare() < 400  # ab_test, 10 %
    run(binary, cfg, db, "promote", "learning-intelligence", "--reason", "e2e")
    assert 600 < compare() < 900  # canary, 25 %
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE rollout_flags SET value = '60.5' WHERE key = 'LEARNING_ROLLOUT_PERCENTAGE'")
    assert 1650 < compare() < 1980
    for value in ("1e1", "+10", "150"):
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE rollout_flags SET value = ? WHERE key = 'LEARNING_ROLLOUT_PERCENTAGE'", (value,))
        assert compare() == 0, value
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE rollout_flags SET value = '25' WHERE key = 'LEARNING_ROLLOUT_PERCENTAGE'")
        conn.execute("UPDATE rollout_flags SET value = '2' WHERE key = 'LEARNING_ASSIGNMENT_VERSION'")
    assert compare() == 0
