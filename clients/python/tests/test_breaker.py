"""The circuit breaker alone (manual clock) and in the client against the fake daemon."""

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
def test_client_breaker_lifecycle(daemon: FakeDaemon, clock: ManualClock, mode: str) -> None:
    """Open after 3 failures, silent while open, one trial per reset, last-known-good throughout."""
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=300.0, clock=clock)
    policy = Refresh(mode=mode, poll_interval=0.01, backoff_initial=0.01, backoff_max=0.02)
    with RolloutClient(daemon.url, breaker=breaker, refresh=policy, timeout=1.0,
                       defaults={"LEARNING_MODE": "default"}) as client:
        wait_until(lambda: client.version == 1)
        if mode == "stream":
            wait_until(lambda: daemon.open_streams == 1)
        daemon.go_down()
        wait_until(lambda: breaker.state == OPEN, what="breaker open")
        assert daemon.failed() == 3  # exactly the three failures reached the server
        assert client.flag("LEARNING_MODE") == "shadow"  # last-known-good, not defaults

        # While open: the refresher keeps cycling, the server sees nothing at all.
        seen = daemon.count()
        cycles = client.stats()["cycles"]
        wait_until(lambda: client.stats()["cycles"] >= cycles + 20, what="refresher cycles")
        assert daemon.count() == seen
        assert client.stats()["breaker"]["state"] == OPEN

        # Reset timeout passes (on the injected clock): one trial, which fails -> open again.
        clock.advance(300)
        wait_until(lambda: daemon.failed() == 4, what="half-open trial")
        wait_until(lambda: breaker.state == OPEN)
        cycles = client.stats()["cycles"]
        wait_until(lambda: client.stats()["cycles"] >= cycles + 20)
        assert daemon.count() == seen + 1
        assert client.flag("LEARNING_MODE") == "shadow"

        # The daemon comes back with news; the next trial closes the breaker.
        daemon.come_back()
        daemon.commit("learning-intelligence", {"LEARNING_MODE": "ab_test"})
        clock.advance(300)
        wait_until(lambda: client.flag("LEARNING_MODE") == "ab_test", what="recovery")
        assert breaker.state == CLOSED
        assert client.stats()["last_error"] is not None  # the history stays visible


def test_breaker_open_on_startup_serves_defaults(clock: ManualClock) -> None:
    d = FakeDaemon()
    d.go_down()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=300.0, clock=clock)
    try:
        with RolloutClient(d.url, breaker=breaker, defaults={"LEARNING_MODE": "shadow"}, timeout=1.0,
                           refresh=Refresh(mode="poll", poll_interval=0.01)) as client:
            wait_until(lambda: breaker.state == OPEN)
            assert d.count() == d.failed() == 3
            assert client.flags() == {"LEARNING_MODE": "shadow"}
            assert client.stats()["using_defaults"]
    finally:
        d.close()
