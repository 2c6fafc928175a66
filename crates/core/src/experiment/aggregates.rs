//! What the store maintains for the A/B analysis, per stage entry: the moments of the unit
//! values per metric and variant, and the units exposed per variant.

use serde::Serialize;

use crate::records::PerVariant;
use crate::stats::Moments;

/// A metric's maintained statistics over unit values (one value per unit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct UnitAggregate {
    /// Moments of the unit values.
    pub moments: PerVariant<Moments>,
    /// The observations behind the units.
    pub observations: PerVariant<u64>,
    /// Units whose value is not zero.
    pub events: PerVariant<u64>,
}

/// Units observed per variant, and units observed in both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ExposureCounts {
    pub units: PerVariant<u64>,
    pub multiple: u64,
}

/// The width of the time buckets guardrail windows are read from: one minute. A window
/// `[now - w, now]` reads the buckets of the minutes it touches, so its oldest minute counts
/// whole (at most one minute more than `w`).
pub const BUCKET: chrono::Duration = chrono::Duration::minutes(1);

/// The bucket (its start) an observation made at `at` falls in.
pub fn bucket_start(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    let secs = BUCKET.num_seconds();
    let t = at.timestamp().div_euclid(secs) * secs;
    chrono::DateTime::from_timestamp(t, 0).unwrap_or(at)
}

/// One metric's observations of one variant over a time bucket, or over a window (the merge
/// of its buckets): what every windowed guardrail aggregate is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSummary {
    pub moments: Moments,
    /// Observations whose value is not zero (`rate`).
    pub nonzero: u64,
    /// The quantiles (`p95`, `p99`), within [`crate::stats::SKETCH_ALPHA`].
    pub sketch: crate::stats::Sketch,
}

impl MetricSummary {
    pub fn add(&mut self, v: f64) {
        self.moments.add(v);
        self.nonzero += u64::from(v != 0.0);
        self.sketch.add(v);
    }

    pub fn merge(&mut self, other: &MetricSummary) {
        self.moments.merge(&other.moments);
        self.nonzero += other.nonzero;
        self.sketch.merge(&other.sketch);
    }

    pub fn n(&self) -> u64 {
        self.moments.n()
    }

    /// The value of `aggregate` over these observations (`None` when there are none, except
    /// `count` and `sum`, which are 0).
    pub fn value(&self, aggregate: crate::config::Aggregate) -> Option<f64> {
        use crate::config::Aggregate;
        let n = self.n();
        match aggregate {
            Aggregate::Count => Some(n as f64),
            Aggregate::Sum => Some(if n == 0 { 0.0 } else { self.moments.sum() }),
            _ if n == 0 => None,
            Aggregate::Mean => Some(self.moments.mean()),
            Aggregate::Rate => Some(self.nonzero as f64 / n as f64),
            Aggregate::P95 | Aggregate::P99 => {
                aggregate.quantile().and_then(|q| self.sketch.quantile(q))
            }
        }
    }
}

/// The relative width of the rank test's bins of unit values.
pub const RANK_BIN_ALPHA: f64 = 1e-4;

/// The bins of the rank test's histogram of unit values. A value's bin is the pair of its
/// log-spaced bin (relative width [`RANK_BIN_ALPHA`]) and the log-spaced bin of its distance
/// from an anchor (the group's first unit value), ordered lexicographically: order-preserving,
/// equal values share a bin, and two different values share one only when they are within
/// 1e-4 of each other relative to their magnitude *and* to their distance from the anchor.
/// The first keeps the resolution of small values whatever the anchor; the second resolves
/// values near 1e9 by their spread rather than their magnitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankBins {
    bins: crate::stats::LogBins,
    anchor: f64,
}

impl RankBins {
    pub fn new(anchor: f64) -> RankBins {
        RankBins {
            bins: crate::stats::LogBins::new(RANK_BIN_ALPHA),
            anchor: if anchor.is_finite() { anchor } else { 0.0 },
        }
    }

    pub fn anchor(&self) -> f64 {
        self.anchor
    }

    /// The bin of unit value `v` (monotone in `v`): the magnitude bin in the high 32 bits,
    /// the distance bin (offset to be unsigned) in the low 32.
    pub fn bin(&self, v: f64) -> i64 {
        let magnitude = i64::from(self.bins.bin(v));
        let distance = i64::from(self.bins.bin(v - self.anchor)) - i64::from(i32::MIN);
        (magnitude << 32) | distance
    }
}

/// The rank test's sums from a histogram: `(control, treatment)` unit counts per bin, in bin
/// order. Each bin is a tie group whose units share the average rank `below + (t + 1) / 2`.
pub fn rank_sums_of_bins(bins: impl IntoIterator<Item = (u64, u64)>) -> crate::stats::RankSums {
    let (mut below, mut n_a, mut n_b) = (0.0f64, 0u64, 0u64);
    let (mut rank_sum_a, mut tie_term) = (0.0f64, 0.0f64);
    for (c, t) in bins {
        let size = (c + t) as f64;
        if size == 0.0 {
            continue;
        }
        rank_sum_a += t as f64 * (below + (size + 1.0) / 2.0);
        tie_term += size * size * size - size;
        below += size;
        n_a += t;
        n_b += c;
    }
    crate::stats::RankSums {
        n_a,
        n_b,
        rank_sum_a,
        tie_term,
    }
}
