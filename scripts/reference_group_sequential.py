#!/usr/bin/env python3
"""Checks the group-sequential boundaries of crates/core/src/stats/group_sequential.rs
independently: for Lan-DeMets O'Brien-Fleming-type spending, two-sided alpha 0.05, five
equal looks, the published boundaries 4.877, 3.357, 2.680, 2.290, 2.031 must spend
alpha(t_k) - alpha(t_{k-1}) at each look. The crossing probabilities are computed with
SciPy's multivariate normal CDF (Genz) on corr(Z_i, Z_j) = sqrt(t_i / t_j), and checked by a
seeded Monte Carlo of 2,000,000 Brownian paths.

    pip install numpy scipy && python3 scripts/reference_group_sequential.py

Output (SciPy 1.17.1):
    spending alpha(t_k):        [1.0000e-06 7.8800e-04 7.6160e-03 2.4424e-02 5.0000e-02]
    P(cross by look k), Genz:   [1.0000e-06 7.8800e-04 7.6220e-03 2.4414e-02 5.0002e-02]
    P(cross by look k), MC:     [0.       0.000772 0.00766  0.024537 0.050084]
(the published boundaries are rounded to 3 decimals, hence the 1e-5 differences).
"""
import numpy as np
from scipy import stats

ALPHA = 0.05
T = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
B = np.array([4.877, 3.357, 2.680, 2.290, 2.031])


def spend(t):
    # Each side at one-sided level ALPHA / 2 (gsDesign sfLDOF, ldbounds); total twice that.
    return 4 * stats.norm.sf(stats.norm.isf(ALPHA / 4) / np.sqrt(t))


def cumulative_crossing(b, t):
    """P(|Z_j| >= b_j for some j <= k) for each k, by inclusion on the continuation box."""
    out = []
    for k in range(1, len(t) + 1):
        tt = t[:k]
        cov = np.sqrt(np.minimum.outer(tt, tt) / np.maximum.outer(tt, tt))
        mvn = stats.multivariate_normal(mean=np.zeros(k), cov=cov)
        inside = mvn.cdf(b[:k], lower_limit=-b[:k])
        out.append(1 - inside)
    return np.array(out)


def monte_carlo(b, t, paths=2_000_000, seed=20261129):
    rng = np.random.default_rng(seed)
    inc = np.diff(np.concatenate([[0.0], t]))
    s = np.cumsum(rng.normal(size=(paths, len(t))) * np.sqrt(inc), axis=1)
    z = s / np.sqrt(t)
    crossed = np.maximum.accumulate(np.abs(z) >= b, axis=1)
    return crossed.mean(axis=0)


def main():
    print("spending alpha(t_k):       ", np.round(spend(T), 6))
    print("P(cross by look k), Genz:  ", np.round(cumulative_crossing(B, T), 6))
    print("P(cross by look k), MC:    ", np.round(monte_carlo(B, T), 6))


if __name__ == "__main__":
    main()
