//! The A/B analysis and `rollout check` (safety checks and guardrails, measured now).

use rollout_core::controller::{Phase, RolloutState};
use rollout_core::experiment::Analysis;
use rollout_core::guardrails::GuardrailPass;
use rollout_core::records::GuardrailReading;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::guardrails::{self, CheckResult};
use crate::Service;

/// What `rollout check` found.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub rollout: String,
    pub safety_checks: Vec<CheckResult>,
    pub guardrails: Vec<GuardrailReading>,
    pub critical: Vec<String>,
    pub warnings: Vec<String>,
    pub passed: bool,
    /// Failed checks plus critical and warning guardrails.
    #[serde(skip)]
    pub failed: usize,
}

impl CheckReport {
    /// The guardrail pass, for rendering.
    pub fn pass(&self) -> GuardrailPass {
        GuardrailPass {
            critical: self.critical.clone(),
            warnings: self.warnings.clone(),
            readings: self.guardrails.clone(),
        }
    }
}

impl Service {
    /// The A/B analysis of rollout `name` (its current A/B stage, else its first).
    pub async fn analyze(&self, name: &str) -> Result<Analysis> {
        let r = self.rollout(name)?;
        let state = self.store().state(name).await?;
        crate::experiment::analyze(self.store(), &r, state.as_ref(), self.now())
            .await?
            .ok_or_else(|| Error::InvalidInput(format!("rollout {name} has no ab_test stage")))
    }

    /// Runs the safety checks and measures every guardrail now, writing nothing. Guardrails
    /// are measured as if the rollout were running, so they can be tried in any status.
    pub async fn check(&self, name: &str) -> Result<CheckReport> {
        let r = self.rollout(name)?;
        let now = self.now();
        let state = self.store().state(name).await?;
        let checks =
            guardrails::run_checks(self.store(), guardrails::http_client(), &r, now).await?;
        let as_running = state
            .map(|s| s.with_phase(Phase::Running))
            .unwrap_or_else(|| {
                let mut s = RolloutState::new(name, 0, String::new(), now, Phase::Running);
                s.version = 0;
                s
            });
        let pass = guardrails::evaluate(self.store(), &r, Some(&as_running), now).await?;
        let failed =
            checks.iter().filter(|c| !c.passed).count() + pass.critical.len() + pass.warnings.len();
        Ok(CheckReport {
            rollout: name.to_owned(),
            safety_checks: checks,
            guardrails: pass.readings,
            critical: pass.critical,
            warnings: pass.warnings,
            passed: failed == 0,
            failed,
        })
    }
}
