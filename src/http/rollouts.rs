//! `GET /v1/rollouts`, `GET /v1/overview` (the dashboard's, by page),
//! `GET /v1/rollouts/{name}` and `GET /v1/assign`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use rollout_app::usecases::status::{Overview, RolloutView};
use rollout_core::series::{DEFAULT_PAGE, MAX_PAGE};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::status::{RolloutStatus, UnitAssignment};

pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<RolloutStatus>>, ApiError> {
    Ok(Json(s.reads.statuses().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewQuery {
    offset: Option<usize>,
    limit: Option<u32>,
}

/// A page of every rollout's status with its latest verdict: what the overview draws, in
/// one request.
pub async fn overview(
    State(s): State<AppState>,
    query: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<Json<Overview>, ApiError> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and {MAX_PAGE}, not {limit}"
        )));
    }
    let offset = q.offset.unwrap_or(0);
    Ok(Json(s.service.overview(offset, limit as usize).await?))
}

/// One rollout: its position, the latest A/B analysis a judgment computed and the last
/// guardrail readings.
pub async fn one(
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<RolloutView>, ApiError> {
    let Path(name) = name?;
    Ok(Json(s.reads.rollout_view(&name).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignQuery {
    rollout: String,
    unit: String,
}

/// The data of `rollout assign --json` for one unit.
pub async fn assign(
    State(s): State<AppState>,
    query: Result<Query<AssignQuery>, QueryRejection>,
) -> Result<Json<UnitAssignment>, ApiError> {
    let Query(q) = query?;
    let mut views = s
        .reads
        .assign(&q.rollout, std::slice::from_ref(&q.unit))
        .await?;
    Ok(Json(views.remove(0)))
}
