//! Verdicts: one metric's, from its sequential p-value and its effect; Holm's correction
//! across guard metrics; and what an analysis tells the controller.

use serde::{Deserialize, Serialize};

use super::analysis::Analysis;
use crate::config::MetricRole;
use crate::controller::{AbVerdict, Signals};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Fewer than `min_samples` units (or `min_events` events) per arm, or no variance yet.
    InsufficientData,
    Inconclusive,
    TreatmentBetter,
    TreatmentWorse,
}

/// Multiple exposures above this share of units hold the rollout.
pub const MULTIPLE_EXPOSURE_SHARE: f64 = 0.01;

/// The verdict of a p-value against `alpha` and an effect towards "better" against the
/// smallest effect worth acting on: better only if significant and at least `threshold`;
/// worse if significant in the wrong direction; otherwise inconclusive.
pub fn decide(p: Option<f64>, alpha: f64, toward_better: Option<f64>, threshold: f64) -> Verdict {
    match (p, toward_better) {
        (Some(p), Some(e)) if p <= alpha => {
            if e >= threshold {
                Verdict::TreatmentBetter
            } else if e < 0.0 {
                Verdict::TreatmentWorse
            } else {
                Verdict::Inconclusive
            }
        }
        (Some(_), Some(_)) => Verdict::Inconclusive,
        _ => Verdict::InsufficientData,
    }
}

/// Holm's step-down procedure at family-wise level `alpha`: which hypotheses are rejected.
/// A missing p-value is never rejected and counts in the family.
pub fn holm(p: &[Option<f64>], alpha: f64) -> Vec<bool> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (p[a].unwrap_or(f64::INFINITY), p[b].unwrap_or(f64::INFINITY));
        x.total_cmp(&y)
    });
    let mut out = vec![false; m];
    for (rank, &i) in order.iter().enumerate() {
        match p[i] {
            Some(pi) if pi <= alpha / (m - rank) as f64 => out[i] = true,
            _ => break,
        }
    }
    out
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

/// What an analysis tells the controller about a rollout in its A/B stage: an SRM or a
/// guard metric significantly worse (Holm) is critical; the deciding metric's verdict is
/// the A/B verdict; multiple exposures above 1 % of units hold the rollout.
pub fn signals(a: &Analysis) -> Signals {
    let mut signals = Signals::default();
    if a.srm.mismatch {
        signals.critical.push(format!(
            "sample ratio mismatch: {} control / {} treatment units, expected {:.0} / {:.0} (always-valid p = {:.2e} < {})",
            a.srm.observed.control,
            a.srm.observed.treatment,
            a.srm.expected.control,
            a.srm.expected.treatment,
            a.srm.p_value.unwrap_or(f64::NAN),
            a.srm.alpha,
        ));
    }
    for m in a.metrics.iter().filter(|m| m.guard_breached) {
        signals.critical.push(format!(
            "guard metric {} significantly worse: lift {} [{}, {}], {} p = {:.2e} (Holm level {:.2e})",
            m.metric,
            num(m.lift),
            num(m.ci_low),
            num(m.ci_high),
            a.design.as_str(),
            m.sequential_p_value.unwrap_or(f64::NAN),
            m.holm_alpha.unwrap_or(f64::NAN),
        ));
    }
    if a.exposure.share > MULTIPLE_EXPOSURE_SHARE {
        signals.warnings.push(format!(
            "multiple exposures: {} units were seen in both variants ({:.1} % of {} units, above 1 %)",
            a.exposure.multiple_exposures,
            100.0 * a.exposure.share,
            a.exposure.units.control + a.exposure.units.treatment,
        ));
    }
    if let Some(m) = a.metrics.iter().find(|m| m.role == MetricRole::Decide) {
        let describe = |what: &str| {
            format!(
                "A/B {what} on {}: lift {} [{}, {}], effect {}, {} p = {:.2e}{}",
                m.metric,
                num(m.lift),
                num(m.ci_low),
                num(m.ci_high),
                num(m.effect_size),
                a.design.as_str(),
                m.sequential_p_value.unwrap_or(f64::NAN),
                a.look
                    .map(|l| format!(" at look {l}/{}", a.looks))
                    .unwrap_or_default(),
            )
        };
        signals.ab = match m.verdict {
            Verdict::TreatmentBetter => AbVerdict::Win(describe("treatment better")),
            Verdict::TreatmentWorse => AbVerdict::Loss(describe("treatment significantly worse")),
            _ => AbVerdict::Inconclusive,
        };
    }
    signals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_steps_down() {
        // alpha 0.05, m = 3: levels 0.0167, 0.025, 0.05.
        let r = holm(&[Some(0.01), Some(0.04), Some(0.02)], 0.05);
        assert_eq!(r, vec![true, true, true]);
        // 0.03 > 0.05 / 2 at the second step: it and everything after it stand.
        let r = holm(&[Some(0.01), Some(0.04), Some(0.03)], 0.05);
        assert_eq!(r, vec![true, false, false]);
        let r = holm(&[Some(0.01), Some(0.04), Some(0.02)], 0.03);
        assert_eq!(r, vec![true, false, false]);
        let r = holm(&[Some(0.02), None], 0.05);
        assert_eq!(r, vec![true, false]);
        assert_eq!(holm(&[Some(0.03), Some(0.5)], 0.05), vec![false, false]);
        assert!(holm(&[], 0.05).is_empty());
    }

    #[test]
    fn decide_needs_significance_and_size() {
        assert_eq!(
            decide(Some(0.001), 0.01, Some(0.3), 0.1),
            Verdict::TreatmentBetter
        );
        assert_eq!(
            decide(Some(0.001), 0.01, Some(0.05), 0.1),
            Verdict::Inconclusive
        );
        assert_eq!(
            decide(Some(0.001), 0.01, Some(-0.05), 0.1),
            Verdict::TreatmentWorse
        );
        assert_eq!(
            decide(Some(0.2), 0.01, Some(-0.5), 0.1),
            Verdict::Inconclusive
        );
        assert_eq!(
            decide(None, 0.01, Some(0.5), 0.1),
            Verdict::InsufficientData
        );
    }
}
