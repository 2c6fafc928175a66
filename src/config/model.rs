//! The validated configuration: what `rollout.yaml` means once it has been checked.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;

use super::domain::{FlagKey, FlagPrefix, FlagValue, Percentage, RolloutName, StageDuration};

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
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub kind: StageKind,
    pub flags: Flags,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StageKind {
    Shadow {
        duration: StageDuration,
    },
    AbTest {
        percentage: Percentage,
        duration: StageDuration,
        on_inconclusive: OnInconclusive,
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
            StageKind::Shadow { duration }
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
