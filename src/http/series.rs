//! `GET /v1/rollouts/{name}/history`, `GET /v1/rollouts/{name}/timeseries` (paginated,
//! newest first) and `GET /v1/rollouts/{name}/preview` (what an action would change).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use rollout_app::usecases::dashboard::{HistoryPage, Timeseries};
use rollout_core::preview::ActionPreview;
use rollout_core::series::Page;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::controller::ManualAction;

pub(super) fn page(before: Option<i64>, limit: Option<u32>) -> Result<Page, ApiError> {
    Page::new(before, limit).map_err(ApiError::bad_request)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

pub async fn history(
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<HistoryPage>, ApiError> {
    let Path(name) = name?;
    let Query(q) = query?;
    let page = page(q.before, q.limit)?;
    Ok(Json(s.reads.history_page(&name, page).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// The page size of both series.
    limit: Option<u32>,
    analysis_before: Option<i64>,
    guardrail_before: Option<i64>,
}

pub async fn timeseries(
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<SeriesQuery>, QueryRejection>,
) -> Result<Json<Timeseries>, ApiError> {
    let Path(name) = name?;
    let Query(q) = query?;
    let analyses = page(q.analysis_before, q.limit)?;
    let guardrails = page(q.guardrail_before, q.limit)?;
    Ok(Json(s.reads.timeseries(&name, analyses, guardrails).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    action: String,
    #[serde(default)]
    reason: String,
}

fn action(name: &str) -> Result<ManualAction, ApiError> {
    Ok(match name {
        "pause" => ManualAction::Pause,
        "resume" => ManualAction::Resume,
        "promote" => ManualAction::Promote,
        "rollback" => ManualAction::Rollback,
        "restart" => ManualAction::Restart,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown action {other:?}: expected pause, resume, promote, rollback or restart"
            )))
        }
    })
}

/// A dry run of an action: nothing is written, so no token is needed.
pub async fn preview(
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<PreviewQuery>, QueryRejection>,
) -> Result<Json<ActionPreview>, ApiError> {
    let Path(name) = name?;
    let Query(q) = query?;
    let action = action(&q.action)?;
    Ok(Json(s.reads.preview(&name, action, &q.reason).await?))
}
