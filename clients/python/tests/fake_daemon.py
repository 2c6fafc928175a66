"""A fake `rollout` daemon speaking the HTTP contract of the README, for the client tests.

It keeps a flags table and a change log in memory and adds the controls the tests need:
commit a change, hide a change from streams (to create a gap), mute streams (so a change
can only arrive by replay), drop streams, answer 503, refuse connections, come back. Writes
(`POST /v1/observations`, `/learning/collect/...`) are deduplicated like the daemon does
(event ids; symbol and timestamp); a POST can be failed (503) or stored with its answer lost.
Every request is logged with its headers so tests can count calls and check Last-Event-ID.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional


@dataclass
class Change:
    version: int
    rollout: str
    changed: Dict[str, Optional[str]]
    hidden: bool = False


@dataclass
class Request:
    path: str
    headers: Dict[str, str]
    status: int = 0


class FakeDaemon:
    def __init__(self, keepalive: float = 15.0) -> None:
        self.cond = threading.Condition()
        self.version = 0
        self.rows: Dict[str, dict] = {}
        self.log: List[Change] = []
        self.requests: List[Request] = []
        self.state = "up"  # up | 503
        self.stream_supported = True
        self.muted = False
        self.replay_from = 0  # a Last-Event-ID below this gets a snapshot instead of a replay
        self.keepalive = keepalive
        self.drop_generation = 0
        self.open_streams = 0
        # Writes: observations by event id, learning records by (kind, symbol, timestamp).
        self.observations: Dict[str, dict] = {}
        self.learning: Dict[tuple, dict] = {}
        self.post_bodies: List[tuple] = []  # (path, parsed body) of every POST that reached us
        self.fail_posts = 0  # the next N POSTs get 503 with Retry-After: 0, storing nothing
        self.lose_answers = 0  # the next N POSTs are stored, then the connection drops unanswered
        self.parameters: dict = {"status": "ok", "optimized_weights": {"squeeze": 1.0}, "learned": True}
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self.port = 0
        self._start(0)

    # ------------------------------------------------------------------ controls

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def commit(self, rollout: str, changed: Dict[str, Optional[str]], hidden: bool = False) -> int:
        """One committed change: the table version grows by one, like the real store."""
        with self.cond:
            self.version += 1
            for key, value in changed.items():
                if value is None:
                    self.rows.pop(key, None)
                else:
                    self.rows[key] = {
                        "key": key, "value": value, "rollout": rollout, "version": self.version,
                        "updated_at": "2026-11-25T00:00:00Z", "updated_by": "test@fake", "reason": "test",
                    }
            self.log.append(Change(self.version, rollout, dict(changed), hidden))
            self.cond.notify_all()
            return self.version

    def drop_streams(self) -> None:
        with self.cond:
            self.drop_generation += 1
            self.cond.notify_all()

    def go_down(self) -> None:
        """Every request gets 503 and open streams are cut."""
        with self.cond:
            self.state = "503"
        self.drop_streams()

    def refuse(self) -> None:
        """Stop listening: connections are refused."""
        self.drop_streams()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def come_back(self) -> None:
        with self.cond:
            self.state = "up"
        if self._server is not None and self._server.socket.fileno() == -1:
            self._start(self.port)

    def close(self) -> None:
        self.drop_streams()
        if self._server is not None and self._server.socket.fileno() != -1:
            self._server.shutdown()
            self._server.server_close()

    def count(self, path: Optional[str] = None) -> int:
        with self.cond:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def failed(self) -> int:
        """Requests answered 503: the calls that reached a down server."""
        with self.cond:
            return sum(1 for r in self.requests if r.status == 503)

    def stream_requests(self) -> List[Request]:
        with self.cond:
            return [r for r in self.requests if r.path == "/v1/flags/stream"]

    def body(self) -> dict:
        return {"version": self.version, "flags": [self.rows[k] for k in sorted(self.rows)]}

    # ------------------------------------------------------------------ server

    def _start(self, port: int) -> None:
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                req = Request(self.path, {k: v for k, v in self.headers.items()})
                with daemon.cond:
                    daemon.requests.append(req)
                    state = daemon.state
                if state == "503":
                    with daemon.cond:
                        req.status = 503
                    return self._json(503, {"error": "controller unavailable"})
                if self.path == "/v1/flags":
                    with daemon.cond:
                        etag = f'"{daemon.version}"'
                        body = daemon.body()
                    if self.headers.get("If-None-Match") == etag:
                        req.status = 304
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.end_headers()
                        return
                    req.status = 200
                    return self._json(200, body, {"ETag": etag})
                if self.path == "/v1/flags/stream":
                    if not daemon.stream_supported:
                        req.status = 404
                        return self._json(404, {"error": "no such route"})
                    req.status = 200
                    return self._stream()
                if self.path.startswith("/learning/intelligence/discovery-parameters"):
                    req.status = 200
                    return self._json(200, daemon.parameters)
                if self.path.startswith("/v1/flags/"):
                    key = self.path[len("/v1/flags/"):]
                    with daemon.cond:
                        row = daemon.rows.get(key)
                    if row is None:
                        return self._json(404, {"error": f"no flag {key}"})
                    return self._json(200, row)
                self._json(404, {"error": "no such route"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                req = Request(self.path, {k: v for k, v in self.headers.items()})
                body = json.loads(raw) if raw else None
                with daemon.cond:
                    daemon.requests.append(req)
                    daemon.post_bodies.append((self.path, body))
                    if daemon.state == "503" or daemon.fail_posts > 0:
                        daemon.fail_posts = max(0, daemon.fail_posts - 1)
                        req.status = 503
                        return self._json(503, {"error": "busy"}, {"Retry-After": "0"})
                    inserted = duplicates = 0
                    if self.path == "/v1/observations":
                        for obs in body["observations"]:
                            if obs["event_id"] in daemon.observations:
                                duplicates += 1
                            else:
                                daemon.observations[obs["event_id"]] = {**obs, "rollout": body["rollout"]}
                                inserted += 1
                    elif self.path.startswith("/learning/collect/"):
                        kind = self.path.rsplit("/", 1)[-1]
                        for rec in body:
                            stamp = next(v for k, v in rec.items() if k.endswith("_timestamp"))
                            key = (kind, rec["symbol"], stamp)
                            if key in daemon.learning:
                                duplicates += 1
                            else:
                                daemon.learning[key] = rec
                                inserted += 1
                    else:
                        req.status = 404
                        return self._json(404, {"error": "no such route"})
                    lose = daemon.lose_answers > 0
                    daemon.lose_answers = max(0, daemon.lose_answers - 1)
                if lose:  # committed, but the answer never arrives
                    req.status = -1
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                req.status = 200
                self._json(200, {"inserted": inserted, "duplicates": duplicates, "rolled_back": None})

            def _json(self, status: int, body: object, headers: Optional[Dict[str, str]] = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _event(self, kind: str, ident: int, data: object) -> None:
                text = f"event: {kind}\nid: {ident}\ndata: {json.dumps(data)}\n\n"
                self.wfile.write(text.encode())
                self.wfile.flush()

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                last = self.headers.get("Last-Event-ID")
                with daemon.cond:
                    generation = daemon.drop_generation
                    daemon.open_streams += 1
                    daemon.cond.notify_all()
                    resume = int(last) if last is not None and last.isdigit() else None
                    if resume is None or resume < daemon.replay_from or resume > daemon.version:
                        sent, snapshot = daemon.version, daemon.body()
                    else:
                        sent, snapshot = resume, None
                try:
                    if snapshot is not None:
                        self._event("snapshot", sent, snapshot)
                    next_keepalive = time.monotonic() + daemon.keepalive
                    while True:
                        with daemon.cond:
                            while (daemon.drop_generation == generation
                                   and (daemon.muted or daemon.version <= sent)
                                   and time.monotonic() < next_keepalive):
                                daemon.cond.wait(max(0.0, next_keepalive - time.monotonic()))
                            if daemon.drop_generation != generation:
                                return
                            pending = [] if daemon.muted else [c for c in daemon.log if c.version > sent]
                        for change in pending:
                            sent = change.version
                            if not change.hidden:
                                self._event("change", change.version, {
                                    "version": change.version, "rollout": change.rollout,
                                    "changed": change.changed,
                                })
                        if time.monotonic() >= next_keepalive:
                            self.wfile.write(b": keepalive\n\n")
                            self.wfile.flush()
                            next_keepalive = time.monotonic() + daemon.keepalive
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with daemon.cond:
                        daemon.open_streams -= 1
                        daemon.cond.notify_all()
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()


class Blackhole:
    """A port that completes the TCP handshake and then never answers: the worst server."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: List[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.accepted:
            c.close()
