"""The SDK surface against the fake daemon: typed getters, parameters_for, warnings, bootstrap
and the last-known-good file, writes with retries and idempotent event ids, the async client,
and how quickly a recovered daemon is noticed."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import threading
import time
from pathlib import Path
from typing import List

import pytest
from conftest import LEARNING, wait_until
from fake_daemon import FakeDaemon

from rollout_client import (
    ApiError,
    AsyncRolloutClient,
    Refresh,
    RetryPolicy,
    RolloutClient,
    event_id,
    read_snapshot_file,
)
from rollout_client.assignment import draw

FAST = Refresh(poll_interval=0.02, backoff_initial=0.01, backoff_max=0.05)
QUICK_RETRY = RetryPolicy(attempts=4, backoff_initial=0.01, backoff_max=0.02, deadline=5.0)
CONSERVATIVE = {"catalyst": 0.15, "options": 0.12, "sentiment": 0.15, "squeeze": 0.2, "technical": 0.13,
                "volume_momentum": 0.25}
LEARNED = {"catalyst": 0.1, "options": 0.1, "sentiment": 0.1, "squeeze": 0.4, "technical": 0.1,
           "volume_momentum": 0.2}
AB = {"LEARNING_MODE": "ab_test", "LEARNING_APPLY_PARAMETERS": "true", "LEARNING_AB_TEST_ENABLED": "true",
      "LEARNING_AB_TEST_PERCENTAGE": "30", "LEARNING_WEIGHTS": json.dumps(LEARNED),
      "LEARNING_CONSERVATIVE_WEIGHTS": json.dumps(CONSERVATIVE)}
UNITS = [f"SYM{i}" for i in range(300)]


def make(url: str, **kw) -> RolloutClient:
    kw.setdefault("refresh", FAST)
    kw.setdefault("timeout", 1.0)
    kw.setdefault("retry", QUICK_RETRY)
    return RolloutClient(url, **kw)


def warnings_of(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rollout_client" and r.levelno == logging.WARNING]


# ---------------------------------------------------------------------- typed reads


def test_typed_getters_with_defaults(daemon: FakeDaemon, caplog: pytest.LogCaptureFixture) -> None:
    daemon.commit("learning-intelligence", {"LEARNING_RATIO": "0.25", "LEARNING_BIG": "18446744073709551615",
                                            "LEARNING_CFG": '{"a": [1, 2]}', "LEARNING_ODD": " 5"})
    with make(daemon.url) as client:
        assert client.is_enabled("LEARNING_DATA_COLLECTION") is True
        assert client.is_enabled("LEARNING_APPLY_PARAMETERS", default=True) is False
        assert client.is_enabled("LEARNING_NOPE") is False
        assert client.is_enabled("LEARNING_NOPE", default=True) is True
        assert client.is_enabled("LEARNING_MODE", default=True) is True  # "shadow" is not a boolean
        assert client.get_number("LEARNING_SEED") == 42 and isinstance(client.get_number("LEARNING_SEED"), int)
        assert client.get_number("LEARNING_BIG") == 2**64 - 1  # exact, not a float
        assert client.get_number("LEARNING_RATIO") == 0.25
        assert client.get_number("LEARNING_ODD", 7) == 7  # parsed like Rust: " 5" is not a number
        assert client.get_number("LEARNING_NOPE") is None
        cfg = client.get_json("LEARNING_CFG")
        cfg["a"].append(3)  # a new object each call: the cache cannot be mutated
        assert client.get_json("LEARNING_CFG") == {"a": [1, 2]}
        assert client.get_json("LEARNING_MODE", {"x": 1}) == {"x": 1}
        with pytest.raises(TypeError, match="needs the unit"):
            client.is_enabled("learning-intelligence")
        client.get_number("LEARNING_NOPE")  # the same unknown key again: no second warning
    warned = warnings_of(caplog)
    assert sum("unknown flag 'LEARNING_NOPE'" in w for w in warned) == 1, warned
    assert any("'LEARNING_MODE' is 'shadow', not a boolean" in w for w in warned), warned


def test_unknown_rollout_warns_once_and_returns_the_default(daemon: FakeDaemon,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    with make(daemon.url) as client:
        for _ in range(3):
            assert client.is_enabled("learning-inteligence", "AAPL") is False  # misspelled
            assert client.enabled_for("learning-inteligence", "AAPL") is False
            assert client.variant("learning-inteligence", "AAPL") is None
        assert client.is_enabled("learning-inteligence", "AAPL", default=True) is True
        assert client.parameters_for("learning-inteligence", "AAPL", CONSERVATIVE) == CONSERVATIVE
    warned = [w for w in warnings_of(caplog) if "unknown rollout" in w]
    assert len(warned) == 1, warned
    assert "'learning-inteligence'" in warned[0] and "learning-intelligence" in warned[0]


def test_no_warning_before_anything_is_loaded(daemon: FakeDaemon, caplog: pytest.LogCaptureFixture) -> None:
    daemon.go_down()
    with make(daemon.url) as client:
        assert client.is_enabled("learning-intelligence", "AAPL") is False
        assert client.get_number("LEARNING_SEED", 1) == 1
    # Nothing known yet: a name cannot be called unknown (the outage itself may be logged).
    assert [w for w in warnings_of(caplog) if "unreachable" not in w] == []


def test_parameters_for_treatment_and_control(daemon: FakeDaemon) -> None:
    with make(daemon.url) as client:
        wait_until(lambda: daemon.open_streams == 1)
        daemon.commit("learning-intelligence", {"LEARNING_WEIGHTS": json.dumps(CONSERVATIVE),
                                                "LEARNING_CONSERVATIVE_WEIGHTS": json.dumps(CONSERVATIVE)})
        wait_until(lambda: client.version == 2)
        assert all(client.parameters_for("learning-intelligence", u) == CONSERVATIVE for u in UNITS)  # shadow

        daemon.commit("learning-intelligence", AB)
        wait_until(lambda: client.version == 3)
        treated = {u for u in UNITS if draw(42, "ab", u) < 0.30}
        assert 0 < len(treated) < len(UNITS)
        for u in UNITS:
            expected = LEARNED if u in treated else CONSERVATIVE
            assert client.parameters_for("learning-intelligence", u) == expected, u
            assert client.parameters_for("LEARNING_", u) == expected  # prefix spelling
            assert (client.parameters_for("learning-intelligence", u) == LEARNED) == client.is_enabled(
                "learning-intelligence", u)
        mine = client.parameters_for("learning-intelligence", UNITS[0])
        mine["squeeze"] = 99.0  # a copy: the cache is untouched
        assert client.parameters_for("learning-intelligence", UNITS[0])["squeeze"] != 99.0

        daemon.commit("learning-intelligence", {"LEARNING_MODE": "rollout", "LEARNING_AB_TEST_ENABLED": "false",
                                                "LEARNING_AB_TEST_PERCENTAGE": "0", "LEARNING_ROLLOUT_PERCENTAGE": "25"})
        wait_until(lambda: client.version == 4)
        inside = {u for u in UNITS if draw(42, "rollout", u) < 0.25}
        assert {u for u in UNITS if client.parameters_for("learning-intelligence", u) == LEARNED} == inside

        daemon.commit("learning-intelligence", {"LEARNING_MODE": "rolled_back", "LEARNING_APPLY_PARAMETERS": "false",
                                                "LEARNING_ROLLOUT_PERCENTAGE": "0",
                                                "LEARNING_WEIGHTS": json.dumps(CONSERVATIVE)})
        wait_until(lambda: client.version == 5)
        assert all(client.parameters_for("learning-intelligence", u) == CONSERVATIVE for u in UNITS)


def test_parameters_for_never_gives_control_units_learned_weights(daemon: FakeDaemon,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A daemon that predates CONSERVATIVE_WEIGHTS: in ab_test WEIGHTS is the learned set, so
    control units get the caller's default, never WEIGHTS; in shadow WEIGHTS is conservative."""
    legacy = {k: v for k, v in AB.items() if k != "LEARNING_CONSERVATIVE_WEIGHTS"}
    daemon.commit("learning-intelligence", legacy)
    with make(daemon.url) as client:
        control = next(u for u in UNITS if draw(42, "ab", u) >= 0.30)
        treatment = next(u for u in UNITS if draw(42, "ab", u) < 0.30)
        assert client.parameters_for("learning-intelligence", treatment) == LEARNED
        assert client.parameters_for("learning-intelligence", control) is None
        assert client.parameters_for("learning-intelligence", control, {"safe": 1.0}) == {"safe": 1.0}
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "shadow", "LEARNING_APPLY_PARAMETERS": "false",
                                                "LEARNING_WEIGHTS": json.dumps(CONSERVATIVE)})
        wait_until(lambda: client.version == 3)
        assert client.parameters_for("learning-intelligence", control) == CONSERVATIVE
    assert any("CONSERVATIVE_WEIGHTS" in w for w in warnings_of(caplog))


# ---------------------------------------------------------------------- bootstrap and snapshot file


def test_bootstrap_file_serves_until_the_source_answers(daemon: FakeDaemon, tmp_path: Path) -> None:
    boot = tmp_path / "flags.json"
    boot.write_text(json.dumps({"version": 7, "flags": [
        {"key": k, "value": v, "rollout": "learning-intelligence", "version": 7}
        for k, v in {**LEARNING, "LEARNING_MODE": "full", "LEARNING_APPLY_PARAMETERS": "true"}.items()]}))
    daemon.go_down()
    with make(daemon.url, bootstrap=boot) as client:
        assert client.origin == "bootstrap" and client.stats()["using_defaults"] is False
        assert client.flag("LEARNING_MODE") == "full"
        assert client.is_enabled("learning-intelligence", "AAPL")  # rollout names resolve from the rows
        daemon.come_back()
        wait_until(lambda: client.origin == "source", what="the source replacing the bootstrap")
        assert client.flag("LEARNING_MODE") == "shadow" and client.version == 1
        # The bootstrap's version 7 means nothing to this server: never resume from it.
        assert all(r.headers.get("Last-Event-ID") in (None, "1") for r in daemon.stream_requests())


def test_bootstrap_as_a_mapping_and_bad_bootstraps(daemon: FakeDaemon, tmp_path: Path) -> None:
    daemon.go_down()
    with make(daemon.url, bootstrap={"LEARNING_MODE": "full", "LEARNING_APPLY_PARAMETERS": "true",
                                     "LEARNING_SEED": "42", "LEARNING_ASSIGNMENT_VERSION": "1"}) as client:
        assert client.is_enabled("LEARNING_", "AAPL")  # plain values: the prefix spelling finds them
        assert client.version == 0
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(Exception, match="not JSON"):
        make(daemon.url, bootstrap=bad)
    with pytest.raises(FileNotFoundError):
        make(daemon.url, bootstrap=tmp_path / "missing.json")


def test_snapshot_file_survives_a_restart_during_an_outage(daemon: FakeDaemon, tmp_path: Path) -> None:
    lkg = tmp_path / "lkg" / "flags.json"
    lkg.parent.mkdir()
    with make(daemon.url, snapshot_file=lkg, bootstrap={"LEARNING_MODE": "bootstrap"}) as client:
        wait_until(lambda: daemon.open_streams == 1)
        daemon.commit("learning-intelligence", AB)
        wait_until(lambda: client.version == 2)
        wait_until(lambda: lkg.exists() and read_snapshot_file(lkg).version == 2, what="the snapshot file")
        wait_until(lambda: client.stats()["snapshot_writes"] >= 2)  # counted just after the rename
    assert [p.name for p in lkg.parent.iterdir()] == ["flags.json"]  # no temporary files left
    daemon.go_down()
    # A restart while the daemon is down: the file wins over the bootstrap and the defaults.
    with make(daemon.url, snapshot_file=lkg, bootstrap={"LEARNING_MODE": "bootstrap"},
              defaults={"LEARNING_MODE": "default"}) as client:
        assert client.origin == "snapshot_file" and client.version == 2
        assert client.flag("LEARNING_MODE") == "ab_test"
        treated = next(u for u in UNITS if draw(42, "ab", u) < 0.30)
        assert client.parameters_for("learning-intelligence", treated) == LEARNED
        daemon.come_back()
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "rolled_back", "LEARNING_APPLY_PARAMETERS": "false"})
        wait_until(lambda: client.flag("LEARNING_MODE") == "rolled_back")
        assert client.origin == "source"
        wait_until(lambda: read_snapshot_file(lkg).version == 3)


def test_unreadable_snapshot_file_is_ignored(daemon: FakeDaemon, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    lkg = tmp_path / "flags.json"
    lkg.write_text('{"version": 3, "flags": [')  # cut short
    daemon.go_down()
    with make(daemon.url, snapshot_file=lkg, defaults={"LEARNING_MODE": "shadow"}) as client:
        assert client.origin == "defaults" and client.flag("LEARNING_MODE") == "shadow"
    assert any("ignoring the snapshot file" in w for w in warnings_of(caplog))


# ---------------------------------------------------------------------- writes


def test_post_observations_retries_without_double_counting(daemon: FakeDaemon) -> None:
    daemon.commit("learning-intelligence", AB)
    with make(daemon.url) as client:
        obs = [{"unit": u, "metric": "return_pct", "value": 0.1 * i} for i, u in enumerate(UNITS[:50])]
        daemon.lose_answers = 1  # stored, but the answer is lost: the client must re-send
        daemon.fail_posts = 0
        result = client.post_observations("learning-intelligence", obs)
        assert (result.inserted, result.duplicates, result.requests) == (0, 50, 2)
        assert len(daemon.observations) == 50  # counted once
        sent = [b for p, b in daemon.post_bodies if p == "/v1/observations"]
        assert [o["event_id"] for o in sent[0]["observations"]] == [o["event_id"] for o in sent[1]["observations"]]
        assert result.event_ids == [o["event_id"] for o in sent[0]["observations"]]
        for o in sent[0]["observations"]:  # no variant claimed: the server applies the rule
            assert "variant" not in o

        daemon.fail_posts = 2  # 503 twice (Retry-After: 0), then stored
        result = client.post_observations("learning-intelligence", [
            {"unit": "AAPL", "variant": "treatment", "metric": "win", "value": 1, "event_id": "order-1:win",
             "observed_at": datetime.datetime(2026, 1, 5, 9, tzinfo=datetime.timezone.utc)}])
        assert (result.inserted, result.requests) == (1, 3)
        assert daemon.observations["order-1:win"]["observed_at"] == "2026-01-05T09:00:00+00:00"
        again = client.post_observations("learning-intelligence", [
            {"unit": "AAPL", "variant": "treatment", "metric": "win", "value": 1, "event_id": "order-1:win"}])
        assert (again.inserted, again.duplicates) == (0, 1)  # a caller's own id makes re-sending safe


def test_post_observations_gives_up_and_hands_back_the_ids(daemon: FakeDaemon) -> None:
    daemon.commit("learning-intelligence", AB)
    with make(daemon.url) as client:
        daemon.fail_posts = 100
        with pytest.raises(ApiError) as info:
            client.post_observations("learning-intelligence", [{"unit": "AAPL", "metric": "m", "value": 1.0}])
        err = info.value
        assert err.status == 503 and err.retryable and err.attempts == QUICK_RETRY.attempts
        daemon.fail_posts = 0
        # Re-sending exactly what the error hands back keeps the ids: still idempotent.
        first = client.post_observations("learning-intelligence", err.observations)
        second = client.post_observations("learning-intelligence", err.observations)
        assert (first.inserted, second.duplicates) == (1, 1)


def test_observations_are_checked_before_anything_is_sent(daemon: FakeDaemon) -> None:
    with make(daemon.url) as client:
        with pytest.raises(ValueError) as info:
            client.post_observations("learning-intelligence", [
                {"unit": "AAPL", "metric": "m", "value": float("nan"), "variant": "control"},
                {"unit": "MSFT", "metric": "m", "value": 1.0, "variant": "both"},
                {"unit": "TSLA", "metric": "m", "value": 1.0, "variant": "control",
                 "observed_at": datetime.datetime(2026, 1, 5)},
                {"unit": "X", "metric": "m", "value": 1.0, "variant": "control", "colour": "red"},
            ])
        text = str(info.value)
        for expected in ("row 0: value", "row 1: variant must be", "row 2: observed_at", "row 3: unknown field"):
            assert expected in text, text
        assert daemon.post_bodies == []


def test_large_posts_are_split_into_batches(daemon: FakeDaemon) -> None:
    with make(daemon.url) as client:
        rows = [{"unit": f"U{i}", "variant": "control", "metric": "m", "value": 1.0} for i in range(10_001)]
        result = client.post_observations("learning-intelligence", rows)
        assert (result.inserted, result.batches) == (10_001, 2)
        assert [len(b["observations"]) for _, b in daemon.post_bodies] == [10_000, 1]


def test_collect_helpers(daemon: FakeDaemon) -> None:
    at = datetime.datetime(2026, 1, 5, 14, 30, tzinfo=datetime.timezone.utc)
    discovery = {"symbol": "AMC", "discovery_timestamp": at, "discovery_features": {"squeeze": 0.6},
                 "discovery_score": 0.7, "action_tag": "trade_ready"}
    with make(daemon.url) as client:
        daemon.lose_answers = 1
        assert (client.collect_discovery_data(discovery).duplicates, len(daemon.learning)) == (1, 1)
        assert daemon.post_bodies[0] == ("/learning/collect/discovery-data", [
            {**discovery, "discovery_timestamp": "2026-01-05T14:30:00+00:00"}])
        thesis = {"symbol": "AMC", "thesis_timestamp": at, "recommendation": "buy", "confidence_score": 0.8}
        assert client.collect_thesis_decision([thesis]).inserted == 1
        outcome = {"symbol": "AMC", "entry_timestamp": at, "entry_price": 5.1}
        daemon.fail_posts = 1
        result = client.collect_trade_outcome(outcome)
        assert (result.inserted, result.requests) == (1, 2)


def test_event_id_is_deterministic() -> None:
    assert event_id("order-1", "win") == event_id("order-1", "win")
    assert event_id("order-1", "win") != event_id("order-1", "return_pct")
    with pytest.raises(ValueError):
        event_id()


def test_sql_client_needs_an_api_url_to_write(flags_db) -> None:
    with RolloutClient(f"sqlite://{flags_db.path}", refresh="off") as client:
        with pytest.raises(RuntimeError, match="api_url"):
            client.post_observations("learning-intelligence", [])
    d = FakeDaemon()
    try:
        with RolloutClient(f"sqlite://{flags_db.path}", refresh="off", api_url=d.url, retry=QUICK_RETRY) as client:
            r = client.post_observations("learning-intelligence",
                                         [{"unit": "A", "variant": "control", "metric": "m", "value": 1}])
            assert r.inserted == 1
    finally:
        d.close()


# ---------------------------------------------------------------------- async


def test_async_client(daemon: FakeDaemon) -> None:
    async def main() -> None:
        seen: List[int] = []
        got = asyncio.Event()
        loop_thread: List[int] = []

        async def on_change(old, new, changed) -> None:
            loop_thread.append(threading.get_ident())
            seen.append(new)
            got.set()

        client = AsyncRolloutClient(daemon.url, refresh=FAST, timeout=1.0, retry=QUICK_RETRY, on_change=on_change)
        with pytest.raises(RuntimeError, match="not started"):
            client.flag("LEARNING_MODE")
        async with client:
            assert client.flag("LEARNING_MODE") == "shadow" and client.version == 1
            await asyncio.wait_for(got.wait(), 5)
            got.clear()
            daemon.commit("learning-intelligence", AB)
            while client.version != 2:
                await asyncio.wait_for(got.wait(), 5)
                got.clear()
            assert loop_thread and set(loop_thread) == {threading.get_ident()}  # ran on the loop
            treated = next(u for u in UNITS if draw(42, "ab", u) < 0.30)
            assert client.is_enabled("learning-intelligence", treated)
            assert client.parameters_for("learning-intelligence", treated) == LEARNED
            assert client.get_number("LEARNING_AB_TEST_PERCENTAGE") == 30
            daemon.lose_answers = 1
            result = await client.post_observations(
                "learning-intelligence", [{"unit": treated, "metric": "m", "value": 2.0}])
            assert (result.duplicates, len(daemon.observations)) == (1, 1)
            assert (await client.collect_trade_outcome(
                {"symbol": "A", "entry_timestamp": "2026-01-05T14:30:00Z", "entry_price": 1.0})).inserted == 1
            assert (await client.discovery_parameters())["learned"] is True
            assert await client.refresh()
        assert not client.stats()["refresher_alive"]

    asyncio.run(main())


# ---------------------------------------------------------------------- noticing a recovered daemon


def test_a_restarted_daemon_is_noticed_before_the_backoff_expires(daemon: FakeDaemon) -> None:
    """While connections are refused, a TCP probe every probe_interval notices the daemon
    listening again, so a long backoff does not delay the rollback it brings."""
    policy = Refresh(backoff_initial=0.1, backoff_max=5.0, probe_interval=0.05)
    with RolloutClient(daemon.url, refresh=policy, timeout=1.0) as client:
        wait_until(lambda: daemon.open_streams == 1)
        daemon.refuse()
        # Six failed attempts: the next wait is the capped one, 5 s jittered to [2.5, 5].
        wait_until(lambda: client.stats()["consecutive_failures"] >= 6, what="refused reconnects")
        assert "ConnectionRefusedError" in client.stats()["last_error"]
        wait_until(lambda: client.stats()["retry_in"] is not None, what="a wait before the next attempt")
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "rolled_back"})
        back = time.monotonic()
        daemon.come_back()
        # The backoff alone would wait at least 2.5 s more.
        wait_until(lambda: client.flag("LEARNING_MODE") == "rolled_back", timeout=2.0, what="the probe")
        assert time.monotonic() - back < 2.0
        assert client.stats()["probes"] >= 1


def test_an_answered_api_call_wakes_the_backing_off_refresher(daemon: FakeDaemon) -> None:
    policy = Refresh(backoff_initial=5.0, backoff_max=5.0, probe_interval=None)
    with RolloutClient(daemon.url, refresh=policy, timeout=1.0, retry=QUICK_RETRY) as client:
        wait_until(lambda: daemon.open_streams == 1)
        daemon.go_down()  # 503s: the port answers, so no probe helps here
        wait_until(lambda: client.stats()["consecutive_failures"] >= 1)
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "rolled_back"})
        daemon.come_back()
        client.collect_trade_outcome({"symbol": "A", "entry_timestamp": "2026-01-05T14:30:00Z", "entry_price": 1.0})
        wait_until(lambda: client.flag("LEARNING_MODE") == "rolled_back", timeout=2.0, what="the wake-up")
