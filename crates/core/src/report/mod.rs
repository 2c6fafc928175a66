//! `rollout report`: what each stage of the current attempt saw, computed from stored data
//! (the history, guardrail readings, analysis looks, units, and for a shadow stage the
//! [`crate::shadow`] report), so that it can be produced after the fact. Pure: the spans of
//! the stages come from the history rows given; the application layer fills in the rest.

mod markdown;
mod spans;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::shadow::ShadowReport;

pub use markdown::markdown;
pub use spans::{attempt_spans, HoldEvent, StageSpan};

/// Units observed per arm in a stage entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Units {
    pub treatment: u64,
    pub control: u64,
}

/// The last A/B verdict of a stage entry (its last stored look).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub verdict: String,
    pub taken_at: DateTime<Utc>,
}

/// One stage entry of the attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageReport {
    #[serde(flatten)]
    pub span: StageSpan,
    /// `shadow`, `ab_test`, `canary`, `full`; empty if the configuration no longer has it.
    pub kind: String,
    /// Breaches recorded per guardrail while in the stage (one per tick that read one).
    pub guardrail_breaches: BTreeMap<String, u64>,
    /// For stages that expose units: the units observed per arm.
    pub units: Option<Units>,
    pub verdict: Option<Verdict>,
    pub shadow: Option<ShadowReport>,
}

/// `rollout report NAME`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutReport {
    pub rollout: String,
    pub generated_at: DateTime<Utc>,
    /// `pending` when it never started.
    pub status: String,
    /// When the current attempt began (the first start or the last restart).
    pub attempt_started_at: Option<DateTime<Utc>>,
    /// Oldest first; the last one is the current stage.
    pub stages: Vec<StageReport>,
}

impl RolloutReport {
    /// The stage report of stage `index` (0-based), the latest entry of it.
    pub fn stage(&self, index: usize) -> Option<&StageReport> {
        self.stages.iter().rev().find(|s| s.span.stage == index)
    }
}
