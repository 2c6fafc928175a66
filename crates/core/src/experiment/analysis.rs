//! The A/B analysis: per-metric tests on the per-unit statistics, judged by the stage's
//! sequential design, the sequential sample-ratio test, guard metrics with Holm's
//! correction, and the verdict the controller acts on. Pure: the design's state across
//! ticks comes in and goes out as an [`AnalysisMemory`].

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use super::design::{information_fraction, look_now, Design, LookNow};
use super::estimate::{estimate, Estimate};
use super::memory::{AnalysisMemory, Look, LookMetric, MEMORY_VERSION};
use super::srm::{srm, Srm};
use super::verdict::{decide, holm, Verdict};
use crate::config::domain::Percentage;
use crate::config::{
    AbAnalysis, Direction, MetricRole, MetricSpec, Rollout, Sequential, StageKind, TestKind,
};
use crate::controller::{RolloutState, Status};
use crate::records::PerVariant;
use crate::stats::{self, Moments, RankSums};

/// The statistics an analysis of one metric reads, over UNIT values: one value per
/// randomised unit (the mean or the sum of its observations, per the metric's `per_unit`).
#[derive(Debug, Clone, Default)]
pub struct MetricData {
    pub moments: PerVariant<Moments>,
    /// Raw observations behind those units.
    pub observations: PerVariant<u64>,
    /// Units whose value is non-zero (for `two_proportion_z`'s `min_events`).
    pub events: PerVariant<u64>,
    /// Rank sums over unit values, for `mann_whitney` metrics only.
    pub ranks: Option<RankSums>,
}

/// Units exposed per variant, and units seen in both.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Exposure {
    pub units: PerVariant<u64>,
    pub multiple_exposures: u64,
}

/// The stage's clock: active time in the stage (pauses excluded) and its duration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageClock {
    pub elapsed: Duration,
    pub duration: Duration,
}

impl StageClock {
    /// The clock of `state` in `rollout`'s stage `index` at `now` (zero duration for a stage
    /// without one). Without a state: nothing elapsed.
    pub fn of(
        rollout: &Rollout,
        index: usize,
        state: Option<&RolloutState>,
        now: DateTime<Utc>,
    ) -> StageClock {
        let duration = rollout
            .stages
            .get(index)
            .and_then(|s| s.kind.duration())
            .map_or(Duration::zero(), |d| d.chrono());
        let elapsed = state
            .filter(|s| s.stage_index == index)
            .map_or(Duration::zero(), |s| s.elapsed(now));
        StageClock { elapsed, duration }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ArmSummary {
    /// Units with a value for the metric.
    pub n: u64,
    /// Observations behind them.
    pub observations: u64,
    /// Units with a non-zero value.
    pub events: u64,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricAnalysis {
    pub metric: String,
    pub test: &'static str,
    pub direction: Direction,
    pub role: MetricRole,
    pub control: ArmSummary,
    pub treatment: ArmSummary,
    /// Fixed-horizon p-value of the metric's test (for reading; never the decision's).
    pub p_value: Option<f64>,
    /// The p-value the verdict compares with `alpha`, valid however often the daemon looks:
    /// the running minimum of the design's p (repeated p at the looks for
    /// `group_sequential`, the mixture's always-valid p, the test's p at the one look of
    /// `fixed_horizon`). Never rises.
    pub sequential_p_value: Option<f64>,
    /// The effect on the scale `min_effect` is judged on: Cohen's d for `welch_t`, the
    /// difference over the pooled sd for `two_proportion_z`, P(T > C) − ½ for `mann_whitney`.
    pub effect_size: Option<f64>,
    /// `min_effect` on that scale.
    pub min_effect: f64,
    /// Treatment − control on the metric's scale (for `mann_whitney`: P(T > C) − ½).
    pub lift: Option<f64>,
    /// `lift` relative to the control mean (not for `mann_whitney`).
    pub relative_lift: Option<f64>,
    /// `mann_whitney`: P(T > C) + ½P(T = C) and its interval at 1 − alpha.
    pub probability_superiority: Option<f64>,
    /// The interval for `lift` that matches the decision, at 1 − alpha: the repeated
    /// confidence interval at the latest look (group-sequential), the confidence sequence
    /// (always-valid), the fixed interval (fixed horizon).
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// The test's statistic (t, z or U).
    pub statistic: Option<f64>,
    /// The group-sequential boundary |z| had to reach at the latest look.
    pub boundary: Option<f64>,
    /// `guard`: the Holm level this metric's p was compared with, and whether it is
    /// significantly worse at it (a critical issue).
    pub holm_alpha: Option<f64>,
    pub guard_breached: bool,
    pub verdict: Verdict,
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
pub struct ExposureSummary {
    pub units: PerVariant<u64>,
    pub multiple_exposures: u64,
    /// `multiple_exposures` over all units (0 without units).
    pub share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub rollout: String,
    pub stage: StageRef,
    pub design: Design,
    /// Looks taken so far (`group_sequential`, `fixed_horizon`); `None` for `always_valid`.
    pub look: Option<u32>,
    /// Looks planned (1 for `fixed_horizon`).
    pub looks: u32,
    /// Units so far over the planned total (1 without a plan).
    pub information_fraction: f64,
    pub metrics: Vec<MetricAnalysis>,
    pub srm: Srm,
    pub exposure: ExposureSummary,
    /// The deciding metric's verdict.
    pub verdict: Verdict,
}

/// The A/B stage to analyse: the current one, else the first in the plan.
fn ab_stage(rollout: &Rollout, state: Option<&RolloutState>) -> Option<usize> {
    let is_ab = |i: usize| {
        matches!(
            rollout.stages.get(i).map(|s| &s.kind),
            Some(StageKind::AbTest { .. })
        )
    };
    state
        .map(|s| s.stage_index)
        .filter(|&i| is_ab(i))
        .or_else(|| (0..rollout.stages.len()).find(|&i| is_ab(i)))
}

/// The A/B stage to analyse (the current one, else the first in the plan) and its design;
/// `None` if the rollout has no A/B stage.
pub fn plan(rollout: &Rollout, state: Option<&RolloutState>) -> Option<AbPlan> {
    let index = ab_stage(rollout, state)?;
    let kind = &rollout.stages[index].kind;
    let StageKind::AbTest {
        percentage,
        analysis,
        ..
    } = kind
    else {
        return None;
    };
    let planned = kind.planned_units();
    let design = match (analysis.sequential, planned) {
        (Sequential::FixedHorizon, _) => Design::FixedHorizon,
        (Sequential::AlwaysValid, Some(_)) => Design::GroupSequential,
        (Sequential::AlwaysValid, None) => Design::AlwaysValid,
    };
    Some(AbPlan {
        index,
        percentage: *percentage,
        current: state.is_some_and(|s| s.stage_index == index),
        cfg: analysis.clone(),
        planned,
        design,
    })
}

/// What [`plan`] chose: the stage, its analysis settings and its design.
#[derive(Debug, Clone)]
pub struct AbPlan {
    pub index: usize,
    pub percentage: Percentage,
    pub current: bool,
    pub cfg: AbAnalysis,
    /// Planned units `(treatment, control)` over the stage, if it knows its horizon.
    pub planned: Option<(f64, f64)>,
    /// Chosen from the config; public so that a simulation can compare designs.
    pub design: Design,
}

/// What one metric's design computed at this tick.
struct Judged {
    p_seq: Option<f64>,
    interval: Option<(f64, f64)>,
    boundary: Option<f64>,
    verdict: Verdict,
    look: Option<LookMetric>,
}

impl AbPlan {
    /// The metrics to read, in order, and whether each needs rank sums.
    pub fn reads(&self) -> impl Iterator<Item = (&str, bool)> {
        self.cfg
            .metrics
            .iter()
            .map(|m| (m.name.as_str(), m.test == TestKind::MannWhitney))
    }

    /// The looks of the design (1 for a fixed horizon).
    pub fn looks(&self) -> u32 {
        match self.design {
            Design::FixedHorizon => 1,
            _ => self.cfg.looks.max(1),
        }
    }

    /// The sample the mixture is tuned for: the planned units if known, else the
    /// fixed-horizon sample `min_effect` needs at 80 % power.
    fn expected_sample(&self) -> Option<(f64, f64)> {
        self.planned.or_else(|| {
            let share = self.percentage.get() / 100.0;
            stats::sample_size_per_arm(self.cfg.min_effect, self.cfg.alpha, 0.8, share)
                .map(|(t, c)| (t as f64, c as f64))
        })
    }

    /// The analysis from the data of each metric (in [`reads`](Self::reads) order), the
    /// exposure, the stage's clock and what the design remembers; returns the analysis and
    /// the memory to pass next time.
    pub fn analyze(
        &self,
        rollout: &str,
        data: &[MetricData],
        exposure: &Exposure,
        clock: &StageClock,
        memory: &AnalysisMemory,
        now: DateTime<Utc>,
    ) -> (Analysis, AnalysisMemory) {
        let cfg = &self.cfg;
        let mut mem = memory.for_design(self.design);
        mem.version = MEMORY_VERSION;
        let total = exposure.units.control + exposure.units.treatment;
        let planned_total = self.planned.map(|(t, c)| t + c);
        let fraction = information_fraction(total, planned_total);
        let look = look_now(self.design, self.looks(), fraction, clock, &mem);
        let fractions: Vec<f64> = mem
            .looks
            .iter()
            .map(|l| l.information_fraction)
            .chain(look.map(|l| l.fraction))
            .collect();
        let bounds = match (self.design, look) {
            (Design::GroupSequential, Some(l)) => {
                stats::boundaries(cfg.alpha, &fractions, l.final_look)
            }
            _ => None,
        };
        let empty = MetricData::default();
        let mut metrics = Vec::with_capacity(cfg.metrics.len());
        let mut look_metrics = Vec::new();
        for (i, spec) in cfg.metrics.iter().enumerate() {
            let d = data.get(i).unwrap_or(&empty);
            let est = estimate(spec, cfg, d);
            let j = self.judge(spec, &est, &mut mem, look, &fractions, bounds.as_deref());
            if let Some(lm) = &j.look {
                look_metrics.push(lm.clone());
            }
            metrics.push(metric_analysis(spec, spec.role_at(i), d, &est, j));
        }
        apply_holm(&mut metrics, cfg.alpha);
        if let Some(l) = look {
            mem.looks.push(Look {
                index: l.index,
                planned: l.planned,
                information_fraction: l.fraction,
                at: now,
                final_look: l.final_look,
                metrics: look_metrics,
            });
        }
        let srm = srm(&exposure.units, self.percentage, mem.srm_min_p);
        mem.srm_min_p = srm.p_value.or(mem.srm_min_p);
        let verdict = metrics
            .iter()
            .find(|m| m.role == MetricRole::Decide)
            .map_or(Verdict::InsufficientData, |m| m.verdict);
        let share = if total > 0 {
            exposure.multiple_exposures as f64 / total as f64
        } else {
            0.0
        };
        let analysis = Analysis {
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
            design: self.design,
            look: match self.design {
                Design::AlwaysValid => None,
                _ => Some(mem.looks.len() as u32),
            },
            looks: self.looks(),
            information_fraction: fraction,
            metrics,
            srm,
            exposure: ExposureSummary {
                units: exposure.units,
                multiple_exposures: exposure.multiple_exposures,
                share,
            },
            verdict,
        };
        (analysis, mem)
    }

    /// One metric under the design.
    fn judge(
        &self,
        spec: &MetricSpec,
        est: &Estimate,
        mem: &mut AnalysisMemory,
        look: Option<LookNow>,
        fractions: &[f64],
        bounds: Option<&[f64]>,
    ) -> Judged {
        let alpha = self.cfg.alpha;
        let name = spec.name.as_str();
        let toward = est.toward_better(spec.direction);
        let usable = |p: Option<f64>| if est.enough { p } else { None };
        let z = est.z();
        let waiting = if est.enough && z.is_some() {
            Verdict::Inconclusive
        } else {
            Verdict::InsufficientData
        };
        match self.design {
            Design::AlwaysValid => {
                // The estimate's SE at the expected sample N*, from its SE now:
                // se × √((1/N*_t + 1/N*_c) / (1/n_t + 1/n_c)).
                let shrink = self.expected_sample().and_then(|(nt, nc)| {
                    let (t, c) = (est.units.0 as f64, est.units.1 as f64);
                    let now = 1.0 / t + 1.0 / c;
                    let then = 1.0 / nt + 1.0 / nc;
                    let f = (then / now).sqrt();
                    (f.is_finite() && f > 0.0).then_some(f)
                });
                let p_now = est.result.and_then(|r| {
                    let tau = stats::tuned_tau(r.se_null * shrink?, alpha);
                    Some(stats::always_valid_p(r.diff, r.se_null, tau))
                });
                let p_seq = mem.min_p(name, usable(p_now));
                let interval = est.result.and_then(|r| {
                    let tau = stats::tuned_tau(r.se * shrink?, alpha);
                    let h = stats::confidence_sequence_half_width(r.se, tau, alpha)?;
                    Some((r.diff - h, r.diff + h))
                });
                let verdict = if est.enough {
                    decide(p_seq, alpha, toward, est.threshold)
                } else {
                    Verdict::InsufficientData
                };
                Judged {
                    p_seq,
                    interval,
                    boundary: None,
                    verdict,
                    look: None,
                }
            }
            Design::GroupSequential => {
                let at_look = look.zip(bounds.and_then(|b| b.last().copied()));
                if let Some((l, c)) = at_look {
                    // The repeated p costs a few boundary computations: only when it counts.
                    let p_look = z
                        .filter(|_| est.enough)
                        .and_then(|z| stats::repeated_p(z, fractions, l.final_look));
                    let p_seq = mem.min_p(name, p_look);
                    let verdict = if p_look.is_some() {
                        decide(p_seq, alpha, toward, est.threshold)
                    } else {
                        waiting
                    };
                    Judged {
                        p_seq,
                        interval: est.result.map(|r| (r.diff - c * r.se, r.diff + c * r.se)),
                        boundary: Some(c),
                        verdict,
                        look: Some(LookMetric {
                            metric: name.to_owned(),
                            z,
                            boundary: Some(c),
                            p_value: p_look,
                            verdict,
                        }),
                    }
                } else {
                    self.between_looks(name, est, mem, waiting)
                }
            }
            Design::FixedHorizon => {
                if look.is_some() {
                    let p_look = usable(est.result.map(|r| r.p_value));
                    let p_seq = mem.min_p(name, p_look);
                    let verdict = if p_look.is_some() {
                        decide(p_seq, alpha, toward, est.threshold)
                    } else {
                        waiting
                    };
                    let q = Normal::new(0.0, 1.0)
                        .map_or(f64::NAN, |n| n.inverse_cdf(1.0 - alpha / 2.0));
                    Judged {
                        p_seq,
                        interval: est.result.map(|r| (r.diff - q * r.se, r.diff + q * r.se)),
                        boundary: Some(q),
                        verdict,
                        look: Some(LookMetric {
                            metric: name.to_owned(),
                            z,
                            boundary: Some(q),
                            p_value: p_look,
                            verdict,
                        }),
                    }
                } else {
                    self.between_looks(name, est, mem, waiting)
                }
            }
        }
    }

    /// Between looks the verdict is the latest look's; the interval uses its boundary.
    fn between_looks(
        &self,
        name: &str,
        est: &Estimate,
        mem: &AnalysisMemory,
        waiting: Verdict,
    ) -> Judged {
        let last = mem
            .last_look()
            .and_then(|l| l.metrics.iter().find(|m| m.metric == name));
        let boundary = last.and_then(|m| m.boundary);
        Judged {
            p_seq: mem.min_p.get(name).copied(),
            interval: est
                .result
                .zip(boundary)
                .map(|(r, c)| (r.diff - c * r.se, r.diff + c * r.se)),
            boundary,
            verdict: last.map_or(waiting, |m| {
                if m.verdict == Verdict::InsufficientData {
                    waiting
                } else {
                    m.verdict
                }
            }),
            look: None,
        }
    }
}

fn arm(m: &Moments, observations: u64, events: u64) -> ArmSummary {
    let finite = |v: f64| v.is_finite().then_some(v);
    ArmSummary {
        n: m.n(),
        observations,
        events,
        mean: finite(m.mean()),
        sd: finite(m.sd()),
    }
}

fn metric_analysis(
    spec: &MetricSpec,
    role: MetricRole,
    d: &MetricData,
    est: &Estimate,
    j: Judged,
) -> MetricAnalysis {
    let (t, c) = (&d.moments.treatment, &d.moments.control);
    let result = est.result;
    let mw = spec.test == TestKind::MannWhitney;
    let relative = result.and_then(|r| {
        let base = c.mean();
        (!mw && base.is_finite() && base != 0.0).then(|| r.diff / base.abs())
    });
    let (control, treatment) = if mw {
        let (nt, nc) = d.ranks.map_or((t.n(), c.n()), |r| (r.n_a, r.n_b));
        (
            ArmSummary {
                n: nc,
                ..arm(c, d.observations.control, d.events.control)
            },
            ArmSummary {
                n: nt,
                ..arm(t, d.observations.treatment, d.events.treatment)
            },
        )
    } else {
        (
            arm(c, d.observations.control, d.events.control),
            arm(t, d.observations.treatment, d.events.treatment),
        )
    };
    MetricAnalysis {
        metric: spec.name.clone(),
        test: spec.test.as_str(),
        direction: spec.direction,
        role,
        control,
        treatment,
        p_value: result.map(|r| r.p_value),
        sequential_p_value: j.p_seq,
        effect_size: est.effect,
        min_effect: est.threshold,
        lift: result.map(|r| r.diff),
        relative_lift: relative,
        probability_superiority: result.filter(|_| mw).map(|r| r.diff + 0.5),
        ci_low: j.interval.map(|i| i.0),
        ci_high: j.interval.map(|i| i.1),
        statistic: result.map(|r| r.statistic),
        boundary: j.boundary,
        holm_alpha: None,
        guard_breached: false,
        verdict: j.verdict,
    }
}

/// Holm's correction across the guard metrics: a guard whose sequential p is rejected at
/// its Holm level and whose verdict is "worse" is breached.
fn apply_holm(metrics: &mut [MetricAnalysis], alpha: f64) {
    let guards: Vec<usize> = (0..metrics.len())
        .filter(|&i| metrics[i].role == MetricRole::Guard)
        .collect();
    let ps: Vec<Option<f64>> = guards
        .iter()
        .map(|&i| {
            let m = &metrics[i];
            m.sequential_p_value
                .filter(|_| m.verdict != Verdict::InsufficientData)
        })
        .collect();
    let rejected = holm(&ps, alpha);
    let mut order: Vec<usize> = (0..guards.len()).collect();
    order.sort_by(|&a, &b| {
        ps[a]
            .unwrap_or(f64::INFINITY)
            .total_cmp(&ps[b].unwrap_or(f64::INFINITY))
    });
    let m = guards.len();
    for (rank, &k) in order.iter().enumerate() {
        let g = &mut metrics[guards[k]];
        g.holm_alpha = Some(alpha / (m - rank) as f64);
        g.guard_breached = rejected[k] && g.verdict == Verdict::TreatmentWorse;
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
