//! The validated configuration: what `rollout.yaml` means once it has been checked.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;

use super::domain::{FlagKey, FlagPrefix, FlagValue, Percentage, RolloutName, StageDuration};
use super::guardrails::{Guardrail, SafetyCheck};

pub const DEFAULT_DATABASE: &str = "sqlite://rollout.db";
pub const DEFAULT_TICK: &str = "*/10 * * * * *";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub database: String,
    pub tick: String,
    pub listen: Option<SocketAddr>,
    pub rollouts: Vec<Rollout>,
}

impl Config {
    pub fn rollout(&self, name: &str) -> Option<&Rollout> {
        self.rollouts.iter().find(|r| r.name.as_str() == name)
    }
}

pub type Flags = BTreeMap<FlagKey, FlagValue>;

#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub name: RolloutName,
    pub flag_prefix: FlagPrefix,
    pub seed: u64,
    pub stages: Vec<Stage>,
    pub on_rollback: Flags,
    pub guardrails: Vec<Guardrail>,
    pub safety_checks: Vec<SafetyCheck>,
    /// No observation ingested for this long, in a stage that exposes units, is critical.
    pub max_silence: Option<StageDuration>,
    /// How long raw observations are kept once their stage has ended (at least the longest
    /// guardrail window); the daemon compacts older ones hourly, keeping every aggregate.
    /// `None` (the default): raw rows are kept until `rollout compact`.
    pub retention: Option<StageDuration>,
    /// Webhook URLs that receive every transition.
    pub notify: Vec<String>,
    /// The learning module's analysis; only rollouts with it get `<prefix>WEIGHTS`.
    pub analysis: Option<super::analysis::AnalysisConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub kind: StageKind,
    pub flags: Flags,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StageKind {
    Shadow {
        duration: StageDuration,
        /// Exit criteria and the counterfactual's top-k.
        settings: super::shadow::ShadowSettings,
    },
    AbTest {
        percentage: Percentage,
        duration: StageDuration,
        on_inconclusive: OnInconclusive,
        analysis: AbAnalysis,
    },
    Canary {
        percentage: Percentage,
        duration: StageDuration,
    },
    Full,
}

impl StageKind {
    pub fn name(&self) -> &'static str {
        match self {
            StageKind::Shadow { .. } => "shadow",
            StageKind::AbTest { .. } => "ab_test",
            StageKind::Canary { .. } => "canary",
            StageKind::Full => "full",
        }
    }

    pub fn duration(&self) -> Option<StageDuration> {
        match self {
            StageKind::Shadow { duration, .. }
            | StageKind::AbTest { duration, .. }
            | StageKind::Canary { duration, .. } => Some(*duration),
            StageKind::Full => None,
        }
    }

    /// The share of units on the new path (the A/B treatment share, or the release share).
    pub fn percentage(&self) -> Option<Percentage> {
        match self {
            StageKind::Shadow { .. } => None,
            StageKind::AbTest { percentage, .. } | StageKind::Canary { percentage, .. } => {
                Some(*percentage)
            }
            StageKind::Full => Some(Percentage::HUNDRED),
        }
    }

    /// The units an `ab_test` stage expects to see over its duration, `(treatment,
    /// control)`: `expected_units_per_day × days × split`. `None` for other stages and
    /// without `expected_units_per_day`.
    pub fn planned_units(&self) -> Option<(f64, f64)> {
        let StageKind::AbTest {
            percentage,
            duration,
            analysis,
            ..
        } = self
        else {
            return None;
        };
        let per_day = analysis.expected_units_per_day?;
        let share = percentage.get() / 100.0;
        let days = duration.get().as_secs_f64() / 86_400.0;
        Some((per_day * days * share, per_day * days * (1.0 - share)))
    }

    /// A stable label of the stage, stored with the state so that a config edit that
    /// replaces the running stage is noticed: `shadow`, `ab_test:10`, `canary:25`, `full`.
    pub fn label(&self) -> String {
        match self {
            StageKind::Shadow { .. } => "shadow".into(),
            StageKind::AbTest { percentage, .. } => format!("ab_test:{percentage}"),
            StageKind::Canary { percentage, .. } => format!("canary:{percentage}"),
            StageKind::Full => "full".into(),
        }
    }
}

/// How an A/B stage is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct AbAnalysis {
    /// Significance level of the early-stopping rule.
    pub alpha: f64,
    /// The smallest effect worth acting on, as Cohen's d.
    pub min_effect: f64,
    /// Observations per arm before any verdict.
    pub min_samples: u64,
    pub sequential: Sequential,
    pub expected_units_per_day: Option<f64>,
    /// Looks of the group-sequential design (used when the horizon is known): look k is
    /// taken when the stage's units reach k/`looks` of the planned total.
    pub looks: u32,
    /// Exactly one metric decides (see [`MetricSpec::role_at`]); guards can roll back;
    /// the rest are reported.
    pub metrics: Vec<MetricSpec>,
}

/// Which p-value the early-stopping rule uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequential {
    /// The always-valid (mSPRT) p-value: valid however often the daemon looks.
    AlwaysValid,
    /// The fixed-horizon p-value: only valid if looked at once, at the end.
    FixedHorizon,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    pub name: String,
    #[serde(default)]
    pub test: TestKind,
    #[serde(default)]
    pub direction: Direction,
    /// What the metric does in the verdict; `None`: the first metric decides, the others
    /// guard (see [`MetricSpec::role_at`]).
    #[serde(default)]
    pub role: Option<MetricRole>,
    /// How a unit's observations become its one value.
    #[serde(default)]
    pub per_unit: PerUnit,
    /// `two_proportion_z`: events (non-zero values) per arm before any verdict.
    #[serde(default = "default_min_events")]
    pub min_events: u64,
    /// The largest |value| accepted at ingest; larger values are refused with the row.
    #[serde(default = "default_max_abs")]
    pub max_abs: f64,
}

/// Events per arm before a proportion test may decide.
pub const DEFAULT_MIN_EVENTS: u64 = 5;
/// The default bound on |value| of an observation.
pub const DEFAULT_MAX_ABS: f64 = 1e12;

fn default_min_events() -> u64 {
    DEFAULT_MIN_EVENTS
}

fn default_max_abs() -> f64 {
    DEFAULT_MAX_ABS
}

impl MetricSpec {
    /// A metric with the defaults, for tests and tools.
    pub fn new(name: &str, test: TestKind, direction: Direction) -> MetricSpec {
        MetricSpec {
            name: name.to_owned(),
            test,
            direction,
            role: None,
            per_unit: PerUnit::default(),
            min_events: DEFAULT_MIN_EVENTS,
            max_abs: DEFAULT_MAX_ABS,
        }
    }

    /// The metric's role when it is the `index`-th of its stage (0-based).
    pub fn role_at(&self, index: usize) -> MetricRole {
        self.role.unwrap_or(if index == 0 {
            MetricRole::Decide
        } else {
            MetricRole::Guard
        })
    }
}

/// What a metric does in an A/B stage's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricRole {
    /// Its verdict promotes or rolls back.
    Decide,
    /// Significantly worse rolls back (Holm-corrected across the stage's guard metrics).
    Guard,
    /// Reported only.
    Report,
}

/// How a unit's observations of a metric become the unit's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PerUnit {
    /// The mean of the unit's observations.
    #[default]
    Mean,
    /// Their sum.
    Sum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    #[default]
    WelchT,
    TwoProportionZ,
    MannWhitney,
}

impl TestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::WelchT => "welch_t",
            TestKind::TwoProportionZ => "two_proportion_z",
            TestKind::MannWhitney => "mann_whitney",
        }
    }
}

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Increase,
    Decrease,
}

/// What an A/B stage does when its duration elapses without a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnInconclusive {
    #[default]
    Hold,
    Promote,
    Rollback,
}

impl OnInconclusive {
    pub fn as_str(self) -> &'static str {
        match self {
            OnInconclusive::Hold => "hold",
            OnInconclusive::Promote => "promote",
            OnInconclusive::Rollback => "rollback",
        }
    }
}

impl Rollout {
    /// The longest window among the guardrails (zero without any).
    pub fn longest_window(&self) -> chrono::Duration {
        self.guardrails
            .iter()
            .map(|g| g.window.chrono())
            .max()
            .unwrap_or_else(chrono::Duration::zero)
    }
}
