//! Guardrails, preflight safety checks and notifications of a rollout: the YAML shapes and
//! their validated model.

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::domain::StageDuration;

/// `guardrails[]` as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGuardrail {
    pub name: String,
    pub metric: Option<String>,
    pub aggregate: Option<Aggregate>,
    pub sql: Option<String>,
    #[serde(default)]
    pub params: Vec<SqlParam>,
    pub max: Option<f64>,
    pub min: Option<f64>,
    pub relative_to_control: Option<Relative>,
    pub window: Option<StageDuration>,
    #[serde(default = "one")]
    pub min_samples: u64,
    #[serde(default = "one_u32")]
    pub consecutive: u32,
    #[serde(default)]
    pub severity: GuardrailSeverity,
}

/// `safety_checks[]` as serde reads it. `command` is read only to refuse it clearly.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSafetyCheck {
    pub name: String,
    pub sql: Option<String>,
    #[serde(default)]
    pub params: Vec<SqlParam>,
    pub http: Option<HttpCheck>,
    pub command: Option<Value>,
}

fn one() -> u64 {
    1
}

fn one_u32() -> u32 {
    1
}

/// A guardrail: a measured value that must stay inside its bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Guardrail {
    pub name: String,
    pub source: MetricSource,
    pub bound: Bound,
    /// Only observations of the last `window` count.
    pub window: StageDuration,
    /// Fewer observations in the window (per arm, for relative bounds) give no verdict.
    pub min_samples: u64,
    /// Breaches in a row before the guardrail fires.
    pub consecutive: u32,
    pub severity: GuardrailSeverity,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricSource {
    /// The A/B observations of this rollout, by metric name.
    Observations {
        metric: String,
        aggregate: Aggregate,
    },
    /// A read-only query: one number (optionally with a sample count), or
    /// `(variant, value[, n])` rows.
    Sql(SqlQuery),
}

/// A query from the configuration; its parameters are bound, never spliced.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlQuery {
    pub query: String,
    /// What `$1`, `$2`, ... are bound to.
    pub params: Vec<SqlParam>,
}

/// A value a configured query may ask for, by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlParam {
    /// The rollout's name (text).
    Rollout,
    /// The start of the guardrail's window (timestamp).
    WindowStart,
    /// The evaluation time (timestamp).
    Now,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    #[default]
    Mean,
    /// Share of observations whose value is not 0 (for 0/1 metrics such as errors).
    Rate,
    Sum,
    Count,
    P95,
    P99,
}

impl Aggregate {
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Mean => "mean",
            Aggregate::Rate => "rate",
            Aggregate::Sum => "sum",
            Aggregate::Count => "count",
            Aggregate::P95 => "p95",
            Aggregate::P99 => "p99",
        }
    }

    /// The quantile of a percentile aggregate.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Aggregate::P95 => Some(0.95),
            Aggregate::P99 => Some(0.99),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// The treatment's value (or the query's number) must stay within `[min, max]`.
    Absolute { min: Option<f64>, max: Option<f64> },
    /// The treatment may be worse than control by at most `max_degradation`, relative to
    /// control's value.
    Relative(Relative),
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Relative {
    /// E.g. 0.2: the treatment may be at most 20 % worse than control.
    pub max_degradation: f64,
    /// Which way is worse for this metric.
    pub worse_when: WorseWhen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorseWhen {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailSeverity {
    /// A breach rolls the rollout back.
    #[default]
    Critical,
    /// A breach holds the rollout in its stage until it clears.
    Warning,
}

/// A check that must pass before a stage is entered.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetyCheck {
    pub name: String,
    pub kind: SafetyCheckKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SafetyCheckKind {
    /// The query's first column of its first row must be true (or a non-zero number).
    Sql(SqlQuery),
    Http(HttpCheck),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    /// The GET must answer 2xx within this many milliseconds.
    #[serde(default = "default_budget_ms")]
    pub budget_ms: u64,
}

fn default_budget_ms() -> u64 {
    1000
}

pub const DEFAULT_GUARDRAIL_WINDOW: &str = "1h";
