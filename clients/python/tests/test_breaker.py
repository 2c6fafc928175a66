"""The circuit breaker alone (manual clock), on the learning service's calls; and flag reads,
which are not behind it (they retry with backoff)."""

from __future__ import annotations

import pytest
from conftest import ManualClock, wait_until
from fake_daemon import FakeDaemon

from rollout_client import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpenError, Refresh, RolloutClient


def failing() -> None:
    raise OSError("down")


def test_opens_after_threshold_and_rejects(clock: ManualClock) -> None:
    b = CircuitBreaker(failure_threshold=3, reset_timeout=300.0, clock=clock)
    for _ in range(2):
        with pytest.raises(OSError):
            b.call(failing)
        assert b.state == CLOSED
    with pytest.raises(OSError):
        b.call(failing)
    assert b.state == OPEN
    calls = []
    with pytest.raises(CircuitOpenError):
        b.call(lambda: calls.append(1))
    assert calls == []
    clock.advance(299.9)
    assert not b.allow() and b.state == OPEN
    assert b.retry_in() == pytest.approx(0.1)


def test_success_resets_the_count(clock: ManualClock) -> None:
    b = CircuitBreaker(failure_threshold=3, clock=clock)
    for _ in range(2):
        with pytest.raises(OSError):
            b.call(failing)
    assert b.call(lambda: 7) == 7
    for _ in range(2):
        with pytest.raises(OSError):
            b.call(failing)
    assert b.state == CLOSED


def test_half_open_single_trial_then_close_or_reopen(clock: ManualClock) -> None:
    b = CircuitBreaker(failure_threshold=1, reset_timeout=300.0, clock=clock)
    with pytest.raises(OSError):
        b.call(failing)
    clock.advance(300)
    assert b.state == HALF_OPEN
    assert b.allow()  # the trial
    assert not b.allow()  # nobody else while it runs
    b.record_failure()
    assert b.state == OPEN  # re-opened, for a fresh reset_timeout
    clock.advance(299)
    assert not b.allow()
    clock.advance(1)
    assert b.allow()
    b.record_success()
    assert b.state == CLOSED and b.consecutive_failures == 0
    assert b.allow() and b.allow()


def test_half_open_reopens_on_a_single_failure(clock: ManualClock) -> None:
    b = CircuitBreaker(failure_threshold=3, reset_timeout=10.0, clock=clock)
    for _ in range(3):
        b.allow()
        b.record_failure()
    clock.advance(10)
    assert b.allow()
    b.record_failure()  # one failure is enough in half-open, not three
    assert b.state == OPEN


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(reset_timeout=-1)


@pytest.mark.parametrize("mode", ["poll", "stream"])
def test_flag_reads_retry_with_backoff_and_are_never_cut_off(daemon: FakeDaemon, mode: str) -> None:
    """No breaker on flag reads: the client keeps retrying (with backoff), serves the last
    flags it read meanwhile, and picks up what changed as soon as the daemon answers."""
    policy = Refresh(mode=mode, poll_interval=0.01, backoff_initial=0.01, backoff_max=0.02)
    with RolloutClient(daemon.url, refresh=policy, timeout=1.0,
                       defaults={"LEARNING_MODE": "default"}) as client:
        wait_until(lambda: client.version == 1)
        if mode == "stream":
            wait_until(lambda: daemon.open_streams == 1)
        daemon.go_down()
        wait_until(lambda: daemon.failed() >= 10, what="retries well past any breaker threshold")
        assert client.flag("LEARNING_MODE") == "shadow"  # last-known-good, not defaults
        stats = client.stats()
        assert stats["consecutive_failures"] >= 3 and "503" in stats["last_error"]
        assert "breaker" not in stats and stats["learning_breaker"]["calls"] == 0

        daemon.come_back()
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "ab_test"})
        wait_until(lambda: client.flag("LEARNING_MODE") == "ab_test", what="recovery")
        wait_until(lambda: client.stats()["consecutive_failures"] == 0)
        assert client.stats()["last_error"] is not None  # the history stays visible


def test_default_backoff_is_one_second_doubling_to_thirty() -> None:
    import random

    from rollout_client.client import backoff_delay

    policy = Refresh()
    assert (policy.backoff_initial, policy.backoff_max) == (1.0, 30.0)
    rng = random.Random(7)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 30.0), (50, 30.0)]:
        delays = [backoff_delay(policy, attempt, rng) for _ in range(100)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt


def test_learning_breaker_guards_discovery_parameters(daemon: FakeDaemon, clock: ManualClock) -> None:
    """The separation plan's breaker (3 failures, 300 s) stays on the learning service."""
    from rollout_client import ApiError

    path = "/learning/intelligence/discovery-parameters"
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=300.0, clock=clock)
    with RolloutClient(daemon.url, learning_breaker=breaker, refresh="off", timeout=1.0) as client:
        assert client.discovery_parameters()["optimized_weights"] == {"squeeze": 1.0}
        daemon.go_down()
        for _ in range(3):
            with pytest.raises(ApiError, match="503"):
                client.discovery_parameters()
        assert breaker.state == OPEN and daemon.count(path) == 4
        with pytest.raises(CircuitOpenError):
            client.discovery_parameters()
        assert daemon.count(path) == 4  # open: the service is not called at all
        daemon.come_back()
        clock.advance(300)
        assert client.discovery_parameters()["learned"] is True  # the half-open trial
        assert breaker.state == CLOSED
        # Flag reads are not behind it: they worked while it was open.
        assert client.refresh()
