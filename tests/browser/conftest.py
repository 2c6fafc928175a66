"""Fixtures of the dashboard's browser tests: a real `rollout daemon` (the debug build, as
the Python client's tests find it: ROLLOUT_BIN) on a free port with SQLite, and Debian's
headless Chromium driven by Playwright (no browser download: `executable_path`).

Without Chromium or Playwright the tests are SKIPPED, and FAIL when CI is true: they never
pass without having run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN = "browser-admin-token"
ADDRESS = re.compile(r"HTTP API listening on (http://[0-9.:]+)")
NAME = "learning-intelligence"

CONFIG = """\
tick: "*/1 * * * * *"
rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - shadow: { duration: 1h }
      - ab_test:
          percentage: 50
          duration: 1h
          expected_units_per_day: 2880   # 120 units in the hour: a look at 40, 80 and 120
          looks: 3
          metrics:
            - { name: return_pct, test: welch_t, direction: increase }
      - canary: { percentage: 25, duration: 1h }
      - full: {}
    guardrails:
      - { name: drawdown, metric: return_pct, aggregate: mean, min: -50, window: 1h, min_samples: 5 }
  - name: learner
    flag_prefix: LEARNER_
    seed: 7
    notify: [ 'http://bot:s3cret@127.0.0.1:9/hook?token=t0psecret' ]
    stages:
      - shadow: { duration: 1h }
      - full: {}
    analysis: { schedule: "*/1 * * * * *" }
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Polls a condition against a deadline: synchronises on state, never on elapsed time."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        unavailable(f"Debian's chromium is not installed ({path}); apt-get install -y chromium")
    return path


def rollout_bin() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR") or str(REPO / "target")
    path = Path(os.environ.get("ROLLOUT_BIN") or Path(target) / "debug" / "rollout").resolve()
    if not (path.is_file() and os.access(path, os.X_OK)):
        unavailable(f"rollout binary not found at {path} (set ROLLOUT_BIN)")
    return path


class Daemon:
    """`rollout daemon` on a free port, its CLI, and small HTTP helpers."""

    def __init__(self, binary: Path, workdir: Path, config: str = CONFIG, extra_env: dict | None = None) -> None:
        self.binary = binary
        self.cfg = workdir / "rollout.yaml"
        self.cfg.write_text(config)
        self.db = workdir / "rollout.db"
        self.log = workdir / "daemon.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLOUT_")}
        self.env.update({"ROLLOUT_ADMIN_TOKEN": TOKEN, "ROLLOUT_LOG": "info", "ROLLOUT_ACTOR": "pytest@browser"})
        self.env.update(extra_env or {})
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [str(binary), "--config", str(self.cfg), "--database", f"sqlite://{self.db}", "daemon",
                 "--listen", "127.0.0.1:0"],
                stdout=subprocess.DEVNULL, stderr=err, env=self.env)
        found: list[str] = []

        def bound() -> bool:
            m = ADDRESS.search(self.log.read_text(errors="replace"))
            if m:
                found.append(m.group(1))
            return bool(m) or self.proc.poll() is not None

        wait_until(bound, what="the daemon's HTTP address")
        if not found:
            raise AssertionError(f"the daemon exited:\n{self.log.read_text(errors='replace')}")
        self.url = found[0]

    def cli(self, *args: str) -> str:
        p = subprocess.run([str(self.binary), "--config", str(self.cfg), "--database", f"sqlite://{self.db}", *args],
                           capture_output=True, text=True, env=self.env, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.load(r)

    def post(self, path: str, body: dict, token: str | None = None) -> int:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(rollout_bin(), tmp_path)
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def browser():
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()
