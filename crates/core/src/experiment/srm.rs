//! The sequential sample-ratio-mismatch test: Lindon and Malek's Dirichlet–multinomial
//! mixture (as Optimizely and Eppo describe it), always valid, so a healthy experiment
//! checked at every tick for its whole life is flagged with probability at most `alpha`.
//! The reported p-value is the running minimum over the ticks (kept in the memory).

use serde::Serialize;

use crate::config::domain::Percentage;
use crate::records::PerVariant;
use crate::stats;

/// The SRM test's level: a p-value below it is a critical issue.
pub const SRM_ALPHA: f64 = 0.001;
/// The Dirichlet prior's concentration around the configured split (Lindon and Malek's
/// default, as in the `savvi` package).
pub const SRM_CONCENTRATION: f64 = 100.0;

#[derive(Debug, Clone, Serialize)]
pub struct Srm {
    /// `sequential_multinomial`.
    pub design: &'static str,
    pub alpha: f64,
    /// The always-valid p-value: the running minimum of 1/BF over the looks so far.
    pub p_value: Option<f64>,
    /// Pearson's χ² of the current counts (for reading; the decision uses `p_value`).
    pub statistic: Option<f64>,
    /// Expected units per variant under the configured split.
    pub expected: PerVariant<f64>,
    pub observed: PerVariant<u64>,
    pub mismatch: bool,
}

/// The SRM test of `units` against the split; `previous_min` is the running minimum so far.
pub fn srm(units: &PerVariant<u64>, treatment: Percentage, previous_min: Option<f64>) -> Srm {
    let share = treatment.get() / 100.0;
    let total = (units.control + units.treatment) as f64;
    let expected = PerVariant {
        control: total * (1.0 - share),
        treatment: total * share,
    };
    let testable = share > 0.0 && share < 1.0;
    let now = testable
        .then(|| {
            stats::multinomial_mixture_p(
                &[units.control, units.treatment],
                &[1.0 - share, share],
                SRM_CONCENTRATION,
            )
        })
        .flatten();
    let p_value = match (previous_min, now) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let statistic = (testable && total > 0.0)
        .then(|| {
            stats::chi_square_gof(
                &[units.control as f64, units.treatment as f64],
                &[1.0 - share, share],
            )
        })
        .flatten()
        .map(|r| r.0);
    Srm {
        design: "sequential_multinomial",
        alpha: SRM_ALPHA,
        p_value,
        statistic,
        expected,
        observed: *units,
        mismatch: p_value.is_some_and(|p| p < SRM_ALPHA),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(p: f64) -> Percentage {
        Percentage::new(p).unwrap()
    }

    #[test]
    fn healthy_split_is_not_a_mismatch_and_a_gross_one_is() {
        let ok = srm(
            &PerVariant {
                control: 2_520,
                treatment: 280,
            },
            pct(10.0),
            None,
        );
        assert!(!ok.mismatch && ok.p_value.unwrap() > 0.1, "{ok:?}");
        let bad = srm(
            &PerVariant {
                control: 840,
                treatment: 160,
            },
            pct(10.0),
            None,
        );
        assert!(bad.mismatch, "{bad:?}");
        // The running minimum keeps a past mismatch.
        let kept = srm(
            &PerVariant {
                control: 2_520,
                treatment: 280,
            },
            pct(10.0),
            Some(1e-5),
        );
        assert!(kept.mismatch);
        let empty = srm(&PerVariant::default(), pct(10.0), None);
        assert!(!empty.mismatch);
    }
}
