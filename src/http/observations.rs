//! `POST /v1/observations`: A/B observations as JSON, all rows or none, checked by the
//! same rules as CSV ingest ([`crate::experiment::check`]). Acknowledged after the commit;
//! then judged at once if this process leads (otherwise the leader's `NOTIFY` does it).

use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::error::BadRow;
use super::{ApiError, AppState};
use crate::engine::{self, Outcome};
use crate::experiment::{IngestReport, Observation};
use crate::store::{StoreError, Writer};

/// Rows accepted per request; more get 413.
pub const MAX_ROWS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestBody {
    rollout: String,
    observations: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    unit: String,
    variant: String,
    metric: String,
    value: f64,
    #[serde(default)]
    observed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    event_id: Option<String>,
}

#[derive(Serialize)]
pub struct IngestView {
    #[serde(flatten)]
    report: IngestReport,
    /// The reason, if the new data rolled the rollout back at once.
    rolled_back: Option<String>,
}

pub async fn ingest(
    State(s): State<AppState>,
    body: Result<Json<IngestBody>, JsonRejection>,
) -> Result<Json<IngestView>, ApiError> {
    let started = Instant::now();
    let result = handle(&s, body).await;
    super::metrics::ingest(
        result.as_ref().map_or_else(|e| e.status.as_u16(), |_| 200),
        started.elapsed(),
    );
    result
}

async fn handle(
    s: &AppState,
    body: Result<Json<IngestBody>, JsonRejection>,
) -> Result<Json<IngestView>, ApiError> {
    let Ok(_permit) = s.ingest.try_acquire() else {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many ingest requests in progress; retry later",
        );
        e.retry_after = Some(1);
        return Err(e);
    };
    let Json(body) = body?;
    if body.observations.len() > MAX_ROWS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} observations in one request; at most {MAX_ROWS}",
                body.observations.len()
            ),
        ));
    }
    if body.observations.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no observations",
        ));
    }
    let config = s.config.load_full();
    let r = config
        .rollout(&body.rollout)
        .ok_or_else(|| ApiError::unknown_rollout(&body.rollout))?;
    let now = Utc::now();
    let rows = validate(body.observations, now)?;
    let report = s.store.ingest(&body.rollout, &rows, now).await?;
    super::metrics::ingested(&body.rollout, report.inserted);
    let mut rolled_back = None;
    if let (true, Some(epoch)) = (report.inserted > 0, s.role.epoch()) {
        let writer = Writer {
            actor: s.actor.clone(),
            epoch: Some(epoch),
        };
        // The data is stored and acknowledged either way; a failed judgement is retried
        // by the daemon's next tick.
        match engine::on_new_data(&*s.store, r, &writer, Utc::now()).await {
            Ok(Outcome::Applied(a)) => {
                s.feed.poke();
                super::metrics::transition(&body.rollout, a.transition.action.as_str());
                rolled_back = Some(a.transition.reason);
            }
            Ok(_) => {}
            Err(e @ StoreError::Fenced { .. }) => {
                warn!(error = %e, "ingest: not the leader any more")
            }
            Err(e) => warn!(error = %e, rollout = %body.rollout, "judging new observations failed"),
        }
    }
    Ok(Json(IngestView {
        report,
        rolled_back,
    }))
}

/// Every row checked; all problems reported at once (422), or the observations.
fn validate(rows: Vec<Row>, now: DateTime<Utc>) -> Result<Vec<Observation>, ApiError> {
    let mut out = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        let event_id = row.event_id.as_deref().filter(|e| !e.is_empty());
        match crate::experiment::check(&row.unit, &row.variant, &row.metric, row.value, event_id) {
            Ok(variant) => out.push(Observation {
                unit: row.unit,
                variant,
                metric: row.metric,
                value: row.value,
                observed_at: row.observed_at.unwrap_or(now),
                event_id: row.event_id.filter(|e| !e.is_empty()),
            }),
            Err(error) => bad.push(BadRow { row: i, error }),
        }
    }
    if bad.is_empty() {
        return Ok(out);
    }
    let shown: Vec<String> = bad
        .iter()
        .take(20)
        .map(|b| format!("row {}: {}", b.row, b.error))
        .collect();
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "{} bad observation(s); nothing was written: {}{}",
            bad.len(),
            shown.join("; "),
            if bad.len() > shown.len() { "; ..." } else { "" }
        ),
    );
    e.rows = bad;
    Err(e)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::daemon::Role;
    use crate::http::{AppState, Options};

    #[tokio::test]
    async fn a_full_queue_answers_429_with_retry_after() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store: Arc<dyn crate::store::Store> = Arc::from(crate::store::open(&url).unwrap());
        store.migrate().await.unwrap();
        let yaml = "rollouts:\n  - name: r\n    flag_prefix: R_\n    seed: 1\n    stages:\n      - full: {}\n";
        let config = crate::config::parse("t.yaml", yaml).unwrap().config;
        let s = AppState::new(Options {
            store,
            database_url: url,
            config: Arc::new(arc_swap::ArcSwap::from_pointee(config)),
            role: Arc::new(Role::default()),
            actor: "test".into(),
            admin_token: None,
            ingest_slots: 2,
        });
        let body = || {
            Ok(Json(IngestBody {
                rollout: "r".into(),
                observations: vec![Row {
                    unit: "u".into(),
                    variant: "control".into(),
                    metric: "m".into(),
                    value: 1.0,
                    observed_at: None,
                    event_id: None,
                }],
            }))
        };
        let held = s.ingest.try_acquire_many(2).unwrap();
        let e = handle(&s, body()).await.err().expect("refused");
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(1));
        drop(held);
        let ok = handle(&s, body())
            .await
            .expect("accepted once a slot is free");
        assert_eq!(ok.0.report.inserted, 1);
    }
}
