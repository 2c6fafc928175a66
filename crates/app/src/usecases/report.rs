//! `rollout report` and what the shadow stage counts: errors services report, learning rows
//! refused at ingest.

use rollout_core::config::StageKind;
use rollout_core::experiment::StageEntry;
use rollout_core::learning::Kind;
use rollout_core::report::{attempt_spans, RolloutReport, StageReport, Units};
use rollout_core::shadow::{Rejection, ServiceError};
use serde::Serialize;

use crate::error::Result;
use crate::Service;

/// What `POST /v1/rollouts/{name}/errors` and `rollout errors` stored.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorsIngest {
    pub rollout: String,
    pub inserted: u64,
}

/// Problems recorded per refused request, at most; the rest are counted in one row.
const MAX_REASONS: usize = 100;

impl Service {
    /// The report of the current attempt of rollout `name`: each stage entered, what it saw,
    /// and for a shadow stage its measures, counterfactual and exit criteria. Computed from
    /// stored data only.
    pub async fn report(&self, name: &str) -> Result<RolloutReport> {
        let r = self.rollout(name)?;
        let now = self.now();
        let store = self.store();
        let state = store.state(name).await?;
        let events = store.history(name).await?;
        let labels: Vec<String> = r.stages.iter().map(|s| s.kind.label()).collect();
        let spans = attempt_spans(&events, &labels, now);
        let mut stages = Vec::with_capacity(spans.len());
        for span in spans {
            let kind = r.stages.get(span.stage).map(|s| &s.kind);
            let to = span.left_at.unwrap_or(now);
            let entry = StageEntry {
                stage: span.stage,
                entered_at: span.entered_at,
            };
            let units = match kind {
                Some(StageKind::AbTest { .. } | StageKind::Canary { .. } | StageKind::Full) => {
                    let e = store.exposure(name, entry).await?;
                    Some(Units {
                        treatment: e.units.treatment,
                        control: e.units.control,
                    })
                }
                _ => None,
            };
            let verdict = match kind {
                Some(StageKind::AbTest { .. }) => {
                    store
                        .last_verdict(name, span.stage, span.entered_at, to)
                        .await?
                }
                _ => None,
            };
            let shadow = match kind {
                Some(StageKind::Shadow { duration, .. }) => {
                    let ran = span.time_spent_secs - span.paused_secs;
                    let complete = ran >= duration.get().as_secs() as i64;
                    crate::shadow::report(store, &r, span.stage, span.entered_at, to, complete)
                        .await?
                }
                _ => None,
            };
            stages.push(StageReport {
                kind: kind.map(|k| k.name().to_owned()).unwrap_or_default(),
                guardrail_breaches: store.guardrail_breaches(name, span.entered_at, to).await?,
                units,
                verdict,
                shadow,
                span,
            });
        }
        Ok(RolloutReport {
            rollout: name.to_owned(),
            generated_at: now,
            status: state
                .as_ref()
                .map_or_else(|| "pending".to_owned(), |s| s.status().to_string()),
            attempt_started_at: stages.first().map(|s| s.span.entered_at),
            stages,
        })
    }

    /// Stores errors a service reported for rollout `name` (checked already: see
    /// `rollout_core::shadow::errors`), in one transaction.
    pub async fn record_errors(&self, name: &str, errors: &[ServiceError]) -> Result<ErrorsIngest> {
        self.rollout(name)?;
        let inserted = self
            .store()
            .record_service_errors(name, errors, self.now())
            .await?;
        Ok(ErrorsIngest {
            rollout: name.to_owned(),
            inserted,
        })
    }

    /// Records learning rows of `kind` refused at ingest, one reason per problem (at most
    /// [`MAX_REASONS`]; the rest in one row), for the shadow report. Best effort: a failure
    /// to record is logged, never the caller's failure (the refusal is what they report).
    pub async fn reject_learning(&self, kind: Kind, reasons: Vec<String>) {
        let now = self.now();
        let mut rows: Vec<Rejection> = reasons
            .iter()
            .take(MAX_REASONS)
            .map(|r| Rejection {
                kind: kind.as_str().to_owned(),
                at: now,
                rows: 1,
                reason: r.clone(),
            })
            .collect();
        if reasons.len() > MAX_REASONS {
            rows.push(Rejection {
                kind: kind.as_str().to_owned(),
                at: now,
                rows: (reasons.len() - MAX_REASONS) as u64,
                reason: "more problems in the same request".into(),
            });
        }
        if let Err(e) = self.store().record_rejections(&rows).await {
            tracing::warn!(error = %e, "recording refused learning rows failed");
        }
    }
}
