//! `GET /v1/rollouts`, `GET /v1/rollouts/{name}` and `GET /v1/assign`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use rollout_app::usecases::status::RolloutView;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::status::{RolloutStatus, UnitAssignment};

pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<RolloutStatus>>, ApiError> {
    Ok(Json(s.reads.statuses().await?))
}

/// One rollout: its position, the A/B analysis (if it has an A/B stage) and the last
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
