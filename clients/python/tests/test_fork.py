"""Fork safety: a pre-fork client keeps working in the child (gunicorn --preload workers).

The child reports through a pipe and leaves with os._exit, so nothing of pytest runs twice.
"""

from __future__ import annotations

import json
import os
import select
import time
import traceback
from typing import Callable

import pytest
from conftest import FlagsDB, wait_until
from fake_daemon import FakeDaemon

from rollout_client import Refresh, RolloutClient
from rollout_client import client as client_module

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def read_line(fd: int, timeout: float = 15.0) -> bytes:
    """Read up to a newline from a pipe, with a deadline (a hung child fails, not hangs)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"child did not answer; got {buf!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"child closed the pipe; got {buf!r}")
            buf += chunk
    return buf


def run_forked(client: RolloutClient, commit: Callable[[], object], expect: str, touch_first: bool = True) -> dict:
    """Fork; the child waits until it sees `expect` (committed by the parent after the fork)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(r)
            result: dict = {"cached_at_fork": client.flag("LEARNING_MODE") if touch_first else None}
            os.write(w, b"ready\n")
            wait_until(lambda: client.flag("LEARNING_MODE") == expect, timeout=10, what="change in child")
            stats = client.stats()
            result.update(seen=client.flag("LEARNING_MODE"), pid=stats["pid"], real_pid=os.getpid(),
                          alive=stats["refresher_alive"], forks=stats["forks"])
            os.write(w, (json.dumps(result) + "\n").encode())
            code = 0
        except BaseException:
            os.write(w, (json.dumps({"error": traceback.format_exc()}) + "\n").encode())
        finally:
            os._exit(code)
    os.close(w)
    try:
        assert read_line(r) == b"ready\n"
        commit()
        result = json.loads(read_line(r))
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    assert "error" not in result, result["error"]
    assert os.waitstatus_to_exitcode(status) == 0
    assert result["pid"] == result["real_pid"] != os.getpid()
    assert result["alive"] is True and result["forks"] == 1
    return result


def test_sqlite_child_sees_change_after_fork(flags_db: FlagsDB) -> None:
    with RolloutClient(f"sqlite://{flags_db.path}", refresh=Refresh(poll_interval=0.01)) as client:
        assert client.flag("LEARNING_MODE") == "shadow"
        result = run_forked(client, lambda: flags_db.commit("learning-intelligence", {"LEARNING_MODE": "full"}),
                            "full")
        assert result["cached_at_fork"] == "shadow"  # the cache carried over
        wait_until(lambda: client.flag("LEARNING_MODE") == "full")  # and the parent still refreshes
        assert client.stats()["refresher_alive"]


def test_http_child_restarts_its_stream(daemon: FakeDaemon) -> None:
    policy = Refresh(poll_interval=0.02, backoff_initial=0.01, backoff_max=0.05)
    with RolloutClient(daemon.url, refresh=policy) as client:
        wait_until(lambda: daemon.open_streams == 1)
        result = run_forked(client, lambda: daemon.commit("learning-intelligence", {"LEARNING_MODE": "ab_test"}),
                            "ab_test")
        assert result["cached_at_fork"] == "shadow"
        wait_until(lambda: client.flag("LEARNING_MODE") == "ab_test")
        # The child opened its own stream, resuming from the version it inherited.
        assert daemon.count("/v1/flags/stream") >= 2
        assert daemon.stream_requests()[1].headers.get("Last-Event-ID") == "1"


def test_pid_check_restarts_when_the_fork_hook_did_not_run(flags_db: FlagsDB) -> None:
    """A fork that bypasses os.register_at_fork (a C extension calling fork()) is caught on read."""
    with RolloutClient(f"sqlite://{flags_db.path}", refresh=Refresh(poll_interval=0.01)) as client:
        client_module._clients.discard(client)  # hide it from the hook
        try:
            result = run_forked(client, lambda: flags_db.commit("learning-intelligence", {"LEARNING_MODE": "full"}),
                                "full")
        finally:
            client_module._clients.add(client)
        assert result["seen"] == "full"
