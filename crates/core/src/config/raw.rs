//! The YAML shapes as serde reads them, before cross-field validation.

use serde::Deserialize;

use super::domain::{Percentage, StageDuration};
use super::model::{Flags, MetricSpec, OnInconclusive};

/// The top-level keys. The top level and each rollout are read field by field (so that one
/// bad field does not hide another's error), hence lists rather than structs.
pub const TOP_FIELDS: &[&str] = &["database", "tick", "listen", "rollouts"];

/// The keys of a rollout.
pub const ROLLOUT_FIELDS: &[&str] = &[
    "name",
    "flag_prefix",
    "seed",
    "stages",
    "on_rollback",
    "guardrails",
    "safety_checks",
    "max_silence",
    "retention",
    "notify",
    "analysis",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShadow {
    pub duration: StageDuration,
    #[serde(default)]
    pub require: super::shadow::ShadowRequire,
    pub top_k: Option<u32>,
    #[serde(default)]
    pub flags: Flags,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAbTest {
    pub percentage: Percentage,
    pub duration: StageDuration,
    #[serde(default)]
    pub on_inconclusive: OnInconclusive,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default = "default_min_effect")]
    pub min_effect: f64,
    #[serde(default = "default_min_samples")]
    pub min_samples: u64,
    #[serde(default = "default_sequential")]
    pub sequential: bool,
    pub expected_units_per_day: Option<f64>,
    /// Looks of the group-sequential design; default: the stage's days, at least 1.
    pub looks: Option<u32>,
    #[serde(default)]
    pub metrics: Vec<MetricSpec>,
    #[serde(default)]
    pub flags: Flags,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCanary {
    pub percentage: Percentage,
    pub duration: StageDuration,
    #[serde(default)]
    pub flags: Flags,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFull {
    #[serde(default)]
    pub flags: Flags,
}

fn default_alpha() -> f64 {
    0.01
}

fn default_min_effect() -> f64 {
    0.1
}

fn default_min_samples() -> u64 {
    100
}

fn default_sequential() -> bool {
    true
}

pub const STAGE_KINDS: &[&str] = &["shadow", "ab_test", "canary", "full"];
