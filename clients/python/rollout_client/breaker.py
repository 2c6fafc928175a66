"""Circuit breaker in front of the flag source.

A trading process must not spend its time (or the controller's) on a source that is down:
after `failure_threshold` consecutive failures the breaker opens and no call reaches the
source until `reset_timeout` has passed; then exactly one trial call decides whether to
close again. Defaults follow the separation plan: open after 3 failures, retry after 300 s.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, TypeVar

T = TypeVar("T")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitOpenError(RuntimeError):
    """Raised instead of calling the source while the breaker is open."""


class CircuitBreaker:
    """Consecutive-failure breaker with an injectable monotonic clock.

    The clock is injectable so tests can cross a 300 s reset timeout without sleeping.
    The lock is only taken around state transitions, never while the source is called.
    """

    def __init__(
        self,
        failure_threshold: int = 3,
        reset_timeout: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self.calls = 0
        self.rejected = 0

    @property
    def state(self) -> str:
        """Current state; an open breaker whose timeout has passed reports half-open."""
        with self._lock:
            if self._state == OPEN and self.clock() - self._opened_at >= self.reset_timeout:
                return HALF_OPEN
            return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds (on the breaker's clock) until an open breaker lets a trial through."""
        with self._lock:
            if self._state != OPEN:
                return 0.0
            return max(0.0, self.reset_timeout - (self.clock() - self._opened_at))

    def allow(self) -> bool:
        """Claim permission for one call; a True answer must be followed by a record_*."""
        with self._lock:
            if self._state == CLOSED:
                self.calls += 1
                return True
            if self._state == OPEN:
                if self.clock() - self._opened_at < self.reset_timeout:
                    self.rejected += 1
                    return False
                self._state = HALF_OPEN
                self._trial_in_flight = False
            # half-open: a single trial at a time, so a recovering source is not stampeded
            if self._trial_in_flight:
                self.rejected += 1
                return False
            self._trial_in_flight = True
            self.calls += 1
            return True

    def record_success(self) -> None:
        with self._lock:
            self._state = CLOSED
            self._failures = 0
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_in_flight = False
            if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = OPEN
                self._opened_at = self.clock()

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` through the breaker; any exception counts as a failure and propagates."""
        if not self.allow():
            raise CircuitOpenError("circuit breaker is open")
        try:
            result = fn()
        except BaseException:
            self.record_failure()
            raise
        self.record_success()
        return result

    def _after_fork_in_child(self) -> None:
        """A lock held by a parent thread at fork time would never be released in the child."""
        self._lock = threading.Lock()
        self._trial_in_flight = False

    def snapshot(self) -> Dict[str, Any]:
        """State for health endpoints."""
        state = self.state
        return {
            "state": state,
            "consecutive_failures": self._failures,
            "failure_threshold": self.failure_threshold,
            "reset_timeout": self.reset_timeout,
            "retry_in": self.retry_in(),
            "calls": self.calls,
            "rejected": self.rejected,
        }

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r}, failures={self._failures})"
