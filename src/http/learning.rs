//! The learning module's endpoints from the trading team's plan: collection (one record, or
//! an array of records, per request; checked by the same rules as `rollout learning
//! ingest`, all or nothing, acknowledged after the commit) and intelligence (the weights
//! services should apply now, and the current analysis).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::BadRow;
use super::{ApiError, AppState};
use crate::config::Rollout;
use crate::learning::{self, Kind, LearningIngest, Rows};

/// Records accepted per request.
pub const MAX_RECORDS: usize = 10_000;

pub async fn discovery(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<LearningIngest>, ApiError> {
    collect(&s, Kind::Discovery, &body).await
}

pub async fn thesis(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<LearningIngest>, ApiError> {
    collect(&s, Kind::Thesis, &body).await
}

pub async fn outcome(
    State(s): State<AppState>,
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
    let rows = parse(kind, body)?;
    Ok(Json(s.store.ingest_learning(&rows).await?))
}

/// One JSON object, or an array of them; every bad record is reported by its index.
fn parse(kind: Kind, body: &[u8]) -> Result<Rows, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'[') {
        return learning::parse_object(kind, body).map_err(ApiError::bad_request);
    }
    let items: Vec<serde_json::Value> = serde_json::from_slice(body)
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

/// The rollout asked for, or the only one with an `analysis:` block.
fn pick(config: &crate::config::Config, which: &Which) -> Result<Rollout, ApiError> {
    let learning: Vec<&Rollout> = config
        .rollouts
        .iter()
        .filter(|r| r.analysis.is_some())
        .collect();
    match &which.rollout {
        Some(name) => {
            let r = config
                .rollout(name)
                .ok_or_else(|| ApiError::unknown_rollout(name))?;
            if r.analysis.is_none() {
                return Err(ApiError::not_found(format!(
                    "rollout {name} has no `analysis:` block"
                )));
            }
            Ok(r.clone())
        }
        None => match learning.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ApiError::not_found("no rollout has an `analysis:` block")),
            _ => Err(ApiError::bad_request(
                "several rollouts learn weights; name one with ?rollout=",
            )),
        },
    }
}

/// What a discovery pipeline should apply now.
#[derive(Serialize)]
pub struct DiscoveryParameters {
    pub status: &'static str,
    pub rollout: String,
    /// The `<prefix>WEIGHTS` flag: learned weights only where the stage applies parameters,
    /// the conservative weights otherwise.
    pub optimized_weights: serde_json::Value,
    /// Whether those are learned weights (false: the conservative ones).
    pub learned: bool,
    pub confidence: Option<f64>,
    pub market_regime: Option<String>,
    pub sample_size: u64,
    pub fallback: bool,
    pub reason: Option<String>,
    pub last_updated: Option<DateTime<Utc>>,
}

pub async fn discovery_parameters(
    State(s): State<AppState>,
    which: Result<Query<Which>, QueryRejection>,
) -> Result<Json<DiscoveryParameters>, ApiError> {
    let Query(which) = which?;
    let r = pick(&s.config.load(), &which)?;
    let name = r.name.as_str();
    let key = r.flag_prefix.key("WEIGHTS");
    let state = s.store.state(name).await?;
    let conservative = r
        .analysis
        .as_ref()
        .map(|a| a.conservative_weights.to_json())
        .unwrap_or_default();
    let weights = s
        .store
        .rollout_flags(name)
        .await?
        .remove(&key)
        .unwrap_or(conservative.clone());
    let last = s.store.latest_weights(name).await?;
    Ok(Json(DiscoveryParameters {
        status: "success",
        rollout: name.to_owned(),
        optimized_weights: serde_json::from_str(&weights).unwrap_or(serde_json::Value::Null),
        learned: weights != conservative && state.is_some_and(|st| st.weights.is_some()),
        confidence: last.as_ref().and_then(|l| l.confidence),
        market_regime: last.as_ref().and_then(|l| l.regime.clone()),
        sample_size: last.as_ref().map_or(0, |l| l.sample_size),
        fallback: last.as_ref().is_none_or(|l| l.fallback),
        reason: last.as_ref().map(|l| l.reason.clone()),
        last_updated: last.map(|l| l.computed_at),
    }))
}

pub async fn market_insights(
    State(s): State<AppState>,
    which: Result<Query<Which>, QueryRejection>,
) -> Result<Json<learning::Report>, ApiError> {
    let Query(which) = which?;
    let r = pick(&s.config.load(), &which)?;
    let cfg = learning::config_of(&r).map_err(|e| ApiError::not_found(e.to_string()))?;
    Ok(Json(
        learning::analyze(&*s.store, &r, cfg, Utc::now()).await?,
    ))
}
