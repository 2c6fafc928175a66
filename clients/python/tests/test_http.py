"""The client against the fake daemon: loads, the event stream, resume, gaps, polling."""

from __future__ import annotations

import threading
from typing import List, Optional, Tuple

import pytest
from conftest import LEARNING, wait_until
from fake_daemon import Blackhole, FakeDaemon

from rollout_client import CircuitBreaker, HTTPSource, Refresh, RolloutClient

FAST = Refresh(poll_interval=0.02, backoff_initial=0.01, backoff_max=0.05)


def make(daemon_url: str, **kw) -> RolloutClient:
    kw.setdefault("refresh", FAST)
    kw.setdefault("timeout", 1.0)
    return RolloutClient(daemon_url, **kw)


def test_initial_load_serves_table(daemon: FakeDaemon) -> None:
    with make(daemon.url, defaults={"LEARNING_MODE": "off", "OTHER": "x"}) as client:
        assert client.version == 1
        assert client.flag("LEARNING_MODE") == "shadow"  # the table beats defaults
        assert client.flag("OTHER") == "x"  # defaults fill what the table lacks
        assert client.flag("MISSING") is None
        assert client.flag("MISSING", "d") == "d"
        snap = client.flags()
        snap["LEARNING_MODE"] = "mutated"
        assert client.flag("LEARNING_MODE") == "shadow"  # a copy, not the cache
        assert client.rows()["LEARNING_MODE"].rollout == "learning-intelligence"
        assert client.rollout_flags("learning-intelligence")["SEED"] == "42"
        stats = client.stats()
        assert stats["kind"] == "http" and stats["mode"] == "stream"
        assert stats["consecutive_failures"] == 0 and stats["using_defaults"] is False
        assert stats["origin"] == "source" and client.origin == "source"


def test_every_change_delivered_in_order(daemon: FakeDaemon) -> None:
    seen: List[Tuple[Optional[int], int]] = []
    with make(daemon.url, on_change=lambda old, new, changed: seen.append((old, new))) as client:
        wait_until(lambda: daemon.open_streams == 1, what="stream open")
        for i in range(30):
            daemon.commit("learning-intelligence", {"LEARNING_STATUS": f"s{i}"})
        wait_until(lambda: client.version == 31, what="all changes")
        assert client.flag("LEARNING_STATUS") == "s29"
        assert [new for _, new in seen] == list(range(1, 32))
        assert all(old == new - 1 for old, new in seen[1:])
        assert client.stats()["changes_applied"] == 30
        assert client.stats()["gaps"] == 0
        # The stream was resumed from the loaded version: no snapshot needed.
        assert daemon.stream_requests()[0].headers.get("Last-Event-ID") == "1"


def test_deleted_key_and_other_rollouts(daemon: FakeDaemon) -> None:
    with make(daemon.url) as client:
        wait_until(lambda: daemon.open_streams == 1)
        daemon.commit("risk-model", {"RISK_MODE": "full", "RISK_APPLY_PARAMETERS": "true",
                                     "RISK_SEED": "7", "RISK_ASSIGNMENT_VERSION": "1"})
        daemon.commit("learning-intelligence", {"LEARNING_STATUS": None})
        wait_until(lambda: client.version == 3)
        assert client.flag("LEARNING_STATUS") is None
        assert client.enabled_for("risk-model", "AAPL")
        assert client.rollout_flags("risk-model") == {
            "MODE": "full", "APPLY_PARAMETERS": "true", "SEED": "7", "ASSIGNMENT_VERSION": "1"}


def test_reconnect_resumes_with_last_event_id(daemon: FakeDaemon) -> None:
    with make(daemon.url) as client:
        wait_until(lambda: daemon.open_streams == 1)
        daemon.commit("learning-intelligence", {"LEARNING_STATUS": "a"})
        wait_until(lambda: client.version == 2)
        # Changes the open stream never carries: the only way to get them is a replay.
        daemon.muted = True
        for value in ("b", "c", "d"):
            daemon.commit("learning-intelligence", {"LEARNING_STATUS": value})
        before = daemon.count("/v1/flags")
        daemon.muted = False
        daemon.drop_streams()
        wait_until(lambda: client.version == 5, what="replayed changes")
        assert client.flag("LEARNING_STATUS") == "d"
        resumed = daemon.stream_requests()[-1]
        assert resumed.headers.get("Last-Event-ID") == "2"
        assert daemon.count("/v1/flags") == before  # replayed, not re-fetched
        assert client.stats()["stream_connects"] >= 2


def test_snapshot_when_server_cannot_replay(daemon: FakeDaemon) -> None:
    with make(daemon.url) as client:
        wait_until(lambda: daemon.open_streams == 1)
        daemon.muted = True
        daemon.commit("learning-intelligence", {"LEARNING_STATUS": "x"})
        daemon.replay_from = 100  # the server lost its change log
        daemon.muted = False
        daemon.drop_streams()
        wait_until(lambda: client.version == 2)
        assert client.flag("LEARNING_STATUS") == "x"


def test_gap_triggers_full_refetch(daemon: FakeDaemon) -> None:
    with make(daemon.url) as client:
        wait_until(lambda: daemon.open_streams == 1)
        before = daemon.count("/v1/flags")
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "ab_test"}, hidden=True)
        daemon.commit("learning-intelligence", {"LEARNING_STATUS": "paused"})
        wait_until(lambda: client.version == 3, what="re-fetch after gap")
        assert client.flag("LEARNING_MODE") == "ab_test"  # only the re-fetch carried it
        assert client.flag("LEARNING_STATUS") == "paused"
        assert daemon.count("/v1/flags") == before + 1
        assert client.stats()["gaps"] == 1


def test_keepalives_are_ignored() -> None:
    d = FakeDaemon(keepalive=0.01)
    d.commit("learning-intelligence", dict(LEARNING))
    try:
        with make(d.url) as client:
            wait_until(lambda: d.open_streams == 1)
            d.commit("learning-intelligence", {"LEARNING_STATUS": "paused"})
            wait_until(lambda: client.version == 2)
            # Keepalives count as signs of life for health checks, without any change.
            seen = client.stats()["last_success_at"]
            wait_until(lambda: client.stats()["last_success_at"] > seen, what="keepalive liveness")
            assert client.stats()["stream_connects"] == 1
    finally:
        d.close()


def test_falls_back_to_polling_with_etag(daemon: FakeDaemon) -> None:
    daemon.stream_supported = False
    with make(daemon.url) as client:
        wait_until(lambda: client.stats()["mode"] == "poll")
        wait_until(lambda: client.stats()["not_modified"] >= 2, what="304s")
        assert any(r.status == 304 and r.headers.get("If-None-Match") == '"1"' for r in daemon.requests)
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "full"})
        wait_until(lambda: client.flag("LEARNING_MODE") == "full")
        assert client.version == 2


def test_poll_mode_on_request(daemon: FakeDaemon) -> None:
    with make(daemon.url, refresh=Refresh(mode="poll", poll_interval=0.02)) as client:
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "full"})
        wait_until(lambda: client.version == 2)
        assert daemon.count("/v1/flags/stream") == 0


def test_get_single_flag(daemon: FakeDaemon) -> None:
    source = HTTPSource(daemon.url)
    row = source.get("LEARNING_MODE", 1.0)
    assert row is not None and row.value == "shadow" and row.version == 1
    assert source.get("NOPE", 1.0) is None


def test_defaults_before_anything_is_known(daemon: FakeDaemon) -> None:
    daemon.go_down()
    defaults = {"LEARNING_MODE": "shadow", "LEARNING_APPLY_PARAMETERS": "false"}
    with make(daemon.url, defaults=defaults) as client:
        assert client.version is None
        assert client.flags() == defaults
        assert client.flag("LEARNING_MODE") == "shadow"
        assert client.enabled_for("learning-intelligence", "AAPL") is False
        assert client.variant("LEARNING_", "AAPL") is None
        assert client.stats()["using_defaults"] is True
        assert "503" in (client.stats()["last_error"] or "")
        daemon.come_back()
        wait_until(lambda: client.version == 1, what="first load after recovery")
        assert client.stats()["using_defaults"] is False


def test_startup_against_a_silent_server_returns_defaults() -> None:
    hole = Blackhole()
    done = threading.Event()
    try:
        client = RolloutClient(hole.url, defaults={"LEARNING_MODE": "shadow"}, timeout=0.2,
                               refresh=Refresh(backoff_initial=0.01, backoff_max=0.05))
        done.set()
        # Constructing returned (bounded by the timeout) and answers with defaults at once.
        assert client.flag("LEARNING_MODE") == "shadow"
        assert client.version is None
        assert len(hole.accepted) <= 2  # the load and perhaps the first stream attempt
        # It keeps trying in the background, one connection per attempt, each bounded by the
        # timeout, with backoff in between; reads keep answering from defaults meanwhile.
        wait_until(lambda: client.stats()["consecutive_failures"] >= 3, what="failed attempts")
        assert len(hole.accepted) <= client.stats()["failures"] + 1
        assert client.flag("LEARNING_MODE") == "shadow"
        client.close()
    finally:
        hole.close()
    assert done.is_set()


def test_startup_with_connection_refused_returns_defaults() -> None:
    d = FakeDaemon()
    url = d.url
    d.refuse()
    with RolloutClient(url, defaults={"A": "1"}, timeout=0.5, refresh=FAST) as client:
        assert client.flag("A") == "1"
        wait_until(lambda: client.stats()["consecutive_failures"] >= 3)
        assert "Refused" in (client.stats()["last_error"] or "")


def test_close_interrupts_an_open_stream(daemon: FakeDaemon) -> None:
    client = make(daemon.url)
    wait_until(lambda: daemon.open_streams == 1)
    client.close()
    assert not client.stats()["refresher_alive"]
    assert client.flag("LEARNING_MODE") == "shadow"  # reads still work after close


def test_enabled_for_follows_the_flags(daemon: FakeDaemon) -> None:
    from rollout_client.assignment import draw

    units = [f"SYM{i}" for i in range(300)]
    with make(daemon.url) as client:
        wait_until(lambda: daemon.open_streams == 1)
        assert not any(client.enabled_for("learning-intelligence", u) for u in units)  # shadow
        daemon.commit("learning-intelligence", {
            "LEARNING_MODE": "ab_test", "LEARNING_APPLY_PARAMETERS": "true",
            "LEARNING_AB_TEST_ENABLED": "true", "LEARNING_AB_TEST_PERCENTAGE": "10"})
        wait_until(lambda: client.version == 2)
        for u in units:
            treated = draw(42, "ab", u) < 0.10
            assert client.enabled_for("learning-intelligence", u) == treated
            assert client.enabled_for("LEARNING_", u) == treated  # prefix spelling
            assert client.variant("learning-intelligence", u) == ("treatment" if treated else "control")
        daemon.commit("learning-intelligence", {
            "LEARNING_MODE": "rollout", "LEARNING_AB_TEST_ENABLED": "false",
            "LEARNING_AB_TEST_PERCENTAGE": "0", "LEARNING_ROLLOUT_PERCENTAGE": "5"})
        wait_until(lambda: client.version == 3)
        at5 = {u for u in units if client.enabled_for("learning-intelligence", u)}
        assert at5 == {u for u in units if draw(42, "rollout", u) < 0.05}
        assert client.variant("learning-intelligence", units[0]) is None
        daemon.commit("learning-intelligence", {"LEARNING_ROLLOUT_PERCENTAGE": "25"})
        wait_until(lambda: client.version == 4)
        at25 = {u for u in units if client.enabled_for("learning-intelligence", u)}
        assert at5 <= at25 and len(at25) > len(at5)
        daemon.commit("learning-intelligence", {"LEARNING_ASSIGNMENT_VERSION": "2"})
        wait_until(lambda: client.version == 5)
        assert not any(client.enabled_for("learning-intelligence", u) for u in units)
        daemon.commit("learning-intelligence", {"LEARNING_ASSIGNMENT_VERSION": "1", "LEARNING_MODE": "full",
                                                "LEARNING_ROLLOUT_PERCENTAGE": "100"})
        wait_until(lambda: client.version == 6)
        assert all(client.enabled_for("learning-intelligence", u) for u in units)
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "rolled_back",
                                                "LEARNING_APPLY_PARAMETERS": "false"})
        wait_until(lambda: client.version == 7)
        assert not any(client.enabled_for("learning-intelligence", u) for u in units)
        assert not client.enabled_for("no-such-rollout", "AAPL")
        with pytest.raises(TypeError):
            client.enabled_for("learning-intelligence", 42)  # type: ignore[arg-type]


def test_explicit_learning_breaker_is_used(daemon: FakeDaemon) -> None:
    breaker = CircuitBreaker(failure_threshold=5, reset_timeout=1.0)
    with make(daemon.url, learning_breaker=breaker) as client:
        assert client.learning_breaker is breaker
        assert breaker.calls == 0  # flag reads never go through it
        assert client.discovery_parameters()["learned"] is True
        assert breaker.calls == 1


def test_breaker_argument_is_refused_with_a_reason(daemon: FakeDaemon) -> None:
    with pytest.raises(TypeError, match="learning_breaker"):
        make(daemon.url, breaker=CircuitBreaker())


def test_idle_stream_outlives_the_request_timeout(daemon: FakeDaemon) -> None:
    """The stream's reads wait `stream_read_timeout`, not the 1-2 s request timeout.

    A regression test: letting the request timeout govern the stream made every quiet
    stream reconnect each `timeout` seconds. Time must pass here to prove an absence.
    """
    policy = Refresh(poll_interval=0.02, backoff_initial=0.01, backoff_max=0.05, stream_read_timeout=30.0)
    with make(daemon.url, timeout=0.1, refresh=policy) as client:
        wait_until(lambda: daemon.open_streams == 1)
        threading.Event().wait(0.5)  # five request timeouts without a byte on the stream
        daemon.commit("learning-intelligence", {"LEARNING_STATUS": "paused"})
        wait_until(lambda: client.version == 2)
        assert client.stats()["stream_connects"] == 1
        assert daemon.count("/v1/flags/stream") == 1


def test_backoff_is_exponential_capped_and_jittered() -> None:
    import random

    from rollout_client.client import backoff_delay

    policy = Refresh(backoff_initial=0.5, backoff_max=30.0)
    rng = random.Random(1)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 16.0), (6, 30.0), (1000, 30.0)]:
        delays = [backoff_delay(policy, attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert len(set(delays)) > 100  # jittered


def test_server_restart_on_same_port_resumes(daemon: FakeDaemon) -> None:
    with make(daemon.url) as client:
        wait_until(lambda: daemon.open_streams == 1)
        daemon.refuse()
        wait_until(lambda: client.stats()["consecutive_failures"] >= 2, what="refused reconnects")
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "ab_test"})  # committed while we were cut off
        daemon.come_back()
        wait_until(lambda: client.flag("LEARNING_MODE") == "ab_test", what="resume after restart")
        assert daemon.stream_requests()[-1].headers.get("Last-Event-ID") == "1"
        assert "Connection" in (client.stats()["last_error"] or "")  # the refusals stay visible
