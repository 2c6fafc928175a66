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

/// The relative width of the rank test's bins of unit values: values within 1e-4 of each
/// other (relative) may share a bin and then rank as ties; equal values always do.
pub const RANK_BIN_ALPHA: f64 = 1e-4;

/// The bins the rank test's histogram of unit values is kept in.
pub fn rank_bins() -> crate::stats::LogBins {
    crate::stats::LogBins::new(RANK_BIN_ALPHA)
}
