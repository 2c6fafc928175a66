//! The learning module against the store: read an analysis window, compute, record the
//! weights history and publish through the rollout.

use chrono::{DateTime, Utc};
use serde::Serialize;

use rollout_core::config::{AnalysisConfig, Rollout};
use rollout_core::learning::{
    cap_references, compute, config_of, publication, starting_point, Inputs, Publication, Report,
};
use rollout_core::shadow::{ServiceError, ANALYSIS_ERROR};
use rollout_store::{Store, StoreError, Writer};

use crate::error::Error;

/// Reads the window ending at `now` and computes the report; writes nothing.
pub async fn analyze(
    store: &dyn Store,
    rollout: &Rollout,
    cfg: &AnalysisConfig,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let from = now - cfg.window.chrono();
    let inputs = Inputs {
        pairs: store
            .learning_pairs(from, now, cfg.match_window.get())
            .await?,
        counts: store.learning_counts(from, now).await?,
        regime: store.latest_regime(from, now).await?,
        recent: Vec::new(),
    };
    let previous = store.latest_weights(rollout.name.as_str()).await?;
    let state = store.state(rollout.name.as_str()).await?;
    // The rolling daily cap: what was in force over the last 24 h.
    let recent = store
        .weights_since(rollout.name.as_str(), now - chrono::Duration::hours(24))
        .await?;
    let inputs = Inputs {
        recent: cap_references(rollout, state.as_ref(), recent),
        ..inputs
    };
    let previous = starting_point(rollout, cfg, previous, state.as_ref());
    Ok(compute(
        rollout.name.as_str(),
        cfg,
        &inputs,
        previous.as_ref(),
        now,
    ))
}

/// What a scheduled pass did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub report: Report,
    /// `published`, `unchanged` or `withheld`.
    pub publication: &'static str,
    pub detail: String,
    pub flags_version: Option<i64>,
}

/// The scheduled pass for one rollout: analyse, store the weights history row, and publish
/// the final weights if the stage allows (an [`crate::controller::Action::Publish`] commit).
/// A failure is recorded as a service error of kind `analysis_error` (unit `rollout`), which
/// the shadow report counts, unless the store itself is out of reach or the writer fenced.
pub async fn run(
    store: &dyn Store,
    rollout: &Rollout,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<RunReport, Error> {
    let result = run_once(store, rollout, writer, now).await;
    if let Err(e) = &result {
        let unreachable = matches!(
            e,
            Error::Store(StoreError::Unavailable(_) | StoreError::Fenced { .. })
        );
        if !unreachable && rollout.analysis.is_some() {
            let error = ServiceError {
                unit: "rollout".into(),
                kind: ANALYSIS_ERROR.into(),
                message: e.to_string().chars().take(4096).collect(),
                at: now,
            };
            if let Err(e) = store
                .record_service_errors(rollout.name.as_str(), &[error], now)
                .await
            {
                tracing::warn!(error = %e, "recording the failed analysis run failed");
            }
        }
    }
    result
}

async fn run_once(
    store: &dyn Store,
    rollout: &Rollout,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<RunReport, Error> {
    let cfg = config_of(rollout)?;
    let report = analyze(store, rollout, cfg, now).await?;
    let w = &report.weights;
    store
        .record_weights(&report.record(rollout.name.as_str(), now), writer.epoch)
        .await?;
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let state = store.state(rollout.name.as_str()).await?;
        let (publication, detail, flags_version) =
            match publication(rollout, state.as_ref(), &w.next) {
                Publication::Unchanged => ("unchanged", "already published".to_owned(), None),
                Publication::Withheld(why) => ("withheld", why, None),
                Publication::Publish(t) => match store.commit(&t, writer, now).await {
                    Ok(c) => {
                        crate::engine::log_committed(rollout.name.as_str(), &t, &c, &writer.actor);
                        ("published", w.next.to_json(), Some(c.flags_version))
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                },
            };
        return Ok(RunReport {
            report,
            publication,
            detail,
            flags_version,
        });
    }
    Err(StoreError::Conflict {
        rollout: rollout.name.to_string(),
        expected: None,
    }
    .into())
}
