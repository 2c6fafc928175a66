#!/usr/bin/env python3
"""Writes the learning module's reference data to tests/data/learning/, computed with SciPy.

    pip install numpy scipy && python3 scripts/reference_learning.py

(tests/data/learning/pipeline.json names the SciPy version; the command is also written there.)

- correlations.json: (x, y) datasets (normal, heavy-tailed, tied, small, strong) with
  scipy.stats.pearsonr and spearmanr (statistic and two-sided p-value);
- discoveries.jsonl, outcomes.jsonl: a pipeline dataset. Each closed trade is paired once, with
  the latest discovery of its symbol at or before its entry, within the 3-day match window.
  Decoys carry extreme returns or features: a scanner that re-reports a symbol (stale
  discoveries before the latest one, and one after the entry) must neither multiply the trade
  nor lend it their features; trades that must NOT pair (entered before any discovery, entered
  after the match window, still open) carry extreme returns; a symbol traded twice within the
  window counts both trades. pipeline.json holds `now`, the numbers of rows, and SciPy's
  correlations over the true pairs only.

The Rust tests (tests/it/learning.rs) must match these numbers to 1e-9 relative.
"""
import json
import os
from datetime import datetime, timedelta, timezone

import numpy as np
import scipy
from scipy import stats

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "learning")
FEATURES = ["volume_momentum", "squeeze", "catalyst", "sentiment", "options", "technical"]


def corr(x, y):
    p = stats.pearsonr(x, y)
    s = stats.spearmanr(x, y)
    return {
        "pearson": float(p.statistic),
        "pearson_p": float(p.pvalue),
        "spearman": float(s.statistic),
        "spearman_p": float(s.pvalue),
    }


def correlations(rng):
    out = {}
    x = rng.normal(0, 1, 80)
    out["normal"] = (x, 0.4 * x + rng.normal(0, 1, 80))
    x = rng.random(200)
    y = rng.standard_t(3, 200) * 2.0 + 1.5 * x
    y[rng.choice(200, 3, replace=False)] = 300.0
    out["heavy"] = (x, y)
    x = rng.integers(0, 5, 150).astype(float)
    out["ties"] = (x, rng.integers(0, 4, 150).astype(float) + 0.3 * x)
    x = rng.normal(0, 1, 10)
    out["small"] = (x, x + rng.normal(0, 2, 10))
    x = rng.normal(0, 1, 60)
    out["strong"] = (x, 3 * x + rng.normal(0, 0.5, 60))
    x = rng.normal(0, 1, 120)
    out["none"] = (x, rng.normal(0, 1, 120))
    return {k: dict(x=list(map(float, a)), y=list(map(float, b)), **corr(a, b)) for k, (a, b) in out.items()}


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pipeline(rng):
    now = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)
    start = now - timedelta(days=80)
    discoveries, outcomes, pairs = [], [], []
    n = 120
    for i in range(n):
        sym = f"S{i:03d}"
        t = start + timedelta(hours=12 * i + 1)
        f = {k: float(round(rng.random(), 4)) for k in FEATURES}
        f["catalyst"] = float(rng.integers(0, 4))  # ties
        kind = i % 8
        discoveries.append(dict(symbol=sym, discovery_timestamp=ts(t), discovery_features=f,
                                discovery_score=float(round(rng.random(), 4)), action_tag="trade_ready",
                                market_conditions={"regime": "normal", "vix": 18.0}, universe_size=5000))

        def trade(entry, ret, closed=True):
            o = dict(symbol=sym, entry_timestamp=ts(entry), entry_price=10.0, return_pct=float(ret))
            if closed:
                o["exit_timestamp"] = ts(entry + timedelta(days=2))
                o["exit_price"] = 10.0 * (1 + ret / 100)
            else:
                del o["return_pct"]
            outcomes.append(o)

        ret = float(3 * f["squeeze"] + 2 * f["volume_momentum"] + rng.standard_t(3))
        entry = t + timedelta(hours=20 + i % 30)
        if kind == 5:
            # Only a trade after the match window: no pair.
            trade(t + timedelta(days=5), 500.0)
        elif kind == 6:
            # An open trade, then a closed one after the match window: no pair.
            trade(t + timedelta(days=1), 0.0, closed=False)
            trade(t + timedelta(days=4), -99.0)
        else:
            if kind == 7:
                trade(t - timedelta(days=1), 400.0)  # entered before any discovery of the symbol
            if kind == 4:
                # The scanner re-reports the symbol: stale reports before the latest one (within
                # the match window of the entry too) and one after the entry. The trade pairs
                # once, with the latest report before its entry.
                for hours in (-30, -6):
                    decoy = {k: 1000.0 for k in FEATURES}
                    discoveries.append(dict(symbol=sym, discovery_timestamp=ts(t + timedelta(hours=hours)),
                                            discovery_features=decoy, discovery_score=0.5,
                                            action_tag="trade_ready"))
                discoveries.append(dict(symbol=sym, discovery_timestamp=ts(entry + timedelta(hours=2)),
                                        discovery_features={k: -1000.0 for k in FEATURES},
                                        discovery_score=0.5, action_tag="trade_ready"))
            trade(entry, ret)
            pairs.append((f, ret))
            if kind == 3:
                # A second trade of the symbol within the window is a trade of its own.
                ret2 = float(3 * f["squeeze"] + 2 * f["volume_momentum"] + rng.standard_t(3))
                trade(t + timedelta(days=2, hours=23), ret2)
                pairs.append((f, ret2))
    ref = {"now": ts(now), "window_days": 90, "match_window_days": 3, "pairs": len(pairs),
           "discoveries": len(discoveries), "outcomes": len(outcomes), "features": {}}
    for k in FEATURES:
        x = np.array([f[k] for f, _ in pairs])
        y = np.array([r for _, r in pairs])
        ref["features"][k] = corr(x, y)
    ref["success_n"] = sum(1 for o in outcomes if "return_pct" in o and o["exit_timestamp"] <= ts(now))
    ref["success_positive"] = sum(1 for o in outcomes if o.get("return_pct", 0) > 0 and o["exit_timestamp"] <= ts(now))
    return discoveries, outcomes, ref


def main():
    rng = np.random.default_rng(20261125)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "correlations.json"), "w") as f:
        json.dump({"scipy": scipy.__version__, "datasets": correlations(rng)}, f, indent=1)
    d, o, ref = pipeline(rng)
    with open(os.path.join(OUT, "discoveries.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in d)
    with open(os.path.join(OUT, "outcomes.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in o)
    ref["scipy"] = scipy.__version__
    ref["generator"] = "pip install numpy scipy && python3 scripts/reference_learning.py"
    with open(os.path.join(OUT, "pipeline.json"), "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main()
