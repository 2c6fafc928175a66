"""Where the flags come from: the daemon's HTTP API, or the flags table itself.

Every source answers one question, `fetch(timeout, known_version)`: "give me the table if it
moved past the version I hold". That keeps the refresher identical for all of them and
makes the cheap path (nothing changed) one tiny query or one 304. The HTTP source can also
stream changes. Sources do no caching or retrying: that is the client's and the breaker's job.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from .sse import Event, iter_events

FLAGS_QUERY = "SELECT key, value, rollout, version FROM rollout_flags"
VERSION_QUERY = "SELECT version FROM rollout_flags_version"


class SourceError(Exception):
    """The source answered, but not with usable flags (bad status, bad body, no table).

    `retry_after`: the seconds the server asked to wait (`Retry-After`), if it said.
    """

    retry_after: Optional[float] = None


class StreamUnsupported(SourceError):
    """The server has no event stream (or a proxy strips it): poll instead."""


@dataclass(frozen=True)
class FlagRow:
    key: str
    value: str
    rollout: str
    version: int
    updated_at: Optional[str] = None
    updated_by: Optional[str] = None
    reason: Optional[str] = None


@dataclass(frozen=True)
class TableSnapshot:
    """The whole flags table at one table version, as read in one transaction."""

    version: int
    rows: Mapping[str, FlagRow] = field(default_factory=dict)


class Source:
    """Base class; subclasses implement `fetch`. Not thread-safe: one refresher uses it."""

    kind = "abstract"

    def fetch(self, timeout: float, known_version: Optional[int] = None) -> Optional[TableSnapshot]:
        """The table, or None when its version still equals `known_version`."""
        raise NotImplementedError

    def describe(self) -> str:
        """A label for logs and health endpoints; never contains a password."""
        return self.kind

    def after_fork_in_child(self) -> None:
        """Forget connections inherited from the parent without closing them.

        Closing would talk on a socket the parent still uses (a PostgreSQL Terminate
        message ends the parent's session), so the child just stops using them.
        """

    def close(self) -> None:
        """Release connections; the source may not be used afterwards."""


def _row_from_json(obj: Any) -> FlagRow:
    if not isinstance(obj, dict):
        raise SourceError(f"flag row is not an object: {obj!r}")
    try:
        key, value, rollout, version = obj["key"], obj["value"], obj["rollout"], obj["version"]
    except KeyError as e:
        raise SourceError(f"flag row without {e.args[0]!r}") from None
    if not (isinstance(key, str) and isinstance(value, str) and isinstance(rollout, str)):
        raise SourceError(f"flag row with non-text key, value or rollout: {obj!r}")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SourceError(f"flag row with non-integer version: {obj!r}")
    return FlagRow(key, value, rollout, version, obj.get("updated_at"), obj.get("updated_by"), obj.get("reason"))


def snapshot_from_json(body: Any) -> TableSnapshot:
    """Parse the `/v1/flags` body (also the data of a `snapshot` event)."""
    if not isinstance(body, dict) or not isinstance(body.get("flags"), list):
        raise SourceError("flags body must be an object with a 'flags' list")
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise SourceError(f"flags body with a bad version: {version!r}")
    rows = {}
    for item in body["flags"]:
        row = _row_from_json(item)
        rows[row.key] = row
    return TableSnapshot(version, rows)


def _rows_from_sql(rows: List[Any]) -> Dict[str, FlagRow]:
    out = {}
    for key, value, rollout, version in rows:
        out[str(key)] = FlagRow(str(key), str(value), str(rollout), int(version))
    return out


# --------------------------------------------------------------------------- SQLite


class SQLiteSource(Source):
    """Reads the controller's SQLite file read-only.

    A connection per fetch: opening a local file costs microseconds, it survives the file
    being replaced, and there is nothing to inherit across fork. The daemon uses WAL, so
    readers never wait for it; the reader still needs write access to the directory (or an
    existing `-shm` file), as SQLite's WAL mode requires.
    """

    kind = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    def _connect(self, timeout: float) -> sqlite3.Connection:
        uri = "file:" + urllib.parse.quote(self.path) + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
        deadline = time.monotonic() + timeout
        # Abort a statement that outlives the budget (busy_timeout covers only lock waits).
        db.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 1000)
        return db

    def fetch(self, timeout: float, known_version: Optional[int] = None) -> Optional[TableSnapshot]:
        try:
            db = self._connect(timeout)
        except sqlite3.Error as e:
            raise SourceError(f"cannot open {self.path} read-only: {e}") from e
        try:
            db.execute("BEGIN")  # one read transaction: the version and the rows agree
            row = db.execute(VERSION_QUERY).fetchone()
            if row is None:
                raise SourceError("rollout_flags_version is empty")
            version = int(row[0])
            if known_version is not None and version == known_version:
                return None
            rows = _rows_from_sql(db.execute(FLAGS_QUERY).fetchall())
            db.execute("COMMIT")
            return TableSnapshot(version, rows)
        except sqlite3.Error as e:
            raise SourceError(f"reading {self.path}: {e}") from e
        finally:
            db.close()


# --------------------------------------------------------------------------- PostgreSQL


class PostgresSource(Source):
    """Reads the flags table over psycopg 3 (optional dependency, imported here only).

    One connection kept across polls (a new session per second per worker would load the
    server), reconnected after any error. Bounds: `connect_timeout` (whole seconds, libpq's
    unit), `statement_timeout` for the queries and `tcp_user_timeout` for a silent peer.
    """

    kind = "postgres"

    def __init__(self, dsn: str) -> None:
        try:
            import psycopg  # noqa: F401  (lazy: the package is optional)
        except ImportError as e:
            raise ImportError(
                "PostgresSource needs psycopg 3: pip install 'rollout-client[postgres]'"
            ) from e
        self._psycopg = psycopg
        self.dsn = dsn
        self._conn: Any = None
        self._abandoned: List[Any] = []  # inherited across fork: kept alive, never closed

    def describe(self) -> str:
        parts = urllib.parse.urlsplit(self.dsn)
        if parts.scheme and parts.hostname:
            return f"postgres://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"
        return "postgres"

    def _connection(self, timeout: float) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._psycopg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=max(1, math.ceil(timeout)),
                tcp_user_timeout=max(1, int(timeout * 1000)),
                application_name="rollout-client",
            )
        return self._conn

    def fetch(self, timeout: float, known_version: Optional[int] = None) -> Optional[TableSnapshot]:
        try:
            conn = self._connection(timeout)
            with conn.cursor() as cur:
                cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    cur.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
                    cur.execute(VERSION_QUERY)
                    row = cur.fetchone()
                    if row is None:
                        raise SourceError("rollout_flags_version is empty")
                    version = int(row[0])
                    if known_version is not None and version == known_version:
                        return None
                    cur.execute(FLAGS_QUERY)
                    return TableSnapshot(version, _rows_from_sql(cur.fetchall()))
                finally:
                    cur.execute("COMMIT")
        except SourceError:
            raise
        except self._psycopg.Error as e:
            self._drop_connection()
            raise SourceError(f"reading flags from PostgreSQL: {e}") from e

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def after_fork_in_child(self) -> None:
        if self._conn is not None:
            self._abandoned.append(self._conn)
            self._conn = None

    def close(self) -> None:
        self._drop_connection()


# --------------------------------------------------------------------------- HTTP


class EventStream:
    """One open `/v1/flags/stream` response; `close()` may be called from another thread."""

    def __init__(self, conn: http.client.HTTPConnection, sock: socket.socket, response: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._sock = sock  # http.client drops conn.sock once a response will close it
        self._response = response
        self.lines_read = 0
        self.on_line: Optional[Callable[[], None]] = None  # liveness, keepalives included
        self._closed = False

    def events(self) -> Iterator[Event]:
        return iter_events(_CountingReader(self))

    def close(self) -> None:
        """Wake a reader blocked in recv(): shutdown, not just close, interrupts it."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        for closable in (self._response, self._conn, self._sock):
            try:
                closable.close()
            except Exception:
                pass

    def abandon(self) -> None:
        """After fork in the child: the socket is shared with the parent, so do not shut it down."""
        self._closed = True


class _CountingReader:
    def __init__(self, stream: EventStream) -> None:
        self._stream = stream

    def readline(self, size: int = -1) -> bytes:
        line = self._stream._response.readline(size)
        if line:
            self._stream.lines_read += 1
            if self._stream.on_line is not None:
                self._stream.on_line()
        return line


class HTTPSource(Source):
    """The daemon's HTTP API (see the README for the contract), standard library only."""

    kind = "http"

    def __init__(self, base_url: str, headers: Optional[Mapping[str, str]] = None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._headers = dict(headers or {})
        self._streams: List[EventStream] = []

    def describe(self) -> str:
        port = f":{self._port}" if self._port else ""
        return f"{'https' if self._https else 'http'}://{self._host}{port}{self._prefix}"

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=timeout)

    def _request(
        self, path: str, timeout: float, headers: Mapping[str, str], method: str = "GET", body: Optional[bytes] = None
    ) -> Tuple[int, Any, bytes]:
        """One exchange on a fresh connection, bounded by `timeout` as a whole, not per socket
        call. Keeps no state between calls, so any thread may use it (the refresher and the
        application's writes share the source)."""
        deadline = time.monotonic() + timeout
        conn = self._connection(timeout)
        try:
            conn.request(method, self._prefix + path, body=body, headers={**self._headers, **headers})
            sock = conn.sock
            _set_remaining(sock, deadline)
            resp = conn.getresponse()
            chunks = []
            while True:
                _set_remaining(sock, deadline)
                chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return resp.status, resp.headers, b"".join(chunks)
        finally:
            conn.close()

    def fetch(self, timeout: float, known_version: Optional[int] = None) -> Optional[TableSnapshot]:
        headers = {"Accept": "application/json"}
        if known_version is not None:
            headers["If-None-Match"] = f'"{known_version}"'
        status, resp_headers, body = self._request("/v1/flags", timeout, headers)
        if status == 304:
            return None
        if status != 200:
            err = SourceError(f"GET /v1/flags: HTTP {status}: {_error_text(body)}")
            err.retry_after = retry_after_seconds(resp_headers)
            raise err
        return snapshot_from_json(_json(body))

    def request_json(
        self, method: str, path: str, timeout: float, body: Any = None
    ) -> Tuple[int, Mapping[str, str], Any]:
        """`method path` with an optional JSON body; returns (status, headers, parsed JSON or
        None when the answer is empty or not JSON). Network errors propagate as OSError or
        `http.client.HTTPException`; HTTP errors are returned, the caller judges them."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        status, resp_headers, raw = self._request(path, timeout, headers, method=method, body=data)
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            parsed = None
        return status, resp_headers, parsed

    def probe(self, timeout: float) -> bool:
        """Does anything accept TCP connections at the daemon's address? Connects and closes,
        sends nothing: used only while the daemon refuses connections, to notice at once
        that it is back without sending it requests faster than the retry backoff."""
        port = self._port or (443 if self._https else 80)
        try:
            with socket.create_connection((self._host, port), timeout=timeout):
                return True
        except OSError:
            return False

    def get(self, key: str, timeout: float) -> Optional[FlagRow]:
        """One row straight from the daemon (bypasses the cache); None when absent."""
        status, _, body = self._request(
            "/v1/flags/" + urllib.parse.quote(key, safe=""), timeout, {"Accept": "application/json"}
        )
        if status == 404:
            return None
        if status != 200:
            raise SourceError(f"GET /v1/flags/{key}: HTTP {status}: {_error_text(body)}")
        return _row_from_json(_json(body))

    def open_stream(self, last_event_id: Optional[str], timeout: float, read_timeout: float) -> EventStream:
        """Connect within `timeout`; reads then wait up to `read_timeout` (> keepalive period)."""
        deadline = time.monotonic() + timeout
        conn = self._connection(timeout)
        headers = {**self._headers, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        try:
            conn.request("GET", self._prefix + "/v1/flags/stream", headers=headers)
            sock = conn.sock
            _set_remaining(sock, deadline)
            resp = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if resp.status != 200 or ctype != "text/event-stream":
            try:
                _set_remaining(sock, deadline)
                body = resp.read(65536)
            except Exception:
                body = b""
            conn.close()
            if resp.status in (404, 405, 406, 501) or (resp.status == 200 and ctype != "text/event-stream"):
                raise StreamUnsupported(f"GET /v1/flags/stream: HTTP {resp.status} {ctype}")
            err = SourceError(f"GET /v1/flags/stream: HTTP {resp.status}: {_error_text(body)}")
            err.retry_after = retry_after_seconds(resp.headers)
            raise err
        sock.settimeout(read_timeout)  # the response reads through this same socket
        return EventStream(conn, sock, resp)


def _set_remaining(sock: Optional[socket.socket], deadline: float) -> None:
    """Shrink the socket timeout to what is left of the budget, so the total is bounded.

    Works on the socket captured right after connecting: http.client forgets `conn.sock`
    as soon as it knows the response will close the connection, but keeps reading from it.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise socket.timeout("request exceeded its time budget")
    if sock is not None:
        sock.settimeout(remaining)


def retry_after_seconds(headers: Any) -> Optional[float]:
    """`Retry-After` in seconds (the daemon sends a number), or None."""
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SourceError(f"response is not JSON: {e}") from e


def _error_text(body: bytes) -> str:
    try:
        obj = json.loads(body.decode("utf-8"))
        if isinstance(obj, dict) and isinstance(obj.get("error"), str):
            return str(obj["error"])
    except Exception:
        pass
    return body[:200].decode("utf-8", errors="replace")


def source_from_url(url: str) -> Source:
    """`http(s)://host:port`, `sqlite:///abs/path` / `sqlite://rel/path`, `postgres://...`.

    Accepts the same `sqlite://` spelling as the daemon's `--database`, so one URL can be
    shared between the controller and the services.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        return HTTPSource(url)
    if scheme == "sqlite":
        path = url[len("sqlite:"):]
        if path.startswith("//"):
            path = path[2:]
        path = path.split("?", 1)[0]
        if not path:
            raise ValueError(f"no file in {url!r}")
        return SQLiteSource(path)
    if scheme in ("postgres", "postgresql"):
        return PostgresSource(url)
    raise ValueError(f"unsupported source URL {url!r}: expected http(s)://, sqlite:// or postgres://")
