//! One metric's estimate from its per-unit statistics: the test's result, the effect on the
//! scale `min_effect` is judged on, and whether there is enough data for a verdict.
//!
//! Each test decides with its own statistic:
//! - `welch_t`: Welch's t on unit values; effect = Cohen's d.
//! - `two_proportion_z`: unit values in [0, 1] (a unit's 0/1 outcome, or its share of
//!   successes with `per_unit: mean`); z with the SE pooled under the null; effect = the
//!   difference over the pooled sd (Cohen's d under the null); no verdict before
//!   `min_events` units with a non-zero value in each arm.
//! - `mann_whitney`: effect = P(T > C) + ½P(T = C) − ½ on unit values, judged against
//!   Φ(min_effect/√2) − ½ (what a shift of `min_effect` sd does to normal data); never the
//!   means.

use statrs::distribution::{ContinuousCDF, Normal};

use super::analysis::MetricData;
use crate::config::{AbAnalysis, Direction, MetricSpec, TestKind};
use crate::stats::{self, TestResult};

#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    pub result: Option<TestResult>,
    /// The effect on the scale `threshold` is on (treatment − control).
    pub effect: Option<f64>,
    /// The smallest effect worth acting on, on the same scale.
    pub threshold: f64,
    /// Enough units (and events) per arm for a verdict.
    pub enough: bool,
    /// Units with a value, (treatment, control).
    pub units: (u64, u64),
}

impl Estimate {
    /// The statistic the designs use: diff / SE under the null.
    pub fn z(&self) -> Option<f64> {
        self.result
            .map(|r| r.diff / r.se_null)
            .filter(|z| z.is_finite())
    }

    /// The effect towards "better" for the metric's direction.
    pub fn toward_better(&self, direction: Direction) -> Option<f64> {
        self.effect.map(|e| match direction {
            Direction::Increase => e,
            Direction::Decrease => -e,
        })
    }
}

/// Φ(d/√2) − ½: P(T > C) − ½ under a shift of `d` sd in normal data.
pub fn superiority_threshold(d: f64) -> f64 {
    Normal::new(0.0, 1.0).map_or(f64::NAN, |n| n.cdf(d / std::f64::consts::SQRT_2)) - 0.5
}

pub fn estimate(spec: &MetricSpec, cfg: &AbAnalysis, d: &MetricData) -> Estimate {
    let (t, c) = (&d.moments.treatment, &d.moments.control);
    let units_ok = t.n().min(c.n()) >= cfg.min_samples;
    match spec.test {
        TestKind::WelchT => Estimate {
            result: stats::welch_t(t, c),
            effect: stats::cohens_d(t, c),
            threshold: cfg.min_effect,
            enough: units_ok,
            units: (t.n(), c.n()),
        },
        TestKind::TwoProportionZ => {
            let result = stats::two_proportion_z(t, c);
            let mut all = *t;
            all.merge(c);
            let sd0 = (all.m2() / all.n().max(1) as f64).sqrt();
            let effect = result
                .map(|r| r.diff / sd0)
                .filter(|e| e.is_finite() && sd0 > 0.0);
            let events_ok = d.events.treatment.min(d.events.control) >= spec.min_events;
            Estimate {
                result,
                effect,
                threshold: cfg.min_effect,
                enough: units_ok && events_ok,
                units: (t.n(), c.n()),
            }
        }
        TestKind::MannWhitney => {
            let result = d.ranks.as_ref().and_then(stats::mann_whitney);
            let n_ok = d
                .ranks
                .as_ref()
                .is_some_and(|r| r.n_a.min(r.n_b) >= cfg.min_samples);
            Estimate {
                result,
                effect: result.map(|r| r.diff),
                threshold: superiority_threshold(cfg.min_effect),
                enough: n_ok,
                units: d.ranks.as_ref().map_or((0, 0), |r| (r.n_a, r.n_b)),
            }
        }
    }
}
