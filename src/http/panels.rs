//! `GET /v1/rollouts/{name}/learning` and `GET /v1/rollouts/{name}/webhooks`: the
//! dashboard's learning and webhook panels, paginated, newest first, from stored rows.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use rollout_app::usecases::panels::{DeliveriesPage, LearningPanel};
use serde::Deserialize;

use super::series::page;
use super::{ApiError, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearningQuery {
    /// The page size of both series.
    limit: Option<u32>,
    computation_before: Option<i64>,
    publication_before: Option<i64>,
}

pub async fn learning(
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<LearningQuery>, QueryRejection>,
) -> Result<Json<LearningPanel>, ApiError> {
    let Path(name) = name?;
    let Query(q) = query?;
    let computations = page(q.computation_before, q.limit)?;
    let publications = page(q.publication_before, q.limit)?;
    Ok(Json(
        s.service
            .learning_panel(&name, computations, publications)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

pub async fn webhooks(
    State(s): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<WebhooksQuery>, QueryRejection>,
) -> Result<Json<DeliveriesPage>, ApiError> {
    let Path(name) = name?;
    let Query(q) = query?;
    let page = page(q.before, q.limit)?;
    Ok(Json(s.service.deliveries(&name, page).await?))
}
