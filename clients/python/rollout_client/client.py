"""The client a trading service holds: cached flags, refreshed in the background.

Reads never do I/O and never take a lock: they read one immutable `_View` through a single
attribute access, which is atomic in CPython, and the refresher replaces that reference
when something changed. Everything that can fail (network, database, parsing) happens in
the refresher thread, behind the circuit breaker; a failure only makes the view older.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import random
import threading
import time
import weakref
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from . import assignment
from .breaker import OPEN, CircuitBreaker
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


@dataclass(frozen=True)
class Refresh:
    """How the background thread keeps the cache fresh.

    `mode`: `auto` (stream for HTTP, poll for SQL), `stream`, `poll` or `off` (no thread;
    call `client.refresh()` yourself). Backoff is exponential with jitter so a fleet of
    workers does not reconnect in lock-step after a controller restart.
    """

    mode: str = AUTO
    poll_interval: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    stream_read_timeout: float = 45.0  # three missed 15 s keepalives: the stream is dead
    stream_retry_interval: float = 300.0  # while polling because the stream was unsupported

    def __post_init__(self) -> None:
        if self.mode not in (AUTO, STREAM, POLL, OFF):
            raise ValueError(f"refresh mode must be auto, stream, poll or off, not {self.mode!r}")
        if self.poll_interval <= 0 or self.backoff_initial <= 0 or self.backoff_max < self.backoff_initial:
            raise ValueError("poll_interval and backoff_initial must be positive, backoff_max >= backoff_initial")


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
    version: Optional[int] = None  # None: nothing known from the source yet
    prefixes: Mapping[str, str] = field(default_factory=dict)  # rollout name -> flag prefix
    loaded_at: Optional[float] = None  # wall clock


def rollout_prefixes(rows: Mapping[str, FlagRow]) -> Dict[str, str]:
    """Each rollout's flag prefix, derived from the rows it owns.

    The table has no prefix column, but every rollout writes `<prefix>MODE` and all its
    keys start with the prefix; the shortest `...MODE` key that prefixes all of them is it
    (the shortest, so a stage flag like `LEARNING_FOO_MODE` cannot win). A rollout without
    a MODE row has no prefix, which makes `enabled_for` off for it: the safe answer.
    """
    keys_by_rollout: Dict[str, List[str]] = {}
    for row in rows.values():
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


def _make_view(defaults: Mapping[str, str], snapshot: Optional[TableSnapshot], loaded_at: Optional[float]) -> _View:
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
    )


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


class RolloutClient:
    """Cached, fork-safe reader of the rollout flags.

    `source` is a `Source` or a URL (`http://host:port`, `sqlite:///path/rollout.db`,
    `postgres://...`). Construction never blocks longer than `timeout`: if the first load
    has not finished by then, the client answers from `defaults` and keeps trying in the
    background. `on_change(old_version, new_version, changed)` runs in the refresher
    thread after each new version is installed (`changed` maps key to new value, None
    for removed); keep it quick.
    """

    def __init__(
        self,
        source: Union[Source, str],
        *,
        defaults: Optional[Mapping[str, str]] = None,
        timeout: float = 1.5,
        breaker: Optional[CircuitBreaker] = None,
        refresh: Union[Refresh, str, None] = None,
        poll_interval: Optional[float] = None,
        on_change: Optional[Callable[[Optional[int], int, Dict[str, Optional[str]]], None]] = None,
        draw_cache_size: int = 65536,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._source = source_from_url(source) if isinstance(source, str) else source
        self._defaults: Dict[str, str] = {str(k): str(v) for k, v in (defaults or {}).items()}
        self.timeout = timeout
        self.breaker = breaker if breaker is not None else CircuitBreaker()
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
        self._view = _make_view(self._defaults, None, None)
        self._closed = False
        self._rng = random.Random()
        self._stats_lock = threading.Lock()
        self._last_error: Optional[str] = None
        self._last_error_at: Optional[float] = None
        self._last_attempt_at: Optional[float] = None
        self._last_success_at: Optional[float] = None
        self._counters = {"cycles": 0, "full_loads": 0, "not_modified": 0, "changes_applied": 0,
                          "stream_connects": 0, "gaps": 0, "forks": 0}
        self._stream: Optional[EventStream] = None
        self._stream_probe_at = 0.0
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._first_attempt = threading.Event()
        self._pid = os.getpid()
        _clients.add(self)
        self._start()
        self._first_attempt.wait(timeout)

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

    def rollout_flags(self, rollout: str) -> Dict[str, str]:
        """One rollout's flags keyed by suffix (`MODE`, `SEED`, ...): handy for logging."""
        view = self._view
        prefix = self._prefix(view, rollout)
        if prefix is None:
            return {}
        return {k[len(prefix):]: v for k, v in view.values.items() if k.startswith(prefix)}

    def enabled_for(self, rollout: str, unit: str) -> bool:
        """Is the new path on for `unit`? docs/assignment.md, computed locally, no I/O.

        `rollout` is a rollout name (its prefix is found from the rows' `rollout` column)
        or a flag prefix such as `LEARNING_` (works on defaults alone, before any load).
        Unknown rollout, missing or unreadable flags, other assignment version: False.
        """
        if not isinstance(unit, str):
            raise TypeError(f"unit must be str, not {type(unit).__name__}: assignment hashes UTF-8 text")
        if self._pid != os.getpid():
            self._after_fork_in_child()
        view = self._view
        prefix = self._prefix(view, rollout)
        if prefix is None:
            return False
        values = view.values
        return assignment.enabled_for(lambda suffix: values.get(prefix + suffix), unit, self._draw)

    def variant(self, rollout: str, unit: str) -> Optional[str]:
        """`"treatment"`/`"control"` during the A/B stage, None otherwise (same rules)."""
        if not isinstance(unit, str):
            raise TypeError(f"unit must be str, not {type(unit).__name__}")
        if self._pid != os.getpid():
            self._after_fork_in_child()
        view = self._view
        prefix = self._prefix(view, rollout)
        if prefix is None:
            return None
        values = view.values
        return assignment.variant(lambda suffix: values.get(prefix + suffix), unit, self._draw)

    @staticmethod
    def _prefix(view: _View, rollout: str) -> Optional[str]:
        prefix = view.prefixes.get(rollout)
        if prefix is not None:
            return prefix
        if rollout + "MODE" in view.values:
            return rollout  # given as a flag prefix
        return None

    # ------------------------------------------------------------------ health

    def stats(self) -> Dict[str, Any]:
        """Everything a health endpoint wants; cheap, but takes a small lock."""
        view = self._view
        with self._stats_lock:
            counters = dict(self._counters)
            last_error, last_error_at = self._last_error, self._last_error_at
            attempt, success = self._last_attempt_at, self._last_success_at
        thread = self._thread
        return {
            "source": self._source.describe(),
            "kind": self._source.kind,
            "mode": self._mode,
            "version": view.version,
            "using_defaults": view.version is None,
            "flags": len(view.values),
            "last_refresh_at": view.loaded_at,
            "last_attempt_at": attempt,
            "last_success_at": success,
            "last_error": last_error,
            "last_error_at": last_error_at,
            "breaker": self.breaker.snapshot(),
            "refresher_alive": bool(thread and thread.is_alive()),
            "pid": self._pid,
            "closed": self._closed,
            **counters,
        }

    # ------------------------------------------------------------------ lifecycle

    def refresh(self) -> bool:
        """One fetch through the breaker, now, in the caller's thread. True if it succeeded."""
        return self._fetch(full=False)

    def close(self) -> None:
        """Stop the refresher and release the source; reads keep answering from the cache."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
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
        return f"RolloutClient({self._source.describe()!r}, version={self.version}, breaker={self.breaker.state!r})"

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
        self.breaker._after_fork_in_child()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abandon()
        self._source.after_fork_in_child()
        self._rng.seed()  # otherwise every worker jitters its reconnects identically
        with self._stats_lock:
            self._counters["forks"] += 1
        if self._closed or self._mode == OFF:
            return  # with refresh="off" the application refreshes; nothing to restart
        self._stop = threading.Event()
        self._first_attempt = threading.Event()
        self._first_attempt.set()  # the cache carried over; nobody waits on it
        self._start()

    # ------------------------------------------------------------------ refresher

    def _record_error(self, err: BaseException) -> None:
        text = f"{type(err).__name__}: {err}"
        was_open = self.breaker.state == OPEN
        with self._stats_lock:
            self._last_error, self._last_error_at = text, time.time()
        if not was_open and self.breaker.state == OPEN:
            log.warning("rollout client: circuit open after %d failures (%s); serving %s",
                        self.breaker.consecutive_failures, text,
                        "defaults" if self._view.version is None else f"version {self._view.version}")
        else:
            log.debug("rollout client: refresh failed: %s", text)

    def _count(self, name: str, n: int = 1) -> None:
        with self._stats_lock:
            self._counters[name] += n

    def _install(self, snapshot: TableSnapshot) -> None:
        old = self._view
        new = _make_view(self._defaults, snapshot, time.time())
        self._view = new
        listener = self._on_change
        if listener is None:
            return
        changed: Dict[str, Optional[str]] = {
            k: v for k, v in new.values.items() if old.values.get(k) != v
        }
        changed.update((k, None) for k in old.values if k not in new.values)
        if changed or old.version != new.version:
            try:
                listener(old.version, snapshot.version, changed)
            except Exception:  # a listener bug must not stop the refresher
                log.exception("rollout client: on_change listener failed")

    def _fetch(self, full: bool) -> bool:
        """One guarded fetch; `full` ignores the cached version (a gap, or a first load)."""
        if not self.breaker.allow():
            return False
        with self._stats_lock:
            self._last_attempt_at = time.time()
        known = None if full else self._view.version
        try:
            snapshot = self._source.fetch(self.timeout, known)
        except Exception as e:
            self.breaker.record_failure()
            self._record_error(e)
            return False
        self.breaker.record_success()
        with self._stats_lock:
            self._last_success_at = time.time()
        if snapshot is None:
            self._count("not_modified")
            view = self._view
            self._view = _View(view.values, view.rows, view.version, view.prefixes, time.time())
        else:
            self._count("full_loads")
            self._install(snapshot)
        return True

    def _initial_load(self, first: threading.Event) -> None:
        try:
            self._fetch(full=True)
        finally:
            first.set()

    def _run(self, stop: threading.Event, first: threading.Event) -> None:
        if self._view.version is None:
            self._initial_load(first)
            if self._mode == POLL:
                stop.wait(self.refresh_policy.poll_interval)
        first.set()
        attempt = 0
        while not stop.is_set() and not self._closed:
            self._count("cycles")
            policy = self.refresh_policy
            if self._mode == POLL and isinstance(self._source, HTTPSource) and policy.mode != POLL \
                    and time.monotonic() >= self._stream_probe_at:
                self._mode = STREAM  # try the stream again: the proxy or server may have changed
            if self._mode == POLL:
                self._fetch(full=False)
                stop.wait(policy.poll_interval)
                continue
            if not self.breaker.allow():
                stop.wait(policy.poll_interval)  # real time; the breaker has its own clock
                continue
            ok = self._stream_session(stop)
            if stop.is_set():
                break
            attempt = 0 if ok else attempt + 1
            stop.wait(backoff_delay(policy, attempt, self._rng))

    def _stream_session(self, stop: threading.Event) -> bool:
        """Open the stream (the breaker already allowed it) and apply events until it ends.

        Returns True when the session was useful (it delivered a line, or lived a while),
        so the next reconnect starts from the shortest backoff; a server that accepts and
        drops at once backs off further.
        """
        assert isinstance(self._source, HTTPSource)
        policy = self.refresh_policy
        version = self._view.version
        with self._stats_lock:
            self._last_attempt_at = time.time()
        try:
            stream = self._source.open_stream(
                None if version is None else str(version), self.timeout, policy.stream_read_timeout
            )
        except StreamUnsupported as e:
            self.breaker.record_success()  # the server is up; it just does not stream
            log.info("rollout client: %s; polling every %ss", e, policy.poll_interval)
            self._mode = POLL
            self._stream_probe_at = time.monotonic() + policy.stream_retry_interval
            return True
        except Exception as e:
            self.breaker.record_failure()
            self._record_error(e)
            return False
        self.breaker.record_success()
        with self._stats_lock:
            self._last_success_at = time.time()
            self._counters["stream_connects"] += 1
        self._stream = stream
        started = time.monotonic()
        # Keepalives prove the source alive: a quiet healthy stream must not look stale.
        stream.on_line = self._heard_from_source
        if stop.is_set():  # close() ran between open and publish
            stream.close()
        try:
            for event in stream.events():
                if stop.is_set():
                    break
                self._apply_event(event.event, event.data)
        except Exception as e:  # read timeout, reset, bad event: reconnect and resume
            if not stop.is_set():
                self._record_error(e)
        finally:
            self._stream = None
            stream.close()
        return stream.lines_read > 0 or time.monotonic() - started >= 1.0

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
        if view.version is not None and version <= view.version:
            return  # replayed or duplicate
        if view.version is None or version > view.version + 1:
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
