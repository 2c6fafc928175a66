"""The client a trading service holds: cached flags, refreshed in the background.

Reads never do I/O and never take a lock: they read one immutable `_View` through a single
attribute access, which is atomic in CPython, and the refresher replaces that reference
when something changed. Everything that can fail (network, database, parsing) happens in
the refresher thread; a failure only makes the view older. Failed reads of the source are
retried with capped, jittered exponential backoff (1 s doubling to 30 s), never cut off by
a circuit breaker: a rollback must reach every client as soon as the source answers again.
The circuit breaker guards the calls into the learning service (`discovery_parameters`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import random
import re
import threading
import time
import urllib.parse
import weakref
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import assignment
from .api import (
    Api,
    ApiError,
    RetryPolicy,
    WriteResult,
    normalise_observations,
    normalise_records,
)
from .breaker import CircuitBreaker, CircuitOpenError
from .persist import PathLike, read_snapshot_file, snapshot_from_document, write_snapshot_file
from .sources import (
    EventStream,
    FlagRow,
    HTTPSource,
    Source,
    SourceError,
    StreamUnsupported,
    TableSnapshot,
    snapshot_from_json,
    source_from_url,
)

log = logging.getLogger("rollout_client")

AUTO, STREAM, POLL, OFF = "auto", "stream", "poll", "off"

# Where the cached flags came from, best last: a view from the source replaces any other.
DEFAULTS, BOOTSTRAP, SNAPSHOT_FILE, SOURCE = "defaults", "bootstrap", "snapshot_file", "source"

_WARNINGS_MAX = 1000  # distinct warnings remembered; beyond that, no more are logged


@dataclass(frozen=True)
class Refresh:
    """How the background thread keeps the cache fresh.

    `mode`: `auto` (stream for HTTP, poll for SQL), `stream`, `poll` or `off` (no thread;
    call `client.refresh()` yourself). After a failure the next attempt waits
    `backoff_initial` doubling up to `backoff_max`, each wait jittered to [1/2, 1] of it so
    a fleet of workers does not reconnect in lock-step. While an HTTP daemon refuses
    connections (its process is not running), the client also checks every
    `probe_interval` seconds whether its port accepts a TCP connection (nothing is sent)
    and reconnects at once when it does: the backoff bounds the requests a struggling
    daemon gets, the probe bounds how late a restarted one is noticed. `None` disables it.
    """

    mode: str = AUTO
    poll_interval: float = 1.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    probe_interval: Optional[float] = 1.0
    stream_read_timeout: float = 45.0  # three missed 15 s keepalives: the stream is dead
    stream_retry_interval: float = 300.0  # while polling because the stream was unsupported

    def __post_init__(self) -> None:
        if self.mode not in (AUTO, STREAM, POLL, OFF):
            raise ValueError(f"refresh mode must be auto, stream, poll or off, not {self.mode!r}")
        if self.poll_interval <= 0 or self.backoff_initial <= 0 or self.backoff_max < self.backoff_initial:
            raise ValueError("poll_interval and backoff_initial must be positive, backoff_max >= backoff_initial")
        if self.probe_interval is not None and self.probe_interval <= 0:
            raise ValueError("probe_interval must be positive, or None to disable the probe")


def backoff_delay(policy: Refresh, attempt: int, rng: random.Random) -> float:
    """Exponential, capped, with "equal jitter": never zero (no hot loop against a dead
    server), never in lock-step across a fleet that lost the controller at the same moment."""
    ceiling: float = min(policy.backoff_max, policy.backoff_initial * 2.0 ** min(attempt, 30))
    return ceiling * rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class _View:
    """One immutable state of the cache; replaced wholesale, never mutated."""

    values: Mapping[str, str]  # defaults overlaid by the table: what flag() answers
    rows: Mapping[str, FlagRow] = field(default_factory=dict)
    version: Optional[int] = None  # None: only defaults known
    prefixes: Mapping[str, str] = field(default_factory=dict)  # rollout name -> flag prefix
    loaded_at: Optional[float] = None  # wall clock
    origin: str = DEFAULTS  # defaults | bootstrap | snapshot_file | source


def rollout_prefixes(rows: Mapping[str, FlagRow]) -> Dict[str, str]:
    """Each rollout's flag prefix, derived from the rows it owns.

    The table has no prefix column, but every rollout writes `<prefix>MODE` and all its
    keys start with the prefix; the shortest `...MODE` key that prefixes all of them is it
    (the shortest, so a stage flag like `LEARNING_FOO_MODE` cannot win). A rollout without
    a MODE row has no prefix, which makes `enabled_for` off for it: the safe answer.
    """
    keys_by_rollout: Dict[str, List[str]] = {}
    for row in rows.values():
        if row.rollout:
            keys_by_rollout.setdefault(row.rollout, []).append(row.key)
    out: Dict[str, str] = {}
    for rollout, keys in keys_by_rollout.items():
        candidates = sorted(
            (k[: -len("MODE")] for k in keys if k.endswith("MODE")),
            key=len,
        )
        for prefix in candidates:
            if all(k.startswith(prefix) for k in keys):
                out[rollout] = prefix
                break
    return out


def _make_view(defaults: Mapping[str, str], snapshot: Optional[TableSnapshot], loaded_at: Optional[float],
               origin: str = SOURCE) -> _View:
    if snapshot is None:
        return _View(values=MappingProxyType(dict(defaults)))
    values = dict(defaults)
    values.update((k, r.value) for k, r in snapshot.rows.items())
    return _View(
        values=MappingProxyType(values),
        rows=MappingProxyType(dict(snapshot.rows)),
        version=snapshot.version,
        prefixes=MappingProxyType(rollout_prefixes(snapshot.rows)),
        loaded_at=loaded_at,
        origin=origin,
    )


_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)


def parse_number(text: Optional[str]) -> Optional[Union[int, float]]:
    """An integer for integer text (exact, so a 64-bit seed survives), else a finite float;
    parsed like Rust (no spaces, no `_`), None when it is neither."""
    if text is None:
        return None
    if _INTEGER.fullmatch(text):
        return int(text)
    return assignment.parse_finite_f64(text)


@functools.lru_cache(maxsize=256)
def _parse_weights(text: Optional[str]) -> Optional[Tuple[Tuple[str, float], ...]]:
    """`{"feature": weight, ...}` with finite numeric weights; None when it is anything else.
    Cached by the text: a weights flag changes rarely and is read per unit."""
    if text is None:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not obj:
        return None
    items = []
    for k, v in obj.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        items.append((str(k), float(v)))
    return tuple(items)


# Fork hook registry: the only module-level state. Weak, so a dropped client is not kept alive.
_clients: "weakref.WeakSet[RolloutClient]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_clients):
        try:
            client._after_fork_in_child()
        except Exception:  # a broken client must not break the forked process
            log.exception("rollout client: restart after fork failed")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


ChangeListener = Callable[[Optional[int], int, Dict[str, Optional[str]]], None]


class RolloutClient:
    """Cached, fork-safe reader of the rollout flags, with the SDK helpers around them.

    `source` is a `Source` or a URL (`http://host:port`, `sqlite:///path/rollout.db`,
    `postgres://...`). Construction never blocks longer than `timeout`: if the first load
    has not finished by then, the client answers from the snapshot file, the bootstrap or
    `defaults` (in that order) and keeps trying in the background.
    `on_change(old_version, new_version, changed)` runs in the refresher thread after each
    new version is installed (`changed` maps key to new value, None for removed); keep it
    quick. See the README for every argument.
    """

    def __init__(
        self,
        source: Union[Source, str],
        *,
        defaults: Optional[Mapping[str, str]] = None,
        timeout: float = 1.5,
        refresh: Union[Refresh, str, None] = None,
        poll_interval: Optional[float] = None,
        on_change: Optional[ChangeListener] = None,
        draw_cache_size: int = 65536,
        bootstrap: Union[PathLike, Mapping[str, Any], None] = None,
        snapshot_file: Optional[PathLike] = None,
        api_url: Optional[str] = None,
        retry: Optional[RetryPolicy] = None,
        learning_breaker: Optional[CircuitBreaker] = None,
        breaker: None = None,
    ) -> None:
        if breaker is not None:
            raise TypeError(
                "breaker= no longer guards flag reads (they retry with backoff, see Refresh); "
                "pass learning_breaker= to guard discovery_parameters()")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._source = source_from_url(source) if isinstance(source, str) else source
        self._defaults: Dict[str, str] = {str(k): str(v) for k, v in (defaults or {}).items()}
        self.timeout = timeout
        if refresh is None:
            refresh = Refresh()
        elif isinstance(refresh, str):
            refresh = Refresh(mode=refresh)
        if poll_interval is not None:
            refresh = dataclasses.replace(refresh, poll_interval=poll_interval)
        self.refresh_policy = refresh
        self._mode = self._initial_mode()
        self._on_change = on_change
        # A draw costs ~0.1 ms of pure-Python ChaCha20 and never changes for (seed, purpose,
        # unit), so memoise it per client; lru_cache is safe under concurrent readers.
        self._draw = functools.lru_cache(maxsize=draw_cache_size)(assignment.draw)
        # The learning service keeps the separation plan's breaker: 3 failures, 300 s.
        self.learning_breaker = learning_breaker if learning_breaker is not None else CircuitBreaker()
        self._snapshot_file = os.fspath(snapshot_file) if snapshot_file is not None else None
        self._closed = False
        self._rng = random.Random()
        self._stats_lock = threading.Lock()
        self._warn_lock = threading.Lock()
        self._warned: set = set()
        self._last_error: Optional[str] = None
        self._last_error_at: Optional[float] = None
        self._last_attempt_at: Optional[float] = None
        self._last_success_at: Optional[float] = None
        self._failures = 0  # consecutive failed attempts against the source
        self._refused = False  # the last failure was a refused connection (nothing listening)
        self._retry_after: Optional[float] = None  # the server's Retry-After on the last failure
        self._next_attempt_at: Optional[float] = None  # monotonic, while waiting to retry
        self._snapshot_saved_at: Optional[float] = None
        self._counters = {"cycles": 0, "full_loads": 0, "not_modified": 0, "changes_applied": 0,
                          "stream_connects": 0, "gaps": 0, "forks": 0, "failures": 0, "probes": 0,
                          "snapshot_writes": 0, "snapshot_write_errors": 0}
        self._view = self._initial_view(bootstrap)
        self._api = self._make_api(api_url, retry or RetryPolicy())
        self._stream: Optional[EventStream] = None
        self._stream_probe_at = 0.0
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self._first_attempt = threading.Event()
        self._pid = os.getpid()
        _clients.add(self)
        self._start()
        self._first_attempt.wait(timeout)

    def _initial_view(self, bootstrap: Union[PathLike, Mapping[str, Any], None]) -> _View:
        """The last-known-good file if it is readable, else the bootstrap, else defaults."""
        if self._snapshot_file is not None and os.path.exists(self._snapshot_file):
            try:
                snap = read_snapshot_file(self._snapshot_file)
            except (OSError, SourceError) as e:
                log.warning("rollout client: ignoring the snapshot file: %s", e)
            else:
                return _make_view(self._defaults, snap, os.path.getmtime(self._snapshot_file), SNAPSHOT_FILE)
        if bootstrap is not None:
            if isinstance(bootstrap, Mapping):
                snap = snapshot_from_document(dict(bootstrap))
            else:
                snap = read_snapshot_file(bootstrap)  # a broken bootstrap is a deploy error: raise
            return _make_view(self._defaults, snap, time.time(), BOOTSTRAP)
        return _make_view(self._defaults, None, None)

    def _make_api(self, api_url: Optional[str], retry: RetryPolicy) -> Optional[Api]:
        if api_url is not None:
            http: Optional[HTTPSource] = HTTPSource(api_url)
        elif isinstance(self._source, HTTPSource):
            http = self._source  # stateless per request: shared with the refresher safely
        else:
            http = None
        if http is None:
            return None
        return Api(http, self.timeout, retry, on_success=self._daemon_answered)

    # ------------------------------------------------------------------ reads (hot path)

    def flag(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """The cached value: the table's, else the configured default, else `default`."""
        if self._pid != os.getpid():
            self._after_fork_in_child()
        return self._view.values.get(key, default)

    def flags(self) -> Dict[str, str]:
        """A copy of every cached value (defaults overlaid by the table)."""
        if self._pid != os.getpid():
            self._after_fork_in_child()
        return dict(self._view.values)

    def rows(self) -> Dict[str, FlagRow]:
        """The cached table rows with their owner and version (empty before the first load)."""
        return dict(self._view.rows)

    @property
    def version(self) -> Optional[int]:
        """The table version of the cache; None while only defaults are known."""
        return self._view.version

    @property
    def origin(self) -> str:
        """Where the cached flags come from: `source`, `snapshot_file`, `bootstrap` or `defaults`."""
        return self._view.origin

    def is_enabled(self, name: str, unit: Optional[str] = None, default: bool = False) -> bool:
        """With a `unit`: is the rollout's new path on for it (as `enabled_for`)? `name` is a
        rollout name or a flag prefix; an unknown rollout logs a warning once and answers
        `default`.

        Without a unit: the boolean flag `name` (`"true"`/`"false"`); absent, or not a
        boolean, it answers `default` (and logs a warning once).
        """
        if self._pid != os.getpid():
            self._after_fork_in_child()
        view = self._view
        if unit is not None:
            if not isinstance(unit, str):
                raise TypeError(f"unit must be str, not {type(unit).__name__}: assignment hashes UTF-8 text")
            prefix = self._resolve(view, name)
            if prefix is None:
                return default
            values = view.values
            return assignment.enabled_for(lambda suffix: values.get(prefix + suffix), unit, self._draw)
        if name in view.prefixes:
            raise TypeError(f"{name!r} is a rollout: is_enabled({name!r}, unit) needs the unit")
        value = view.values.get(name)
        if value == "true":
            return True
        if value == "false":
            return False
        self._warn_value(view, name, value, "a boolean")
        return default

    def get_number(self, key: str, default: Optional[Union[int, float]] = None) -> Optional[Union[int, float]]:
        """The flag as a number: an `int` for integer text (exact), else a finite `float`.
        Absent or not a number: `default` (and a warning once)."""
        if self._pid != os.getpid():
            self._after_fork_in_child()
        view = self._view
        value = view.values.get(key)
        number = parse_number(value)
        if number is None:
            self._warn_value(view, key, value, "a number")
            return default
        return number

    def get_json(self, key: str, default: Any = None) -> Any:
        """The flag parsed as JSON (a new object each call). Absent or not JSON: `default`
        (and a warning once)."""
        if self._pid != os.getpid():
            self._after_fork_in_child()
        view = self._view
        value = view.values.get(key)
        if value is not None:
            try:
                return json.loads(value)
            except ValueError:
                pass
        self._warn_value(view, key, value, "JSON")
        return default

    def rollout_flags(self, rollout: str) -> Dict[str, str]:
        """One rollout's flags keyed by suffix (`MODE`, `SEED`, ...): handy for logging."""
        view = self._view
        prefix = self._resolve(view, rollout)
        if prefix is None:
            return {}
        return {k[len(prefix):]: v for k, v in view.values.items() if k.startswith(prefix)}

    def enabled_for(self, rollout: str, unit: str) -> bool:
        """Is the new path on for `unit`? docs/assignment.md, computed locally, no I/O.

        `rollout` is a rollout name (its prefix is found from the rows' `rollout` column)
        or a flag prefix such as `LEARNING_` (works on defaults alone, before any load).
        Unknown rollout (a warning is logged once), missing or unreadable flags, other
        assignment version: False.
        """
        return self.is_enabled(rollout, unit, False) if isinstance(unit, str) else self._bad_unit(unit)

    def variant(self, rollout: str, unit: str) -> Optional[str]:
        """`"treatment"`/`"control"` during the A/B stage, None otherwise (same rules)."""
        if not isinstance(unit, str):
            return self._bad_unit(unit)
        if self._pid != os.getpid():
            self._after_fork_in_child()
        view = self._view
        prefix = self._resolve(view, rollout)
        if prefix is None:
            return None
        values = view.values
        return assignment.variant(lambda suffix: values.get(prefix + suffix), unit, self._draw)

    def parameters_for(self, rollout: str, unit: str, default: Optional[Mapping[str, float]] = None) -> Optional[Dict[str, float]]:
        """The weights to use for `unit`: the learned `<prefix>WEIGHTS` when the new path is
        on for it (the rule of `enabled_for`), else the conservative
        `<prefix>CONSERVATIVE_WEIGHTS`. A new dict each call; no I/O.

        `default` (copied) when the rollout is unknown (warned once) or no safe weights are
        in the flags. Against a daemon that predates `CONSERVATIVE_WEIGHTS`, `WEIGHTS` is
        used off the new path only in `shadow` and `rolled_back`, where it is conservative.
        """
        if not isinstance(unit, str):
            return self._bad_unit(unit)
        if self._pid != os.getpid():
            self._after_fork_in_child()
        view = self._view
        prefix = self._resolve(view, rollout)
        if prefix is None:
            return None if default is None else dict(default)
        values = view.values
        if assignment.enabled_for(lambda suffix: values.get(prefix + suffix), unit, self._draw):
            learned = _parse_weights(values.get(prefix + "WEIGHTS"))
            if learned is not None:
                return dict(learned)
            self._warn_once(("weights", prefix + "WEIGHTS"),
                            "rollout client: %sWEIGHTS is missing or not a weights object; using the conservative weights",
                            prefix)
        weights = _parse_weights(values.get(prefix + "CONSERVATIVE_WEIGHTS"))
        if weights is None and values.get(prefix + "MODE") in ("shadow", "rolled_back"):
            weights = _parse_weights(values.get(prefix + "WEIGHTS"))  # conservative in these modes
        if weights is None:
            self._warn_once(("weights", prefix + "CONSERVATIVE_WEIGHTS"),
                            "rollout client: no usable %sCONSERVATIVE_WEIGHTS; answering the default", prefix)
            return None if default is None else dict(default)
        return dict(weights)

    @staticmethod
    def _bad_unit(unit: Any) -> Any:
        raise TypeError(f"unit must be str, not {type(unit).__name__}: assignment hashes UTF-8 text")

    @staticmethod
    def _prefix(view: _View, rollout: str) -> Optional[str]:
        prefix = view.prefixes.get(rollout)
        if prefix is not None:
            return prefix
        if rollout + "MODE" in view.values:
            return rollout  # given as a flag prefix
        return None

    def _resolve(self, view: _View, rollout: str) -> Optional[str]:
        prefix = self._prefix(view, rollout)
        if prefix is None and view.origin != DEFAULTS:
            self._warn_once(("rollout", rollout),
                            "rollout client: unknown rollout %r: no flags of a rollout by that name or prefix "
                            "(misspelled, or not started yet); known: %s. Answering the default.",
                            rollout, ", ".join(sorted(view.prefixes)) or "none")
        return prefix

    def _warn_value(self, view: _View, key: str, value: Optional[str], expected: str) -> None:
        if value is None:
            if view.origin != DEFAULTS:  # before any load every key is unknown: not news
                self._warn_once(("key", key), "rollout client: unknown flag %r (misspelled, or not written); "
                                "answering the default", key)
        else:
            self._warn_once(("value", key, value), "rollout client: flag %r is %r, not %s; answering the default",
                            key, value[:100], expected)

    def _warn_once(self, what: Tuple[Any, ...], message: str, *args: Any) -> None:
        if what in self._warned:
            return
        with self._warn_lock:
            if what in self._warned or len(self._warned) >= _WARNINGS_MAX:
                return
            self._warned.add(what)
        log.warning(message, *args)

    # ------------------------------------------------------------------ writes and the learning service

    def post_observations(self, rollout: str, observations: Iterable[Mapping[str, Any]], *,
                          retry: Optional[RetryPolicy] = None) -> WriteResult:
        """Send A/B observations to `POST /v1/observations`; returns what was stored.

        Each observation is a mapping with `unit`, `metric`, `value` and optionally
        `variant` (default: `variant(rollout, unit)` now), `observed_at` (an aware datetime
        or RFC 3339 text) and `event_id`. Rows without an `event_id` get a new UUID before
        the first attempt, so a retry after a lost answer is skipped by the daemon as a
        duplicate instead of counted twice. Batches of up to 10,000 rows, each all or
        nothing; network errors, 429 and 5xx are retried per `retry` (the client's
        `RetryPolicy` by default). Raises `ValueError` for bad rows (nothing sent) and
        `ApiError` when the daemon refuses or stays unreachable (`e.observations` holds the
        rows with their ids: re-send those to stay idempotent).
        """
        api = self._require_api("post_observations")
        rows = normalise_observations(observations, lambda unit: self.variant(rollout, unit))
        try:
            result = api.write("/v1/observations", rows,
                               lambda chunk: {"rollout": rollout, "observations": chunk}, retry)
        except ApiError as e:
            e.observations = rows
            raise
        result.event_ids = [r["event_id"] for r in rows]
        return result

    def collect_discovery_data(self, records: Any, *, retry: Optional[RetryPolicy] = None) -> WriteResult:
        """`POST /learning/collect/discovery-data`: one record (a mapping) or many, with the
        columns of `rollout learning ingest discovery` (datetimes may be aware `datetime`s).
        Records already stored (same symbol and timestamp) count as duplicates, so retries
        are safe."""
        return self._collect("/learning/collect/discovery-data", records, retry)

    def collect_thesis_decision(self, records: Any, *, retry: Optional[RetryPolicy] = None) -> WriteResult:
        """`POST /learning/collect/thesis-decision`; as `collect_discovery_data`."""
        return self._collect("/learning/collect/thesis-decision", records, retry)

    def collect_trade_outcome(self, records: Any, *, retry: Optional[RetryPolicy] = None) -> WriteResult:
        """`POST /learning/collect/trade-outcome`; as `collect_discovery_data`."""
        return self._collect("/learning/collect/trade-outcome", records, retry)

    def _collect(self, path: str, records: Any, retry: Optional[RetryPolicy]) -> WriteResult:
        api = self._require_api(path.rsplit("/", 1)[-1])
        return api.write(path, normalise_records(records), lambda chunk: chunk, retry)

    def discovery_parameters(self, rollout: Optional[str] = None) -> Dict[str, Any]:
        """`GET /learning/intelligence/discovery-parameters`: the weights the learning service
        says to apply now, with its confidence, regime and sample size. One attempt, through
        `learning_breaker` (3 failures open it for 300 s): raises `CircuitOpenError` while
        open and `ApiError` on failure. For per-unit weights without I/O use `parameters_for`.
        """
        api = self._require_api("discovery_parameters")
        if not self.learning_breaker.allow():
            raise CircuitOpenError(
                f"learning service circuit open; retry in {self.learning_breaker.retry_in():.0f} s")
        path = "/learning/intelligence/discovery-parameters"
        if rollout is not None:
            path += "?rollout=" + urllib.parse.quote(rollout, safe="")
        try:
            answer, _ = api.call("GET", path, None, RetryPolicy(attempts=1))
        except ApiError as e:
            if e.retryable:
                self.learning_breaker.record_failure()
            else:
                self.learning_breaker.record_success()  # it answered: a 4xx is our mistake, not an outage
            raise
        except BaseException:
            self.learning_breaker.record_failure()
            raise
        self.learning_breaker.record_success()
        if not isinstance(answer, dict):
            raise ApiError("discovery-parameters: the answer is not a JSON object")
        return answer

    def _require_api(self, what: str) -> Api:
        if self._api is None:
            raise RuntimeError(f"{what} needs the daemon's HTTP API: this client reads "
                               f"{self._source.describe()}; pass api_url='http://rollout:8080'")
        return self._api

    def _daemon_answered(self) -> None:
        """An API call got an answer: if the refresher is backing off, try again now."""
        if self._failures:
            self._wakeup.set()

    # ------------------------------------------------------------------ health

    def stats(self) -> Dict[str, Any]:
        """Everything a health endpoint wants; cheap, but takes a small lock."""
        view = self._view
        with self._stats_lock:
            counters = dict(self._counters)
            last_error, last_error_at = self._last_error, self._last_error_at
            attempt, success = self._last_attempt_at, self._last_success_at
            failures, next_at = self._failures, self._next_attempt_at
        thread = self._thread
        return {
            "source": self._source.describe(),
            "kind": self._source.kind,
            "mode": self._mode,
            "version": view.version,
            "origin": view.origin,
            "using_defaults": view.origin == DEFAULTS,
            "flags": len(view.values),
            "last_refresh_at": view.loaded_at,
            "last_attempt_at": attempt,
            "last_success_at": success,
            "last_error": last_error,
            "last_error_at": last_error_at,
            "consecutive_failures": failures,
            "retry_in": None if next_at is None else max(0.0, next_at - time.monotonic()),
            "snapshot_file": self._snapshot_file,
            "snapshot_saved_at": self._snapshot_saved_at,
            "learning_breaker": self.learning_breaker.snapshot(),
            "refresher_alive": bool(thread and thread.is_alive()),
            "pid": self._pid,
            "closed": self._closed,
            **counters,
        }

    # ------------------------------------------------------------------ lifecycle

    def refresh(self) -> bool:
        """One fetch, now, in the caller's thread. True if it succeeded."""
        return self._fetch(full=False)

    def close(self) -> None:
        """Stop the refresher and release the source; reads keep answering from the cache."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wakeup.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout + 1.0)
        self._source.close()
        _clients.discard(self)

    def __enter__(self) -> "RolloutClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"RolloutClient({self._source.describe()!r}, version={self.version}, origin={self.origin!r}, "
                f"failures={self._failures})")

    def _initial_mode(self) -> str:
        mode = self.refresh_policy.mode
        if mode == AUTO:
            return STREAM if isinstance(self._source, HTTPSource) else POLL
        if mode == STREAM and not isinstance(self._source, HTTPSource):
            raise ValueError("refresh='stream' needs an HTTP source")
        return mode

    def _start(self) -> None:
        """Start the background thread; its first act is the initial load."""
        stop, first = self._stop, self._first_attempt
        if self._mode == OFF:
            target: Callable[[], None] = lambda: self._initial_load(first)
        else:
            target = lambda: self._run(stop, first)
        self._thread = threading.Thread(target=target, name=f"rollout-client-{self._source.kind}", daemon=True)
        self._thread.start()

    def _after_fork_in_child(self) -> None:
        """The parent's threads do not exist in the child: restart ours, keep the cache.

        Called from the at-fork hook and, as a fallback for forks that bypass it, from
        the pid check on reads. Locks are replaced because a parent thread may have held
        one at the moment of the fork.
        """
        pid = os.getpid()
        if self._pid == pid:
            return
        self._pid = pid
        self._stats_lock = threading.Lock()
        self._warn_lock = threading.Lock()
        self.learning_breaker._after_fork_in_child()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abandon()
        self._source.after_fork_in_child()
        self._rng.seed()  # otherwise every worker jitters its reconnects identically
        if self._api is not None:
            self._api.rng.seed()
        with self._stats_lock:
            self._counters["forks"] += 1
        if self._closed or self._mode == OFF:
            return  # with refresh="off" the application refreshes; nothing to restart
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self._first_attempt = threading.Event()
        self._first_attempt.set()  # the cache carried over; nobody waits on it
        self._start()

    # ------------------------------------------------------------------ refresher

    def _record_failure(self, err: BaseException) -> None:
        text = f"{type(err).__name__}: {err}"
        with self._stats_lock:
            self._last_error, self._last_error_at = text, time.time()
            self._failures += 1
            self._counters["failures"] += 1
            failures = self._failures
        self._refused = isinstance(err, ConnectionRefusedError)
        self._retry_after = getattr(err, "retry_after", None)
        if failures == 3:  # once per outage, not per retry
            log.warning("rollout client: %s unreachable (%s); serving %s, retrying with backoff up to %ss",
                        self._source.describe(), text, self._serving(), self.refresh_policy.backoff_max)
        else:
            log.debug("rollout client: refresh failed: %s", text)

    def _record_success(self) -> None:
        now = time.time()
        with self._stats_lock:
            failures, self._failures = self._failures, 0
            self._last_success_at = now
        self._refused = False
        self._retry_after = None
        if failures >= 3:
            log.warning("rollout client: %s answers again after %d failed attempts",
                        self._source.describe(), failures)

    def _serving(self) -> str:
        view = self._view
        return "defaults" if view.origin == DEFAULTS else f"version {view.version} ({view.origin})"

    def _count(self, name: str, n: int = 1) -> None:
        with self._stats_lock:
            self._counters[name] += n

    def _install(self, snapshot: TableSnapshot) -> None:
        old = self._view
        new = _make_view(self._defaults, snapshot, time.time(), SOURCE)
        self._view = new
        self._persist(snapshot)
        listener = self._on_change
        if listener is None:
            return
        changed: Dict[str, Optional[str]] = {
            k: v for k, v in new.values.items() if old.values.get(k) != v
        }
        changed.update((k, None) for k in old.values if k not in new.values)
        if changed or old.version != new.version or old.origin != new.origin:
            try:
                listener(old.version, snapshot.version, changed)
            except Exception:  # a listener bug must not stop the refresher
                log.exception("rollout client: on_change listener failed")

    def _persist(self, snapshot: TableSnapshot) -> None:
        """Write the last-known-good file (refresher thread; never on the read path)."""
        if self._snapshot_file is None:
            return
        try:
            write_snapshot_file(self._snapshot_file, snapshot, self._source.describe())
        except Exception as e:
            self._count("snapshot_write_errors")
            self._warn_once(("snapshot_write",), "rollout client: cannot write the snapshot file %s: %s",
                            self._snapshot_file, e)
            return
        self._snapshot_saved_at = time.time()
        self._count("snapshot_writes")

    def _fetch(self, full: bool) -> bool:
        """One fetch; `full` ignores the cached version (a gap, or a first load)."""
        with self._stats_lock:
            self._last_attempt_at = time.time()
        view = self._view
        known = None if full or view.origin != SOURCE else view.version
        try:
            snapshot = self._source.fetch(self.timeout, known)
        except Exception as e:
            self._record_failure(e)
            return False
        self._record_success()
        if snapshot is None:
            self._count("not_modified")
            view = self._view
            self._view = dataclasses.replace(view, loaded_at=time.time())
        else:
            self._count("full_loads")
            self._install(snapshot)
        return True

    def _initial_load(self, first: threading.Event) -> bool:
        try:
            return self._fetch(full=True)
        finally:
            first.set()

    def _sleep(self, stop: threading.Event, delay: float) -> None:
        """Wait `delay` seconds, or less: on close(), on a wake-up (an API call got an answer),
        or, while the HTTP daemon refuses connections, as soon as its port accepts one."""
        wakeup = self._wakeup
        deadline = time.monotonic() + delay
        with self._stats_lock:
            self._next_attempt_at = deadline
        try:
            probe = self.refresh_policy.probe_interval
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                probing = probe is not None and self._refused and isinstance(self._source, HTTPSource)
                step = min(remaining, probe * self._rng.uniform(0.5, 1.0)) if probing else remaining
                if wakeup.wait(step):
                    return
                if probing and remaining > step and not stop.is_set():
                    self._count("probes")
                    assert isinstance(self._source, HTTPSource)
                    if self._source.probe(min(self.timeout, 1.0)):
                        log.debug("rollout client: the daemon's port accepts connections again")
                        return
        finally:
            wakeup.clear()
            with self._stats_lock:
                self._next_attempt_at = None

    def _run(self, stop: threading.Event, first: threading.Event) -> None:
        if self._view.origin != SOURCE:
            ok = self._initial_load(first)
            if self._mode == POLL:
                self._sleep(stop, self.refresh_policy.poll_interval if ok else self._retry_delay())
        first.set()
        while not stop.is_set() and not self._closed:
            self._count("cycles")
            policy = self.refresh_policy
            if self._mode == POLL and isinstance(self._source, HTTPSource) and policy.mode != POLL \
                    and time.monotonic() >= self._stream_probe_at:
                self._mode = STREAM  # try the stream again: the proxy or server may have changed
            if self._mode == POLL:
                ok = self._fetch(full=False)
                self._sleep(stop, policy.poll_interval if ok else self._retry_delay())
                continue
            self._stream_session(stop)
            if stop.is_set():
                break
            # After a session that ended normally (failures == 0): about a second; after
            # failed attempts: 1 s doubling to backoff_max, jittered.
            self._sleep(stop, self._with_retry_after(backoff_delay(policy, self._failures, self._rng)))

    def _retry_delay(self) -> float:
        """The wait after `self._failures` failed polls: 1 s doubling to the cap, jittered."""
        policy = self.refresh_policy
        delay = backoff_delay(policy, max(0, self._failures - 1), self._rng)
        return self._with_retry_after(max(policy.poll_interval, delay))

    def _with_retry_after(self, delay: float) -> float:
        """A server's Retry-After is a floor for the next attempt (capped at backoff_max)."""
        retry_after = self._retry_after
        if retry_after is None:
            return delay
        return max(delay, min(retry_after, self.refresh_policy.backoff_max))

    def _stream_session(self, stop: threading.Event) -> None:
        """Open the stream and apply events until it ends.

        A session that neither delivered a line nor lived a second counts as a failure, so
        a server that accepts and drops at once is retried with growing backoff.
        """
        assert isinstance(self._source, HTTPSource)
        policy = self.refresh_policy
        view = self._view
        # Resume only from a version this source gave us; a bootstrap or snapshot file may
        # come from another database, so it gets the server's snapshot instead.
        last_id = str(view.version) if view.origin == SOURCE and view.version is not None else None
        with self._stats_lock:
            self._last_attempt_at = time.time()
        try:
            stream = self._source.open_stream(last_id, self.timeout, policy.stream_read_timeout)
        except StreamUnsupported as e:
            self._record_success()  # the server is up; it just does not stream
            log.info("rollout client: %s; polling every %ss", e, policy.poll_interval)
            self._mode = POLL
            self._stream_probe_at = time.monotonic() + policy.stream_retry_interval
            return
        except Exception as e:
            self._record_failure(e)
            return
        self._record_success()
        self._count("stream_connects")
        self._stream = stream
        started = time.monotonic()
        # Keepalives prove the source alive: a quiet healthy stream must not look stale.
        stream.on_line = self._heard_from_source
        if stop.is_set():  # close() ran between open and publish
            stream.close()
        error: Optional[BaseException] = None
        try:
            for event in stream.events():
                if stop.is_set():
                    break
                self._apply_event(event.event, event.data)
        except Exception as e:  # read timeout, reset, bad event: reconnect and resume
            error = e
        finally:
            self._stream = None
            stream.close()
        if stop.is_set():
            return
        if stream.lines_read == 0 and time.monotonic() - started < 1.0:
            self._record_failure(error or SourceError("the stream closed at once"))
        elif error is not None:
            with self._stats_lock:
                self._last_error, self._last_error_at = f"{type(error).__name__}: {error}", time.time()

    def _heard_from_source(self) -> None:
        self._last_success_at = time.time()  # one float store: no lock needed

    def _apply_event(self, kind: str, data: str) -> None:
        if kind == "snapshot":
            # The server's complete state: authoritative even if older (a restored database).
            self._install(snapshot_from_json(json.loads(data)))
            self._count("full_loads")
            return
        if kind != "change":
            return
        change = json.loads(data)
        version = change.get("version")
        changed = change.get("changed")
        rollout = change.get("rollout")
        if not isinstance(version, int) or not isinstance(changed, dict) or not isinstance(rollout, str):
            raise SourceError(f"malformed change event: {data[:200]}")
        view = self._view
        if view.origin == SOURCE and view.version is not None and version <= view.version:
            return  # replayed or duplicate
        if view.origin != SOURCE or view.version is None or version > view.version + 1:
            self._count("gaps")
            self._fetch(full=True)  # we missed something: only the whole table is safe
            return
        rows = dict(view.rows)
        for key, value in changed.items():
            if value is None:
                rows.pop(key, None)
            elif isinstance(value, str):
                rows[key] = FlagRow(key, value, rollout, version)
            else:
                raise SourceError(f"change event with a non-text value for {key}")
        self._install(TableSnapshot(version, rows))
        self._count("changes_applied")
