//! The YAML shapes as serde reads them, before cross-field validation.

use serde::Deserialize;
use serde_yaml::Value;

use super::domain::FlagPrefix;
use super::domain::{Percentage, RolloutName, StageDuration};
use super::model::{Flags, MetricSpec, OnInconclusive};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTop {
    pub database: Option<String>,
    pub tick: Option<String>,
    pub listen: Option<String>,
    #[serde(default)]
    pub rollouts: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    pub name: RolloutName,
    pub flag_prefix: FlagPrefix,
    pub seed: u64,
    pub stages: Vec<Value>,
    #[serde(default)]
    pub on_rollback: Flags,
    #[serde(default)]
    pub guardrails: Vec<Value>,
    #[serde(default)]
    pub safety_checks: Vec<Value>,
    pub max_silence: Option<StageDuration>,
    #[serde(default)]
    pub notify: Vec<String>,
    pub analysis: Option<super::analysis::RawAnalysis>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShadow {
    pub duration: StageDuration,
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
