"""The SDK against the real daemon (`rollout daemon --listen 127.0.0.1:0`), its CLI and its
SQLite file: a rollback committed while the daemon is down reaches every HTTP client within
5 s of the daemon answering again; the last-known-good file and a bootstrap carry a service
restarted during the outage; observations re-sent after a lost answer are counted once;
parameters_for gives treatment units the learned and control units the conservative weights.

Waits are event-driven (an on_change listener sets an Event; conditions polled against a
deadline), never sleeps. The binary is found as in test_e2e.py (ROLLOUT_BIN).
"""

from __future__ import annotations

import asyncio
import datetime
import http.client
import json
import os
import random
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
from conftest import wait_until
from test_daemon_http import start_daemon
from test_e2e import rollout_bin, run

from rollout_client import AsyncRolloutClient, RolloutClient, event_id, read_snapshot_file

ROLLOUT = "learning-intelligence"
CONFIG = """\
database: sqlite://unused.db
rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - shadow: { duration: 1d }
      - ab_test:
          percentage: 50
          duration: 1d
          metrics: [ { name: return_pct, test: welch_t, direction: increase } ]
      - canary: { percentage: 25, duration: 1d }
      - full: {}
    analysis:
      max_daily_change: 1.0
"""
UNITS = [f"SYM{i}" for i in range(40)]
GOAL = 5.0  # seconds from the daemon answering again to the rollback in every HTTP client


class Daemon:
    """The real daemon on one address, stopped and started again by the test."""

    def __init__(self, tmp: Path) -> None:
        self.binary = rollout_bin()
        self.tmp = tmp
        self.cfg = tmp / "rollout.yaml"
        self.cfg.write_text(CONFIG)
        self.db = tmp / "rollout.db"
        self.starts = 0
        self.proc: Optional[subprocess.Popen] = None
        self.proc, self.url = start_daemon(self.binary, self.cfg, self.db, tmp / "daemon0.log", "127.0.0.1:0")
        wait_until(lambda: self.get("/v1/flags")["version"] >= 1, timeout=30, what="the first tick")

    def cli(self, *args: str) -> str:
        return run(self.binary, self.cfg, self.db, *args)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:
            return json.load(resp)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc = None

    def start_again(self) -> float:
        """Start on the same address; returns the monotonic time it first answered /healthz."""
        self.starts += 1
        log = self.tmp / f"daemon{self.starts}.log"
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                [str(self.binary), "--config", str(self.cfg), "--database", f"sqlite://{self.db}", "daemon",
                 "--listen", self.url.removeprefix("http://")],
                stdout=subprocess.DEVNULL, stderr=err,
                env={**os.environ, "ROLLOUT_LOG": "info", "ROLLOUT_ACTOR": "pytest@sdk"},
            )
        answered: List[float] = []

        def answers() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited:\n{log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=0.5) as resp:
                    ok = resp.status == 200
            except (OSError, urllib.error.URLError):
                return False
            if ok:
                answered.append(time.monotonic())
            return ok

        wait_until(answers, timeout=30, what="the restarted daemon to answer")
        return answered[0]

    def close(self) -> None:
        if self.proc is not None:
            self.stop()


@pytest.fixture
def real(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    try:
        yield d
    finally:
        d.close()


class Seen:
    """on_change listener: when did this client first hold `LEARNING_MODE == mode`?"""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.at: Optional[float] = None
        self.event = threading.Event()

    def __call__(self, old: Optional[int], new: int, changed: Dict[str, Optional[str]]) -> None:
        if changed.get("LEARNING_MODE") == self.mode and self.at is None:
            self.at = time.monotonic()
            self.event.set()


def test_rollback_while_the_daemon_is_down_reaches_every_http_client_within_5_s(real: Daemon) -> None:
    real.cli("promote", ROLLOUT, "--reason", "to A/B")
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()
    clients: List[RolloutClient] = []
    aclient: Optional[AsyncRolloutClient] = None
    try:
        # The default settings (1 s doubling to 30 s) in every client: stream, poll, with a
        # snapshot file, and the async client on its own event loop.
        seen = {name: Seen("rolled_back") for name in ("stream", "poll", "stream+file", "async")}
        clients.append(RolloutClient(real.url, on_change=seen["stream"]))
        clients.append(RolloutClient(real.url, refresh="poll", on_change=seen["poll"]))
        clients.append(RolloutClient(real.url, on_change=seen["stream+file"],
                                     snapshot_file=real.tmp / "lkg.json"))
        async_seen = seen["async"]

        async def on_change_async(old: Optional[int], new: int, changed: Dict[str, Optional[str]]) -> None:
            async_seen(old, new, changed)

        aclient = asyncio.run_coroutine_threadsafe(
            AsyncRolloutClient.connect(real.url, on_change=on_change_async), loop).result(30)
        every = clients + [aclient.sync]
        for c in every:
            wait_until(lambda: c.flag("LEARNING_MODE") == "ab_test", what="A/B in every client")

        real.stop()
        real.cli("rollback", ROLLOUT, "--reason", "committed while the daemon is down")
        # Keep it down until every client has failed three times: from here the backoff alone
        # would wait 4 to 8 s before the next attempt.
        wait_until(lambda: all(c.stats()["consecutive_failures"] >= 3 for c in every), timeout=60,
                   what="three failed attempts in every client")
        assert all(c.flag("LEARNING_MODE") == "ab_test" for c in every), "last-known-good while down"

        answered = real.start_again()
        for name, s in seen.items():
            assert s.event.wait(max(0.0, answered + GOAL - time.monotonic())), \
                f"{name}: no rollback {GOAL} s after the daemon answered again ({s.at})"
        delays = {name: round(s.at - answered, 3) for name, s in seen.items() if s.at is not None}
        print(f"\nrollback propagation after the daemon answered again (s): {delays}")
        assert max(delays.values()) < GOAL, delays
        assert all(c.flag("LEARNING_MODE") == "rolled_back" for c in every)
        assert read_snapshot_file(real.tmp / "lkg.json").rows["LEARNING_MODE"].value == "rolled_back"
    finally:
        for c in clients:
            c.close()
        if aclient is not None:
            asyncio.run_coroutine_threadsafe(aclient.aclose(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(10)
        loop.close()


def test_snapshot_file_and_bootstrap_carry_a_restart_during_an_outage(real: Daemon) -> None:
    real.cli("promote", ROLLOUT, "--reason", "to A/B")
    lkg = real.tmp / "lkg.json"
    with RolloutClient(real.url, snapshot_file=lkg) as before:
        wait_until(lambda: before.flag("LEARNING_MODE") == "ab_test")
        wait_until(lambda: lkg.exists() and read_snapshot_file(lkg).version == before.version,
                   what="the snapshot file")
        flags_before = before.flags()
        on_before = {u for u in UNITS if before.is_enabled(ROLLOUT, u)}
        weights_before = {u: before.parameters_for(ROLLOUT, u) for u in UNITS}
    boot = real.tmp / "boot.json"
    boot.write_text(real.cli("flags", "--json"))  # `rollout flags --json` is a bootstrap file

    real.stop()
    # The service restarts while the daemon is down.
    safe = {"LEARNING_MODE": "shadow", "LEARNING_APPLY_PARAMETERS": "false"}
    after = RolloutClient(real.url, snapshot_file=lkg, defaults=safe)
    booted = RolloutClient(real.url, bootstrap=boot, defaults=safe)
    bare = RolloutClient(real.url, defaults=safe)
    try:
        assert after.origin == "snapshot_file" and booted.origin == "bootstrap"
        assert after.flags() == flags_before and booted.flags() == flags_before
        assert {u for u in UNITS if after.is_enabled(ROLLOUT, u)} == on_before
        assert {u for u in UNITS if booted.is_enabled(ROLLOUT, u)} == on_before
        assert 0 < len(on_before) < len(UNITS)
        assert {u: after.parameters_for(ROLLOUT, u) for u in UNITS} == weights_before
        # Without a file: only the defaults, so nobody is on the new path.
        assert bare.origin == "defaults" and not any(bare.is_enabled(ROLLOUT, u) for u in UNITS)

        real.cli("rollback", ROLLOUT, "--reason", "while the daemon is down")
        real.start_again()
        for c in (after, booted, bare):
            wait_until(lambda: c.flag("LEARNING_MODE") == "rolled_back", timeout=GOAL, what="the rollback")
            assert c.origin == "source"
            assert not any(c.is_enabled(ROLLOUT, u) for u in UNITS)
        wait_until(lambda: read_snapshot_file(lkg).rows["LEARNING_MODE"].value == "rolled_back")
    finally:
        for c in (after, booted, bare):
            c.close()


class LossyProxy:
    """An HTTP hop in front of the daemon that forwards every request, but drops the answer
    to the first `lose` POSTs after the daemon has committed them: a lost acknowledgement."""

    def __init__(self, upstream: str, lose: int) -> None:
        host, port = upstream.removeprefix("http://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.lose = lose
        self.forwarded: List[Tuple[str, str, int, bool]] = []  # method, path, status, answer lost
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as f:
            method, path, _ = f.readline().decode().split(" ", 2)
            headers = {}
            while (line := f.readline().decode()) not in ("\r\n", "\n", ""):
                k, v = line.split(":", 1)
                headers[k.strip()] = v.strip()
            body = f.read(int(headers.get("Content-Length", 0)))
            up = http.client.HTTPConnection(*self.upstream, timeout=10)
            forward = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            up.request(method, path, body=body or None, headers=forward)
            resp = up.getresponse()
            data = resp.read()
            up.close()
            with self.lock:
                lost = method == "POST" and self.lose > 0
                self.lose -= lost
                self.forwarded.append((method, path, resp.status, lost))
            if lost:
                return  # committed upstream; the client never hears of it
            head = [f"HTTP/1.1 {resp.status} {resp.reason}", f"Content-Length: {len(data)}", "Connection: close"]
            head += [f"{k}: {v}" for k, v in resp.getheaders() if k.lower() in ("content-type", "retry-after")]
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)

    def close(self) -> None:
        self.sock.close()


def test_observations_resent_after_a_lost_answer_are_counted_once(real: Daemon) -> None:
    real.cli("promote", ROLLOUT, "--reason", "to A/B")
    proxy = LossyProxy(real.url, lose=1)
    rng = random.Random(3)
    try:
        with RolloutClient(real.url, api_url=proxy.url) as client:
            wait_until(lambda: client.flag("LEARNING_MODE") == "ab_test")
            observations = [{"unit": u, "metric": "return_pct", "value": round(rng.gauss(0.5, 1.0), 4)}
                            for u in UNITS]
            result = client.post_observations(ROLLOUT, observations)
            assert [lost for _, _, _, lost in proxy.forwarded] == [True, False]
            assert result.requests == 2
            # The first attempt was committed; the retry carried the same ids and was skipped.
            assert (result.inserted, result.duplicates) == (0, len(UNITS))
            again = client.post_observations(ROLLOUT, [{**o, "event_id": e} for o, e in
                                                       zip(observations, result.event_ids)])
            assert (again.inserted, again.duplicates) == (0, len(UNITS))
            stable = [{"unit": "SYM0", "metric": "return_pct", "value": 1.0, "event_id": event_id("order-7", "ret")}]
            assert client.post_observations(ROLLOUT, stable).inserted == 1
            assert client.post_observations(ROLLOUT, stable).duplicates == 1

            analysis = json.loads(real.cli("analyze", ROLLOUT, "--json"))
            arms = analysis["metrics"][0]
            # n counts units, each once (the re-sent rows never twice); SYM0 is one of UNITS,
            # so its second observation joins its unit's value.
            assert arms["control"]["n"] + arms["treatment"]["n"] == len(UNITS)
            treated = sum(client.variant(ROLLOUT, u) == "treatment" for u in UNITS)
            assert arms["treatment"]["n"] == treated
    finally:
        proxy.close()


def learning_records(now: datetime.datetime) -> Tuple[List[dict], List[dict]]:
    """40 discoveries with their closed trades; the return rises with `squeeze` alone."""
    rng = random.Random(1)
    features = ["volume_momentum", "squeeze", "catalyst", "sentiment", "options", "technical"]
    discoveries, outcomes = [], []
    for i in range(40):
        at = now - datetime.timedelta(days=10, minutes=-i)
        f = {name: round(rng.random(), 4) for name in features}
        f["squeeze"] = i / 40
        discoveries.append({"symbol": f"S{i}", "discovery_timestamp": at, "discovery_features": f,
                            "discovery_score": 0.5, "action_tag": "trade_ready"})
        entry = at + datetime.timedelta(hours=3)
        outcomes.append({"symbol": f"S{i}", "entry_timestamp": entry, "entry_price": 10.0,
                         "exit_timestamp": entry + datetime.timedelta(days=2), "return_pct": i - 20.0})
    return discoveries, outcomes


def test_parameters_for_gives_treatment_learned_and_control_conservative_weights(real: Daemon) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    discoveries, outcomes = learning_records(now)
    with RolloutClient(real.url) as client:
        assert client.collect_discovery_data(discoveries).inserted == 40
        assert client.collect_trade_outcome(outcomes).inserted == 40
        assert client.collect_trade_outcome(outcomes).duplicates == 40  # re-delivery is harmless
        thesis = {"symbol": "S1", "thesis_timestamp": now, "recommendation": "buy", "confidence_score": 0.8}
        assert client.collect_thesis_decision(thesis).inserted == 1

        shadow_weights = client.parameters_for(ROLLOUT, "SYM0")
        assert shadow_weights == client.get_json("LEARNING_CONSERVATIVE_WEIGHTS")

        real.cli("promote", ROLLOUT, "--reason", "to A/B")
        real.cli("learning", "run", ROLLOUT)  # publishes the learned weights in the A/B stage
        weights = json.loads(real.cli("learning", "weights", ROLLOUT, "--json"))
        learned, conservative = weights["published"], weights["conservative"]
        assert learned != conservative
        wait_until(lambda: client.get_json("LEARNING_WEIGHTS") == learned, what="the published weights")
        assert client.get_json("LEARNING_CONSERVATIVE_WEIGHTS") == conservative == shadow_weights

        assigned = json.loads(real.cli("assign", ROLLOUT, *UNITS, "--json"))
        treatment = [a["unit"] for a in assigned if a["enabled"]]
        control = [a["unit"] for a in assigned if not a["enabled"]]
        assert treatment and control
        for u in treatment:
            assert client.parameters_for(ROLLOUT, u) == learned, u
        for u in control:
            assert client.parameters_for(ROLLOUT, u) == conservative, u
        assert client.discovery_parameters()["optimized_weights"] == learned
        assert client.discovery_parameters(ROLLOUT)["learned"] is True

        real.cli("rollback", ROLLOUT, "--reason", "back to the conservative weights")
        wait_until(lambda: client.flag("LEARNING_MODE") == "rolled_back")
        assert all(client.parameters_for(ROLLOUT, u) == conservative for u in UNITS)
