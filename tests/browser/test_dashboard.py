"""The dashboard in a real headless Chromium against a real daemon: a rollout walked through
its stages shows each change without a reload; the A/B charts have one point per look of the
design (with its decision boundary) and the guardrail chart one per stored evaluation; a
rollback needs the token, shows the flag diff first and the flags table says rolled back
afterwards; without the token nothing can be done; the learning panel shows each run and the
published weights, the webhook panel each delivery without its credentials.
"""

from __future__ import annotations

import json
import random

from conftest import NAME, TOKEN, Daemon, wait_until

PAGE = f"/#/r/{NAME}"


def stage_text(page) -> str:
    return page.locator("#stage").inner_text()


def ingest(d: Daemon, batch: int, n: int = 40) -> None:
    """`n` observations of `return_pct`, each labelled with the unit's assigned arm."""
    units = [f"b{batch}u{i}" for i in range(n)]
    arms = json.loads(d.cli("assign", NAME, "--json", "--", *units))
    rng = random.Random(batch)
    rows = [{"unit": a["unit"], "variant": a["variant"], "metric": "return_pct",
             "value": rng.gauss(0.3 if a["variant"] == "treatment" else 0.0, 1.0)} for a in arms]
    assert d.post("/v1/observations", {"rollout": NAME, "observations": rows}) == 200


def looks(d: Daemon) -> list:
    return d.get(f"/v1/rollouts/{NAME}/timeseries?limit=1000")["analyses"]


def observed(look: dict) -> int:
    m = look["analysis"]["metrics"][0]
    return m["control"]["n"] + m["treatment"]["n"]


def test_walk_charts_and_a_rollback_through_the_dashboard(daemon: Daemon, browser) -> None:
    d = daemon
    wait_until(lambda: d.get("/v1/flags")["version"] >= 1, what="the first tick")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(d.url) else outside.append(r.url))
    page.goto(d.url + PAGE)
    page.wait_for_function("() => document.querySelector('#stage') !== null")
    assert stage_text(page).startswith("1/4 shadow")
    # No token: read-only, says so, and every action button is disabled.
    assert "Read-only" in page.locator("#actions").inner_text()
    buttons = page.locator("#actions button")
    assert buttons.count() == 5
    assert all(buttons.nth(i).is_disabled() for i in range(5))
    page.evaluate("window.__sameDocument = true")

    # The walk: each stage change appears without a reload.
    d.cli("promote", NAME, "--reason", "to A/B")
    page.wait_for_function("() => document.querySelector('#stage').textContent.startsWith('2/4 ab_test')", timeout=20000)
    total = 0
    for batch in range(3):
        ingest(d, batch)
        total += 40
        wait_until(lambda: looks(d) and observed(looks(d)[0]) == total, what=f"the look after batch {batch}")
    stored = looks(d)
    # The design's three looks (at 40, 80 and 120 of 120 planned units): one snapshot each.
    assert [s["analysis"]["look"] for s in stored] == [3, 2, 1], [observed(s) for s in stored]
    page.wait_for_function("() => document.querySelector('#ab .ab-effect svg')?.dataset.points === '3'", timeout=20000)
    boundary = page.locator("#ab .ab-boundary svg")
    assert boundary.get_attribute("data-points") == "3"
    assert boundary.locator(".boundary.tickmark").count() == 6  # ± the boundary at each look
    page.goto(d.url + "/#/")
    page.wait_for_selector("#overview")
    page.goto(d.url + PAGE)
    page.wait_for_function("() => document.querySelector('#stage') !== null")
    page.evaluate("window.__sameDocument = true")
    for label, text in [("to canary", "3/4 canary"), ("to full", "4/4 full")]:
        d.cli("promote", NAME, "--reason", label)
        page.wait_for_function(f"() => document.querySelector('#stage').textContent.startsWith('{text}')", timeout=20000)
        assert page.evaluate("window.__sameDocument === true"), "the page reloaded"

    # Without the token no action goes through, from the page either.
    status = page.evaluate(f"""fetch('/v1/rollouts/{NAME}/rollback', {{method: 'POST',
        headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{reason: 'x'}})}}).then(r => r.status)""")
    assert status == 401

    # With the token: the confirmation shows the exact flag diff before anything is sent.
    page.fill("#token", TOKEN)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#actions button[data-action=rollback]:not([disabled])")
    assert page.evaluate("document.cookie") == ""
    assert TOKEN not in page.url
    version_before = d.get("/v1/flags")["version"]
    page.click("#actions button[data-action=rollback]")
    page.wait_for_selector("#confirm[open] #diff")
    diff = page.locator("#diff tbody tr").all_inner_texts()
    assert any("LEARNING_MODE" in r and "full" in r and "rolled_back" in r for r in diff), diff
    assert page.locator("#confirm-go").is_disabled(), "a rollback needs a reason"
    assert d.get("/v1/flags")["version"] == version_before, "the preview wrote nothing"
    page.fill("#reason", "browser test")
    page.click("#confirm-go")
    page.wait_for_function("() => document.querySelector('#flags-table .flags-status')?.textContent === 'rolled back'", timeout=20000)
    mode = page.locator("#flags-table tbody tr", has_text="LEARNING_MODE").inner_text()
    assert "rolled_back" in mode
    history = d.get(f"/v1/rollouts/{NAME}/history?limit=1")["events"][0]
    assert (history["action"], history["reason"], history["actor"]) == ("rollback", "browser test", "dashboard (http)")

    # Rolled back, nothing is evaluated any more: the charts show every stored point.
    ts = d.get(f"/v1/rollouts/{NAME}/timeseries?limit=1000")
    points = len([p for p in ts["guardrail_points"] if p["guardrail"] == "drawdown"])
    assert points >= 1
    page.reload()  # a fresh document: nothing of the page before can satisfy the wait
    page.wait_for_function("() => document.querySelector('#guardrails svg') !== null")
    assert page.locator("#guardrails [data-guardrail=drawdown] svg").get_attribute("data-points") == str(points)
    assert page.locator("#guardrails [data-guardrail=drawdown] svg .pt").count() == points
    assert page.locator("#ab .ab-effect svg").get_attribute("data-points") == str(len(ts["analyses"]))
    assert page.locator("#ab .ab-effect svg .pt").count() == len(ts["analyses"]) == 3
    assert not errors, errors
    assert not outside, outside


def test_without_a_token_nothing_can_be_done(daemon: Daemon, browser) -> None:
    d = daemon
    wait_until(lambda: d.get("/v1/flags")["version"] >= 1, what="the first tick")
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(d.url + PAGE)
    page.wait_for_function("() => document.querySelector('#stage') !== null")
    assert "Read-only" in page.locator("#mode").inner_text()
    for i in range(page.locator("#actions button").count()):
        b = page.locator("#actions button").nth(i)
        assert b.is_disabled()
        b.click(force=True)
    assert page.locator("#confirm[open]").count() == 0, "no confirmation opens without the token"
    # A wrong token is refused by the daemon and forgotten by the page.
    page.fill("#token", "wrong")
    page.click("#token-form button[type=submit]")
    page.click("#actions button[data-action=pause]")
    page.wait_for_selector("#confirm[open] #diff")
    page.click("#confirm-go")
    page.wait_for_function("() => document.querySelector('#action-error')?.textContent.includes('refused')")
    assert d.get(f"/v1/rollouts/{NAME}")["status"] == "running"
    assert page.evaluate("sessionStorage.length") == 0
    # The overview fits a phone: no horizontal scroll of the page itself.
    page.goto(d.url + "/#/")
    page.wait_for_selector("#overview")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_learning_and_webhook_panels(daemon: Daemon, browser) -> None:
    d = daemon
    # The learner's analysis runs every second; its notify receiver refuses connections.
    wait_until(lambda: len(d.get("/v1/rollouts/learner/learning")["computations"]) >= 2, what="two learning runs")
    wait_until(lambda: any(w["attempts"] >= 1 for w in d.get("/v1/rollouts/learner/webhooks")["deliveries"]),
               what="a failed delivery")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(d.url + "/#/r/learner")
    page.wait_for_selector("#learning-runs")
    panel = d.get("/v1/rollouts/learner/learning?limit=100")
    # One row per run the page read (more may have run since: compare with what it drew).
    rows = page.locator("#learning-runs tbody tr").count()
    assert rows >= 2
    features = sorted(panel["conservative"])
    assert sorted(page.locator("#learning-features tbody tr").evaluate_all(
        "rs => rs.map(r => r.dataset.feature)")) == features
    for f in features:
        chart = page.locator(f"#learning figure.weights[data-feature={f}] svg")
        assert int(chart.get_attribute("data-points")) >= 1  # the start wrote the conservative weights
    assert "fallback" in page.locator("#learning-latest").inner_text()  # no learning data: the safe weights
    # The webhook panel: each delivery, newest first, the receiver without its credentials.
    page.wait_for_selector("#webhooks-table")
    deliveries = d.get("/v1/rollouts/learner/webhooks")["deliveries"]
    table = page.locator("#webhooks-table tbody tr")
    assert table.count() == len(deliveries) >= 1
    text = page.locator("#webhooks").inner_text()
    assert "s3cret" not in text and "t0psecret" not in text
    assert "http://***@127.0.0.1:9/hook?token=***" in text
    assert table.first.get_attribute("data-status") in ("pending", "retrying")
    assert "start" in table.last.inner_text()
    # The whole rollout page fits 1280 pixels: long flag values (the weights) wrap.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert not errors, errors
