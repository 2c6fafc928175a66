#!/usr/bin/env python3
"""Values near 1e9 (issue 10, item 2): with count/sum/sum of squares the variance cancels
and Welch's p read 0.79; with (n, mean, M2) it must match SciPy to 1e-6 relative. Writes
tests/data/stats/large_values.json (values and SciPy's Welch t, df, p).

    pip install numpy scipy && python3 scripts/reference_large_values.py
"""
import json
import os

import numpy as np
import scipy
from scipy import stats

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "stats", "large_values.json")


def main():
    rng = np.random.default_rng(20261129)
    c = 1e9 + rng.normal(0.0, 1.0, 400)
    t = 1e9 + rng.normal(0.25, 1.0, 200)
    w = stats.ttest_ind(t, c, equal_var=False)
    ref = {
        "generator": "python3 scripts/reference_large_values.py",
        "scipy": scipy.__version__,
        "treatment": [float(v) for v in t],
        "control": [float(v) for v in c],
        "welch_t": {"t": float(w.statistic), "df": float(w.df), "p": float(w.pvalue)},
    }
    with open(OUT, "w") as f:
        json.dump(ref, f)
        f.write("\n")
    print(ref["welch_t"])


if __name__ == "__main__":
    main()
