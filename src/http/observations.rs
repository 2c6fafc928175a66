//! `POST /v1/observations`: A/B observations as JSON, all rows or none, checked by the
//! same rules as CSV ingest ([`crate::experiment::check`]). Acknowledged after the commit,
//! never after a judgment: if this process leads, a judgment is scheduled
//! ([`crate::judge`]) and runs after the answer; otherwise the leader notices the rows
//! (`NOTIFY`, its poll of new observations, its next tick). Needs the ingest token, or a
//! loopback peer when none is configured (see `auth`).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info_span, Instrument};

use super::auth::Ingestor;
use super::error::BadRow;
use super::{ApiError, AppState};
use crate::experiment::ObservationInput;
use rollout_app::Judge;

/// The answer: what was stored, and who judges it.
#[derive(Debug, Serialize)]
pub struct Answer {
    pub inserted: u64,
    pub duplicates: u64,
    /// `scheduled`: this daemon leads and judges the new rows right after this answer;
    /// `leader`: another process leads and notices them; `nothing_new`: only duplicates.
    pub judgment: &'static str,
}

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
    /// Optional: the assignment rule's variant is used; a claim that contradicts it is refused.
    #[serde(default)]
    variant: String,
    metric: String,
    value: f64,
    /// RFC 3339 with an offset; a time without one is refused rather than taken as UTC.
    #[serde(
        default,
        deserialize_with = "rollout_core::timestamp::deserialize_option"
    )]
    observed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    event_id: Option<String>,
}

pub async fn ingest(
    State(s): State<AppState>,
    who: Result<Ingestor, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Answer>, ApiError> {
    let started = Instant::now();
    let result = match who {
        Ok(Ingestor) => {
            handle(&s, || super::body::json(&headers, body))
                .instrument(info_span!("http_ingest"))
                .await
        }
        Err(e) => Err(e),
    };
    super::metrics::ingest(
        result.as_ref().map_or_else(|e| e.status.as_u16(), |_| 200),
        started.elapsed(),
    );
    result
}

/// `body` is read once a slot is free.
async fn handle(
    s: &AppState,
    body: impl FnOnce() -> Result<IngestBody, ApiError>,
) -> Result<Json<Answer>, ApiError> {
    let Ok(_permit) = s.ingest.try_acquire() else {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many ingest requests in progress; retry later",
        );
        e.retry_after = Some(1);
        return Err(e);
    };
    let body = body()?;
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
    s.service.rollout(&body.rollout)?;
    let rows = validate(body.observations, s.service.now())?;
    let out = s
        .service
        .ingest_observations(&body.rollout, "request", rows, Judge::Nobody)
        .await?;
    super::metrics::ingested(&body.rollout, out.report.inserted);
    // Committed: answer now. The judgment runs after the answer, coalesced with those of
    // other commits; its failure is logged and counted, never this request's.
    let judgment = if out.report.inserted == 0 {
        "nothing_new"
    } else if s.role.epoch().is_some() {
        s.judgments.request(&body.rollout);
        "scheduled"
    } else {
        "leader"
    };
    Ok(Json(Answer {
        inserted: out.report.inserted,
        duplicates: out.report.duplicates,
        judgment,
    }))
}

/// Every row checked; all problems reported at once (422), or the observations.
fn validate(rows: Vec<Row>, now: DateTime<Utc>) -> Result<Vec<ObservationInput>, ApiError> {
    let mut out = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        let event_id = row.event_id.as_deref().filter(|e| !e.is_empty());
        match crate::experiment::check(&row.unit, &row.variant, &row.metric, row.value, event_id) {
            Ok(variant) => out.push(ObservationInput {
                line: i as u64,
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
    use crate::http::{AppState, Options};
    use crate::role::Role;

    #[tokio::test]
    async fn a_full_queue_answers_429_with_retry_after() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store: Arc<dyn crate::store::Store> = Arc::from(crate::store::open(&url).unwrap());
        store.migrate().await.unwrap();
        let yaml = "rollouts:\n  - name: r\n    flag_prefix: R_\n    seed: 1\n    stages:\n      - full: {}\n    guardrails:\n      - { name: g, metric: m, aggregate: mean, max: 10, window: 1h }\n";
        let config = crate::config::parse("t.yaml", yaml).unwrap().config;
        let s = AppState::new(Options {
            store,
            database_url: url,
            config: Arc::new(arc_swap::ArcSwap::from_pointee(config)),
            role: Arc::new(Role::default()),
            actor: "test".into(),
            admin_token: None,
            ingest_token: None,
            ingest_slots: 2,
            judgments: None,
            limits: Default::default(),
            read_store: None,
        });
        let body = || {
            || {
                Ok(IngestBody {
                    rollout: "r".into(),
                    observations: vec![Row {
                        unit: "u".into(),
                        variant: "control".into(),
                        metric: "m".into(),
                        value: 1.0,
                        observed_at: None,
                        event_id: None,
                    }],
                })
            }
        };
        let held = s.ingest.try_acquire_many(2).unwrap();
        let e = handle(&s, body()).await.expect_err("refused");
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(1));
        drop(held);
        let ok = handle(&s, body())
            .await
            .expect("accepted once a slot is free");
        assert_eq!(ok.0.inserted, 1);
    }
}
