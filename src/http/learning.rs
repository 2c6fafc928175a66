//! The learning module's endpoints from the trading team's plan: collection (one record, or
//! an array of records, per request; checked by the same rules as `rollout learning
//! ingest`, all or nothing, acknowledged after the commit; the ingest token, or a loopback
//! peer when none is configured) and intelligence (the weights services should apply now,
//! and the latest stored analysis run; both are reads, on the HTTP read pool).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use rollout_app::usecases::learning::DiscoveryParameters;
use serde::Deserialize;

use super::auth::Ingestor;
use super::error::BadRow;
use super::{ApiError, AppState};
use crate::learning::{self, Kind, LearningIngest, Rows};

/// Records accepted per request.
pub const MAX_RECORDS: usize = 10_000;

pub async fn discovery(
    State(s): State<AppState>,
    _: Ingestor,
    body: Bytes,
) -> Result<Json<LearningIngest>, ApiError> {
    collect(&s, Kind::Discovery, &body).await
}

pub async fn thesis(
    State(s): State<AppState>,
    _: Ingestor,
    body: Bytes,
) -> Result<Json<LearningIngest>, ApiError> {
    collect(&s, Kind::Thesis, &body).await
}

pub async fn outcome(
    State(s): State<AppState>,
    _: Ingestor,
    body: Bytes,
) -> Result<Json<LearningIngest>, ApiError> {
    collect(&s, Kind::Outcome, &body).await
}

async fn collect(s: &AppState, kind: Kind, body: &[u8]) -> Result<Json<LearningIngest>, ApiError> {
    let Ok(_permit) = s.ingest.try_acquire() else {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many ingest requests in progress; retry later",
        );
        e.retry_after = Some(1);
        return Err(e);
    };
    let rows = match parse(kind, body) {
        Ok(rows) => rows,
        Err(e) => {
            // Refused records are counted in the shadow report, with the reasons.
            if matches!(
                e.status,
                StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
            ) {
                let reasons = if e.rows.is_empty() {
                    vec![e.message.clone()]
                } else {
                    e.rows.iter().map(|r| r.error.clone()).collect()
                };
                s.service.reject_learning(kind, reasons).await;
            }
            return Err(e);
        }
    };
    Ok(Json(s.service.ingest_learning(&rows).await?))
}

/// One JSON object, or an array of them; every bad record is reported by its index. Text
/// that is not JSON is 400; a record that does not fit, 422, its message naming the field
/// (`exit_timestamp: ...`).
fn parse(kind: Kind, body: &[u8]) -> Result<Rows, ApiError> {
    let value: serde_json::Value = super::body::parse(body)?;
    if !value.is_array() {
        return learning::parse_object(kind, body)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e));
    }
    let items: Vec<serde_json::Value> = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    if items.len() > MAX_RECORDS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} records; at most {MAX_RECORDS} per request", items.len()),
        ));
    }
    let mut out: Option<Rows> = None;
    let mut bad = Vec::new();
    for (row, item) in items.iter().enumerate() {
        let text = serde_json::to_vec(item).unwrap_or_default();
        match learning::parse_object(kind, &text) {
            Ok(r) => match &mut out {
                None => out = Some(r),
                Some(all) => all.extend(r),
            },
            Err(error) => bad.push(BadRow { row, error }),
        }
    }
    if !bad.is_empty() {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{} bad record(s); nothing was stored", bad.len()),
        );
        e.rows = bad;
        return Err(e);
    }
    out.ok_or_else(|| ApiError::bad_request("no records"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Which {
    rollout: Option<String>,
}

pub async fn discovery_parameters(
    State(s): State<AppState>,
    which: Result<Query<Which>, QueryRejection>,
) -> Result<Json<DiscoveryParameters>, ApiError> {
    let Query(which) = which?;
    Ok(Json(
        s.reads
            .discovery_parameters(which.rollout.as_deref())
            .await?,
    ))
}

/// The latest stored analysis run (404 with the reason before the first one): never
/// computed per request.
pub async fn market_insights(
    State(s): State<AppState>,
    which: Result<Query<Which>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(which) = which?;
    Ok(Json(
        s.reads.learning_insights(which.rollout.as_deref()).await?,
    ))
}
