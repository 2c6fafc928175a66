#!/usr/bin/env python3
"""Writes a seeded shadow window (tests/data/shadow/*.jsonl) and the reference numbers of
its report, computed independently with numpy and SciPy, to tests/data/shadow/reference.json.

    pip install numpy scipy && python3 scripts/reference_shadow.py

The window is the shadow stage entered at 2026-01-05T00:00:00Z and read at
2026-01-12T00:00:00Z. The reference re-implements, from the README's definitions only:
- pairing: each trade entered in the window and closed (exit <= end) with a return is paired
  with the latest discovery of its symbol at or before its entry, if that discovery is in
  the window and at most 3 days (match_window) before the entry;
- score under weights w: sum of w[f] * features[f] over w's features (missing feature: 0);
- per UTC day of the discovery: each ranking keeps its top k (ceil(n/10), or min(3, n)),
  ties to the earlier trade; L_d, C_d the mean returns; D_d = L_d - C_d;
- estimate mean(D), 95 % interval stats.ttest_1samp(D).confidence_interval(0.95).
The Rust test (tests/it/shadow.rs) loads the JSONL through the store and must match to 1e-9.
"""
import json
import math
import os
from datetime import datetime, timedelta, timezone

import numpy as np
import scipy
from scipy import stats

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "shadow")
FEATURES = ["volume_momentum", "squeeze", "catalyst", "sentiment", "options", "technical"]
CONSERVATIVE = {"volume_momentum": 0.25, "squeeze": 0.20, "catalyst": 0.15, "sentiment": 0.15,
                "options": 0.12, "technical": 0.13}
LEARNED = {"volume_momentum": 0.10, "squeeze": 0.35, "catalyst": 0.15, "sentiment": 0.15,
           "options": 0.12, "technical": 0.13}
FROM = datetime(2026, 1, 5, tzinfo=timezone.utc)
TO = FROM + timedelta(days=7)
MATCH = timedelta(days=3)


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(rng):
    symbols = [f"S{i:02d}" for i in range(30)]
    discoveries, outcomes, theses = [], [], []
    # One discovery before the window (its trade must not pair: the discovery is outside).
    discoveries.append({"symbol": "S00", "discovery_timestamp": ts(FROM - timedelta(hours=2)),
                        "discovery_features": {f: 0.5 for f in FEATURES}, "discovery_score": 0.5,
                        "action_tag": "trade_ready"})
    outcomes.append({"symbol": "S00", "entry_timestamp": ts(FROM + timedelta(minutes=30)),
                     "exit_timestamp": ts(FROM + timedelta(hours=20)), "entry_price": 10.0,
                     "return_pct": 99.0})
    for day in range(7):
        base = FROM + timedelta(days=day, hours=13)
        for j, s in enumerate(rng.choice(symbols, size=22, replace=False)):
            at = base + timedelta(minutes=int(j * 7 + rng.integers(0, 5)))
            feats = {f: round(float(rng.uniform(0, 1)), 6) for f in FEATURES}
            if rng.uniform() < 0.1:
                del feats["options"]
            discoveries.append({"symbol": str(s), "discovery_timestamp": ts(at), "discovery_features": feats,
                                "discovery_score": 0.5, "action_tag": "trade_ready"})
            if rng.uniform() < 0.3:
                theses.append({"symbol": str(s), "thesis_timestamp": ts(at + timedelta(minutes=2)),
                               "recommendation": "buy", "confidence_score": 0.7})
            if rng.uniform() < 0.85:
                entry = at + timedelta(hours=1)
                ret = 6 * feats["squeeze"] - 4 * feats["volume_momentum"] + rng.normal(0, 2)
                o = {"symbol": str(s), "entry_timestamp": ts(entry), "entry_price": 10.0}
                if day == 6 and j % 5 == 0:
                    pass  # still open at the end: not used
                elif day == 6 and j % 5 == 1:
                    o["exit_timestamp"] = ts(TO + timedelta(hours=3))  # closes after the window
                    o["return_pct"] = round(float(ret), 6)
                else:
                    o["exit_timestamp"] = ts(entry + timedelta(hours=int(rng.integers(2, 20))))
                    o["return_pct"] = round(float(ret), 6)
                outcomes.append(o)
    outcomes.sort(key=lambda o: o["entry_timestamp"])
    return discoveries, theses, outcomes


def parse(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def pairs(discoveries, outcomes):
    out = []
    for o in outcomes:  # trade order: entry time, then file order
        entry = parse(o["entry_timestamp"])
        if "exit_timestamp" not in o or o.get("return_pct") is None:
            continue
        if not (FROM <= entry <= TO and parse(o["exit_timestamp"]) <= TO):
            continue
        cands = [d for d in discoveries if d["symbol"] == o["symbol"]
                 and FROM <= parse(d["discovery_timestamp"]) <= entry]
        if not cands:
            continue
        d = max(cands, key=lambda d: parse(d["discovery_timestamp"]))
        if entry - parse(d["discovery_timestamp"]) > MATCH:
            continue
        out.append((parse(d["discovery_timestamp"]), d["discovery_features"], o["return_pct"]))
    return out


def score(w, feats):
    return sum(wf * feats.get(f, 0.0) for f, wf in w.items())


def counterfactual(ps, top_k):
    days = {}
    for i, (at, feats, ret) in enumerate(ps):
        days.setdefault(at.date(), []).append(i)
    daily = []
    for day in sorted(days):
        idx = days[day]
        n = len(idx)
        k = min(top_k, n) if top_k else math.ceil(n / 10)

        def top(w):
            ranked = sorted(idx, key=lambda i: (-score(w, ps[i][1]), i))
            return float(np.mean([ps[i][2] for i in ranked[:k]]))

        lm, cm = top(LEARNED), top(CONSERVATIVE)
        daily.append({"day": day.isoformat(), "trades": n, "k": k, "learned_mean": lm,
                      "conservative_mean": cm, "difference": lm - cm})
    d = np.array([x["difference"] for x in daily])
    t = stats.ttest_1samp(d, 0.0)
    ci = t.confidence_interval(0.95)
    return {"trades": len(ps), "days": len(daily),
            "learned_top_mean": float(np.mean([x["learned_mean"] for x in daily])),
            "conservative_top_mean": float(np.mean([x["conservative_mean"] for x in daily])),
            "difference": float(d.mean()), "ci_low": float(ci.low), "ci_high": float(ci.high),
            "df": len(daily) - 1, "daily": daily}


def main():
    rng = np.random.default_rng(20260105)
    discoveries, theses, outcomes = generate(rng)
    for name, rows in [("discoveries", discoveries), ("theses", theses), ("outcomes", outcomes)]:
        with open(os.path.join(OUT, f"{name}.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r, sort_keys=True) + "\n")
    ps = pairs(discoveries, outcomes)
    in_window = lambda t: FROM <= parse(t) <= TO
    ref = {
        "generator": "python3 scripts/reference_shadow.py",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "from": ts(FROM), "to": ts(TO),
        "learned": LEARNED,
        "records": {
            "discovery": sum(in_window(d["discovery_timestamp"]) for d in discoveries),
            "thesis": sum(in_window(t["thesis_timestamp"]) for t in theses),
            "outcome": sum(in_window(o["entry_timestamp"]) for o in outcomes),
        },
        "top_decile": counterfactual(ps, None),
        "top_3": counterfactual(ps, 3),
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
