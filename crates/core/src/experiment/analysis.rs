//! The A/B analysis: per-metric tests on the stored sufficient statistics, the
//! sample-ratio-mismatch check, and the verdict the controller acts on.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::config::domain::Percentage;
use crate::config::{AbAnalysis, Direction, MetricSpec, Rollout, Sequential, StageKind, TestKind};
use crate::controller::{AbVerdict, RolloutState, Signals, Status};
use crate::records::PerVariant;
use crate::stats::{self, Moments, TestResult};

/// An SRM p-value below this is a critical issue.
pub const SRM_ALPHA: f64 = 0.001;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Fewer than `min_samples` per arm, or no variance yet.
    InsufficientData,
    Inconclusive,
    TreatmentBetter,
    TreatmentWorse,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArmSummary {
    pub n: u64,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricAnalysis {
    pub metric: String,
    pub test: &'static str,
    pub direction: Direction,
    pub control: ArmSummary,
    pub treatment: ArmSummary,
    /// Fixed-horizon p-value of the metric's test.
    pub p_value: Option<f64>,
    /// Always-valid (mSPRT) p-value.
    pub sequential_p_value: Option<f64>,
    /// Cohen's d, treatment - control.
    pub effect_size: Option<f64>,
    /// Treatment - control on the metric's scale (for `mann_whitney`: P(T > C) - ½).
    pub lift: Option<f64>,
    /// `lift` relative to the control mean.
    pub relative_lift: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub statistic: Option<f64>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct Srm {
    pub p_value: Option<f64>,
    pub statistic: Option<f64>,
    /// Expected units per variant under the configured split.
    pub expected: PerVariant<f64>,
    pub observed: PerVariant<u64>,
    pub mismatch: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageRef {
    pub index: usize,
    pub percentage: f64,
    pub alpha: f64,
    pub min_effect: f64,
    pub min_samples: u64,
    pub sequential: bool,
    /// Whether the rollout is in this stage now.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub rollout: String,
    pub stage: StageRef,
    pub metrics: Vec<MetricAnalysis>,
    pub srm: Srm,
    /// The primary (first) metric's verdict.
    pub verdict: Verdict,
}

/// The A/B stage to analyse: the current one, else the first in the plan.
fn ab_stage(
    rollout: &Rollout,
    state: Option<&RolloutState>,
) -> Option<(usize, Percentage, AbAnalysis)> {
    let current = state.map(|s| s.stage_index);
    let pick = |i: usize| match &rollout.stages.get(i)?.kind {
        StageKind::AbTest {
            percentage,
            analysis,
            ..
        } => Some((i, *percentage, analysis.clone())),
        _ => None,
    };
    current
        .and_then(pick)
        .or_else(|| (0..rollout.stages.len()).find_map(pick))
}

/// The statistics an analysis of one metric reads.
#[derive(Debug, Clone, Default)]
pub struct MetricData {
    pub moments: PerVariant<Moments>,
    /// Rank sums, for `mann_whitney` metrics only.
    pub ranks: Option<stats::RankSums>,
}

/// The A/B stage to analyse (the current one, else the first in the plan) and, per metric
/// of that stage, whether its rank sums are needed; `None` if the rollout has no A/B stage.
pub fn plan(rollout: &Rollout, state: Option<&RolloutState>) -> Option<AbPlan> {
    let (index, percentage, cfg) = ab_stage(rollout, state)?;
    Some(AbPlan {
        index,
        percentage,
        current: state.is_some_and(|s| s.stage_index == index),
        cfg,
    })
}

/// What [`plan`] chose: the stage and its analysis settings.
#[derive(Debug, Clone)]
pub struct AbPlan {
    pub index: usize,
    pub percentage: Percentage,
    pub current: bool,
    pub cfg: AbAnalysis,
}

impl AbPlan {
    /// The metrics to read, in order, and whether each needs rank sums.
    pub fn reads(&self) -> impl Iterator<Item = (&str, bool)> {
        self.cfg
            .metrics
            .iter()
            .map(|m| (m.name.as_str(), m.test == TestKind::MannWhitney))
    }

    /// The analysis from the data of each metric (in [`reads`](Self::reads) order) and the
    /// units per variant.
    pub fn analyze(&self, rollout: &str, data: &[MetricData], units: &PerVariant<u64>) -> Analysis {
        let cfg = &self.cfg;
        let metrics: Vec<MetricAnalysis> = cfg
            .metrics
            .iter()
            .zip(data)
            .map(|(spec, d)| metric(spec, cfg, &d.moments, d.ranks.as_ref()))
            .collect();
        let srm = srm(units, self.percentage);
        let verdict = metrics
            .first()
            .map_or(Verdict::InsufficientData, |m| m.verdict);
        Analysis {
            rollout: rollout.to_owned(),
            stage: StageRef {
                index: self.index,
                percentage: self.percentage.get(),
                alpha: cfg.alpha,
                min_effect: cfg.min_effect,
                min_samples: cfg.min_samples,
                sequential: cfg.sequential == Sequential::AlwaysValid,
                current: self.current,
            },
            metrics,
            srm,
            verdict,
        }
    }
}

fn arm(m: &Moments) -> ArmSummary {
    let finite = |v: f64| v.is_finite().then_some(v);
    ArmSummary {
        n: m.n(),
        mean: finite(m.mean()),
        sd: finite(m.sd()),
    }
}

/// The analysis of one metric: a pure function of the stored statistics.
pub fn metric(
    spec: &MetricSpec,
    cfg: &AbAnalysis,
    m: &PerVariant<Moments>,
    ranks: Option<&stats::RankSums>,
) -> MetricAnalysis {
    let (t, c) = (&m.treatment, &m.control);
    let result: Option<TestResult> = match spec.test {
        TestKind::WelchT => stats::welch_t(t, c),
        TestKind::TwoProportionZ => stats::two_proportion_z(t, c),
        TestKind::MannWhitney => ranks.and_then(stats::mann_whitney),
    };
    let d = stats::cohens_d(t, c);
    let tau = match spec.test {
        TestKind::WelchT => {
            let (nt, nc) = (t.n() as f64, c.n() as f64);
            let pooled =
                (((nt - 1.0) * t.variance() + (nc - 1.0) * c.variance()) / (nt + nc - 2.0)).sqrt();
            stats::mixture_sd(cfg.min_effect, pooled)
        }
        TestKind::TwoProportionZ => {
            let p = (t.sum() + c.sum()) / (t.n() + c.n()).max(1) as f64;
            stats::mixture_sd(cfg.min_effect, (p * (1.0 - p)).sqrt())
        }
        // A shift of d standard deviations moves P(T > C) from ½ to Φ(d / √2).
        TestKind::MannWhitney => {
            Normal::new(0.0, 1.0).map_or(f64::NAN, |n| {
                n.cdf(cfg.min_effect / std::f64::consts::SQRT_2)
            }) - 0.5
        }
    };
    let seq = result.map(|r| stats::always_valid_p(r.diff, r.se, tau));
    let enough = t.n().min(c.n()) >= cfg.min_samples;
    let verdict = match (result, d, enough) {
        (Some(r), Some(d), true) => {
            let p = match cfg.sequential {
                Sequential::AlwaysValid => seq.unwrap_or(1.0),
                Sequential::FixedHorizon => r.p_value,
            };
            let toward_better = match spec.direction {
                Direction::Increase => d,
                Direction::Decrease => -d,
            };
            if p < cfg.alpha && toward_better >= cfg.min_effect {
                Verdict::TreatmentBetter
            } else if p < cfg.alpha && toward_better < 0.0 {
                Verdict::TreatmentWorse
            } else {
                Verdict::Inconclusive
            }
        }
        _ => Verdict::InsufficientData,
    };
    let relative = result.and_then(|r| {
        let base = c.mean();
        (spec.test != TestKind::MannWhitney && base.is_finite() && base != 0.0)
            .then(|| r.diff / base.abs())
    });
    MetricAnalysis {
        metric: spec.name.clone(),
        test: spec.test.as_str(),
        direction: spec.direction,
        control: arm(c),
        treatment: arm(t),
        p_value: result.map(|r| r.p_value),
        sequential_p_value: seq,
        effect_size: d,
        lift: result.map(|r| r.diff),
        relative_lift: relative,
        ci_low: result.map(|r| r.ci_low),
        ci_high: result.map(|r| r.ci_high),
        statistic: result.map(|r| r.statistic),
        verdict,
    }
}

/// Chi-square goodness of fit of units per variant to the configured split.
pub fn srm(units: &PerVariant<u64>, treatment: Percentage) -> Srm {
    let share = treatment.get() / 100.0;
    let total = (units.control + units.treatment) as f64;
    let expected = PerVariant {
        control: total * (1.0 - share),
        treatment: total * share,
    };
    // The chi-square approximation needs about five expected units per cell.
    let testable = share < 1.0 && expected.control >= 5.0 && expected.treatment >= 5.0;
    let result = testable
        .then(|| {
            stats::chi_square_gof(
                &[units.control as f64, units.treatment as f64],
                &[1.0 - share, share],
            )
        })
        .flatten();
    Srm {
        p_value: result.map(|r| r.1),
        statistic: result.map(|r| r.0),
        expected,
        observed: *units,
        mismatch: result.is_some_and(|r| r.1 < SRM_ALPHA),
    }
}

/// Whether the experiment judges a rollout in `state`: it is in its A/B stage and exposes
/// units. A paused rollout keeps its exposure, so it is judged too (the controller only acts
/// on critical verdicts while paused).
pub fn judged(rollout: &Rollout, state: Option<&RolloutState>) -> bool {
    let live = state.is_some_and(|s| {
        matches!(
            s.status(),
            Status::Running | Status::Blocked | Status::Paused
        )
    });
    let in_ab = state.is_some_and(|s| {
        matches!(
            rollout.stages.get(s.stage_index).map(|st| &st.kind),
            Some(StageKind::AbTest { .. })
        )
    });
    live && in_ab
}

/// What an analysis tells the controller about a rollout in its A/B stage.
pub fn signals(a: &Analysis) -> Signals {
    let mut signals = Signals::default();
    if a.srm.mismatch {
        signals.critical.push(format!(
            "sample ratio mismatch: {} control / {} treatment units, expected {:.0} / {:.0} (p = {:.2e})",
            a.srm.observed.control,
            a.srm.observed.treatment,
            a.srm.expected.control,
            a.srm.expected.treatment,
            a.srm.p_value.unwrap_or(f64::NAN)
        ));
    }
    if let Some(m) = a.metrics.first() {
        let describe = |what: &str| {
            format!(
                "A/B {what} on {}: lift {:.4} (d = {:.3}), {} p = {:.2e}",
                m.metric,
                m.lift.unwrap_or(f64::NAN),
                m.effect_size.unwrap_or(f64::NAN),
                if a.stage.sequential {
                    "always-valid"
                } else {
                    "fixed-horizon"
                },
                if a.stage.sequential {
                    m.sequential_p_value
                } else {
                    m.p_value
                }
                .unwrap_or(f64::NAN),
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
