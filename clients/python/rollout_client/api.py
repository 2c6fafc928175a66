"""Calls into the daemon's write and learning endpoints: observations, learning data, and the
learning service's `discovery-parameters`.

Writes are retried with capped, jittered exponential backoff, and are safe to retry: every
observation carries an `event_id` (generated before the first attempt when the caller gave
none) and the daemon skips ids it already stored; learning records are keyed by symbol and
timestamp and skipped the same way. A request whose answer was lost is therefore re-sent
without being counted twice.
"""

from __future__ import annotations

import datetime
import http.client
import json
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .sources import HTTPSource, SourceError, retry_after_seconds

MAX_ROWS = 10_000  # the daemon's limit per request (413 above)
MAX_BYTES = 4 * 1024 * 1024 - 64 * 1024  # under the daemon's 4 MiB body limit, with room to spare
RETRYABLE_STATUS = frozenset((408, 429, 500, 502, 503, 504))
EVENT_ID_NAMESPACE = uuid.UUID("5d0f6a0e-8f3c-4c8e-9a43-6f1d2b1c7e55")


def event_id(*parts: Any) -> str:
    """A deterministic event id from the parts that identify an observation (for example the
    order id and the metric): re-sending the same observation later, even from another
    process, then never counts it twice."""
    if not parts:
        raise ValueError("event_id needs at least one part")
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "\x1f".join(str(p) for p in parts)))


@dataclass(frozen=True)
class RetryPolicy:
    """How writes are retried: `attempts` tries in all, waiting `backoff_initial` doubling to
    `backoff_max` (jittered in [1/2, 1] of that) between them, all within `deadline` seconds.
    A `Retry-After` from the daemon (429, 503) is honoured, capped at `backoff_max`."""

    attempts: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    deadline: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff_initial <= 0 or self.backoff_max < self.backoff_initial or self.deadline <= 0:
            raise ValueError("backoff_initial and deadline must be positive, backoff_max >= backoff_initial")

    def delay(self, failures: int, rng: random.Random) -> float:
        ceiling: float = min(self.backoff_max, self.backoff_initial * 2.0 ** min(failures - 1, 30))
        return ceiling * rng.uniform(0.5, 1.0)


class ApiError(SourceError):
    """The daemon refused a request, or it could not be delivered within the retry policy.

    `status` is the HTTP status (None: no answer at all), `rows` the per-row errors of a 422
    (`[{"row": index, "error": "..."}]`, indexes into the batch that was sent), `retryable`
    whether trying again later may succeed. For writes, `committed` holds what earlier
    batches of the same call stored, and `observations` the rows with their event ids, to
    re-send as they are.
    """

    def __init__(self, message: str, *, status: Optional[int] = None, rows: Optional[List[Dict[str, Any]]] = None,
                 retryable: bool = False, attempts: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.rows = rows or []
        self.retryable = retryable
        self.attempts = attempts
        self.committed: Dict[str, int] = {"inserted": 0, "duplicates": 0}
        self.observations: List[Dict[str, Any]] = []


@dataclass
class WriteResult:
    """What a write stored: rows `inserted`, rows skipped as `duplicates` (already stored: a
    retry after a lost answer, or a re-sent event id), the HTTP `requests` it took (retries
    included), and for observations the `event_ids` sent. `rolled_back` is set only by older
    daemons that judged before answering; a current one answers first and judges right after
    (a rollback shows in the flags)."""

    inserted: int = 0
    duplicates: int = 0
    requests: int = 0
    batches: int = 0
    event_ids: List[str] = field(default_factory=list)
    rolled_back: Optional[str] = None


def rfc3339(value: Any) -> str:
    """A datetime (timezone-aware; naive ones are refused: the daemon needs an offset) or
    an RFC 3339 string."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value!r}: give it a timezone (e.g. datetime.timezone.utc)")
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a datetime or an RFC 3339 string, not {type(value).__name__}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return rfc3339(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number (not representable in JSON)")
    return value


def _batches(rows: Sequence[Dict[str, Any]], wrap: Callable[[List[Dict[str, Any]]], Any]) -> Iterable[Tuple[int, List[Dict[str, Any]]]]:
    """Split into requests of at most MAX_ROWS rows and MAX_BYTES of JSON; yields (offset, rows)."""
    start = 0
    while start < len(rows):
        chunk = list(rows[start:start + MAX_ROWS])
        while len(chunk) > 1 and len(json.dumps(wrap(chunk), separators=(",", ":"))) > MAX_BYTES:
            chunk = chunk[: len(chunk) // 2]
        yield start, chunk
        start += len(chunk)


class Api:
    """The write and learning calls of one client, over one HTTP base URL."""

    def __init__(self, http: HTTPSource, timeout: float, retry: RetryPolicy,
                 on_success: Optional[Callable[[], None]] = None) -> None:
        self.http = http
        self.timeout = timeout
        self.retry = retry
        self.rng = random.Random()
        self.on_success = on_success  # tells the client the daemon answers (wakes its refresher)

    def call(self, method: str, path: str, body: Any, retry: Optional[RetryPolicy] = None) -> Tuple[Any, int]:
        """One logical request, retried per policy; returns (parsed JSON answer, requests made)."""
        policy = retry or self.retry
        deadline = time.monotonic() + policy.deadline
        attempt = 0
        while True:
            attempt += 1
            retry_after: Optional[float] = None
            try:
                status, headers, parsed = self.http.request_json(method, path, self.timeout, body)
            except (OSError, http.client.HTTPException) as e:
                error = ApiError(f"{method} {path}: {type(e).__name__}: {e}", retryable=True, attempts=attempt)
            else:
                if self.on_success is not None:
                    self.on_success()
                if 200 <= status < 300:
                    return parsed, attempt
                message = parsed.get("error") if isinstance(parsed, dict) else None
                rows = parsed.get("rows") if isinstance(parsed, dict) and isinstance(parsed.get("rows"), list) else None
                error = ApiError(f"{method} {path}: HTTP {status}: {message or 'no error text'}", status=status,
                                 rows=rows, retryable=status in RETRYABLE_STATUS, attempts=attempt)
                retry_after = retry_after_seconds(headers)
            if not error.retryable or attempt >= policy.attempts:
                raise error
            wait = policy.delay(attempt, self.rng)
            if retry_after is not None:
                wait = max(wait, min(retry_after, policy.backoff_max))
            if time.monotonic() + wait > deadline:
                raise error
            time.sleep(wait)

    def write(self, path: str, rows: List[Dict[str, Any]], wrap: Callable[[List[Dict[str, Any]]], Any],
              retry: Optional[RetryPolicy]) -> WriteResult:
        """Send `rows` in batches (each all-or-nothing), each batch retried as a whole."""
        result = WriteResult()
        for offset, chunk in _batches(rows, wrap):
            try:
                answer, requests = self.call("POST", path, wrap(chunk), retry)
            except ApiError as e:
                for r in e.rows:  # indexes into the whole call, not the batch
                    if isinstance(r, dict) and isinstance(r.get("row"), int):
                        r["row"] += offset
                e.committed = {"inserted": result.inserted, "duplicates": result.duplicates}
                raise
            result.requests += requests
            result.batches += 1
            if isinstance(answer, dict):
                result.inserted += int(answer.get("inserted") or 0)
                result.duplicates += int(answer.get("duplicates") or 0)
                if answer.get("rolled_back"):
                    result.rolled_back = str(answer["rolled_back"])
        return result


OBSERVATION_FIELDS = ("unit", "variant", "metric", "value", "observed_at", "event_id")


def normalise_observations(rows: Iterable[Mapping[str, Any]], variant_of: Callable[[str], Optional[str]]) -> List[Dict[str, Any]]:
    """Check every row locally (all errors at once) and fill a missing `event_id` with a new
    UUID. A missing `variant` stays missing: the server takes the assignment rule's for the
    stage in force at `observed_at` (a variant that contradicts the rule is refused).
    Nothing is sent when a row is bad."""
    out: List[Dict[str, Any]] = []
    errors: List[str] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            errors.append(f"row {i}: expected a mapping, not {type(row).__name__}")
            continue
        unknown = set(row) - set(OBSERVATION_FIELDS)
        if unknown:
            errors.append(f"row {i}: unknown field(s) {sorted(unknown)}")
            continue
        obs: Dict[str, Any] = {}
        unit, metric, value = row.get("unit"), row.get("metric"), row.get("value")
        if not isinstance(unit, str) or not isinstance(metric, str):
            errors.append(f"row {i}: unit and metric must be strings")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            errors.append(f"row {i}: value must be a finite number, not {value!r}")
            continue
        variant = row.get("variant")
        if variant is not None and variant not in ("control", "treatment"):
            errors.append(f"row {i}: variant must be control or treatment, not {variant!r}")
            continue
        obs.update(unit=unit, metric=metric, value=value)
        if variant is not None:
            obs["variant"] = variant
        if row.get("observed_at") is not None:
            try:
                obs["observed_at"] = rfc3339(row["observed_at"])
            except (TypeError, ValueError) as e:
                errors.append(f"row {i}: observed_at: {e}")
                continue
        eid = row.get("event_id")
        obs["event_id"] = str(eid) if eid is not None else str(uuid.uuid4())
        out.append(obs)
    if errors:
        raise ValueError("bad observations, nothing sent:\n  " + "\n  ".join(errors[:50])
                         + (f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""))
    return out


def normalise_records(records: Any) -> List[Dict[str, Any]]:
    """One learning record or a list of them, with datetimes turned into RFC 3339."""
    if isinstance(records, Mapping):
        records = [records]
    out = []
    for i, r in enumerate(records):
        if not isinstance(r, Mapping):
            raise TypeError(f"record {i}: expected a mapping, not {type(r).__name__}")
        out.append(_jsonable(r))
    return out
