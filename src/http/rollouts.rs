//! `GET /v1/rollouts`, `GET /v1/rollouts/{name}` and `GET /v1/assign`.

use std::collections::BTreeMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::experiment::Analysis;
use crate::status::{rollout_status, unit_assignment, RolloutStatus, UnitAssignment};
use crate::store::GuardrailReading;

pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<RolloutStatus>>, ApiError> {
    let config = s.config.load_full();
    let states: BTreeMap<_, _> = s
        .store
        .states()
        .await?
        .into_iter()
        .map(|st| (st.rollout.clone(), st))
        .collect();
    let now = Utc::now();
    Ok(Json(
        config
            .rollouts
            .iter()
            .map(|r| rollout_status(r, states.get(r.name.as_str()), now))
            .collect(),
    ))
}

/// One rollout: its position, the A/B analysis (if it has an A/B stage) and the last
/// guardrail readings.
#[derive(Serialize)]
pub struct RolloutView {
    #[serde(flatten)]
    pub status: RolloutStatus,
    pub analysis: Option<Analysis>,
    pub guardrails: Vec<GuardrailReading>,
}

pub async fn one(
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<RolloutView>, ApiError> {
    let Path(name) = name?;
    let config = s.config.load_full();
    let r = config
        .rollout(&name)
        .ok_or_else(|| ApiError::unknown_rollout(&name))?;
    let state = s.store.state(&name).await?;
    let analysis = crate::experiment::analyze(&*s.store, r, state.as_ref()).await?;
    let guardrails = s.store.guardrail_status(&name).await?;
    Ok(Json(RolloutView {
        status: rollout_status(r, state.as_ref(), Utc::now()),
        analysis,
        guardrails,
    }))
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
    let config = s.config.load_full();
    let r = config
        .rollout(&q.rollout)
        .ok_or_else(|| ApiError::unknown_rollout(&q.rollout))?;
    let flags = s.store.rollout_flags(&q.rollout).await?;
    Ok(Json(unit_assignment(r, &flags, &q.unit)))
}
