//! `GET /v1/rollouts/{name}/report` (JSON, or Markdown with `?format=md`) and
//! `POST /v1/rollouts/{name}/errors` (errors services report about the learning system: one
//! object or an array, all or none, acknowledged after the commit; the ingest token, or a
//! loopback peer when none is configured).

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rollout_app::usecases::report::ErrorsIngest;
use serde::Deserialize;

use super::auth::Ingestor;
use super::error::BadRow;
use super::{ApiError, AppState};
use crate::shadow::{self, errors::ErrorInput, ServiceError};

/// Errors accepted per request.
pub const MAX_ERRORS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    format: Option<String>,
}

pub async fn report(
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(name) = name?;
    let Query(q) = query?;
    let md = match q.format.as_deref() {
        None | Some("json") => false,
        Some("md") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format {other:?}: expected json or md"
            )))
        }
    };
    let r = s.reads.report(&name).await?;
    Ok(if md {
        (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            shadow::markdown(&r),
        )
            .into_response()
    } else {
        Json(r).into_response()
    })
}

pub async fn errors(
    State(s): State<AppState>,
    _: Ingestor,
    name: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<ErrorsIngest>, ApiError> {
    let Path(name) = name?;
    s.service.rollout(&name)?;
    let rows = parse(&body, s.service.now())?;
    Ok(Json(s.service.record_errors(&name, &rows).await?))
}

/// One object or an array of them; every bad one is reported by its index (422). Text that
/// is not JSON is 400.
fn parse(body: &[u8], now: chrono::DateTime<chrono::Utc>) -> Result<Vec<ServiceError>, ApiError> {
    let value: serde_json::Value = super::body::parse(body)?;
    let unprocessable = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    if !value.is_array() {
        let input: ErrorInput = super::body::parse(body)?;
        return Ok(vec![input.check(now).map_err(unprocessable)?]);
    }
    let items: Vec<serde_json::Value> = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    if items.len() > MAX_ERRORS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} errors; at most {MAX_ERRORS} per request", items.len()),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (row, item) in items.into_iter().enumerate() {
        let parsed = serde_json::from_value::<ErrorInput>(item)
            .map_err(|e| e.to_string())
            .and_then(|i| i.check(now));
        match parsed {
            Ok(e) => out.push(e),
            Err(error) => bad.push(BadRow { row, error }),
        }
    }
    if !bad.is_empty() {
        let mut e = unprocessable(format!("{} bad error(s); nothing was stored", bad.len()));
        e.rows = bad;
        return Err(e);
    }
    if out.is_empty() {
        return Err(ApiError::bad_request("no errors"));
    }
    Ok(out)
}
