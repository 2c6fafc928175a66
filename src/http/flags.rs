//! `GET /v1/flags` (with `ETag` / `If-None-Match`) and `GET /v1/flags/{key}`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{ApiError, AppState};

/// The quoted table version, as the `ETag` of `/v1/flags`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Whether an `If-None-Match` header names `etag` (a list, weak tags and `*` included).
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

pub async fn all(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if headers.contains_key(header::IF_NONE_MATCH) {
        let tag = etag(s.reads.flags_version().await?);
        if matches(&headers, &tag) {
            return Ok(not_modified(&tag));
        }
    }
    let table = s.reads.flags().await?;
    let tag = etag(table.version);
    if matches(&headers, &tag) {
        return Ok(not_modified(&tag));
    }
    let mut resp = Json(table).into_response();
    set_etag(&mut resp, &tag);
    Ok(resp)
}

fn not_modified(tag: &str) -> Response {
    let mut resp = StatusCode::NOT_MODIFIED.into_response();
    set_etag(&mut resp, tag);
    resp
}

fn set_etag(resp: &mut Response, tag: &str) {
    if let Ok(v) = HeaderValue::from_str(tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

pub async fn one(
    State(s): State<AppState>,
    key: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(key) = key?;
    let table = s.reads.flags().await?;
    match table.flags.into_iter().find(|f| f.key == key) {
        Some(row) => Ok(Json(row).into_response()),
        None => Err(ApiError::not_found(format!("no flag {key}"))),
    }
}
