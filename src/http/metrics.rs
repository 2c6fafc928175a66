//! `GET /healthz`, `GET /readyz` and `GET /metrics` (Prometheus text, via the `metrics`
//! facade and its Prometheus exporter); the recording helpers are `crate::telemetry`'s.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use metrics::gauge;
use serde_json::json;

use super::AppState;

pub use crate::telemetry::{ingest, ingested, install, judgment, tick, transition};

/// Where each rollout is, for a Grafana timeline: `rollout_stage_index` (0-based, -1 while
/// pending), `rollout_percentage`, and `rollout_status{status}` (1 for its status, 0 for the
/// others).
fn stage_gauges(statuses: &[crate::status::RolloutStatus]) {
    use crate::controller::Status;
    const ALL: [Status; 6] = [
        Status::Pending,
        Status::Running,
        Status::Paused,
        Status::Blocked,
        Status::RolledBack,
        Status::Completed,
    ];
    for st in statuses {
        let name = st.name.clone();
        gauge!("rollout_stage_index", "rollout" => name.clone())
            .set(st.stage_index.map_or(-1.0, |i| i as f64));
        gauge!("rollout_percentage", "rollout" => name.clone()).set(st.percentage);
        for status in ALL {
            gauge!("rollout_status", "rollout" => name.clone(), "status" => status.as_str())
                .set(if st.status == status { 1.0 } else { 0.0 });
        }
    }
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the store answers; the body says whether this process leads.
/// Ready: the store answers, some daemon leads (this one, or another whose lease runs), and
/// this daemon's last evaluation pass did not fail. Otherwise 503 with the reason.
pub async fn readyz(State(s): State<AppState>) -> Response {
    let role = if s.role.epoch().is_some() {
        "leader"
    } else {
        "standby"
    };
    match tokio::time::timeout(Duration::from_secs(2), s.service.leader()).await {
        Ok(Ok(leader)) => {
            if let Some(why) = s.role.failing() {
                return unready(role, &format!("evaluation passes are failing: {why}"));
            }
            if s.role.epoch().is_none() && !leader.leads_at(s.service.now()) {
                return unready(
                    role,
                    "no daemon holds the leadership lease: nothing evaluates the rollouts",
                );
            }
            Json(json!({"status": "ready", "role": role})).into_response()
        }
        Ok(Err(e)) => unready(role, &e.to_string()),
        Err(_) => unready(role, "the store did not answer within 2 s"),
    }
}

fn unready(role: &str, error: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unavailable", "role": role, "error": error})),
    )
        .into_response()
}

/// Prometheus text. Gauges read from the store (flags version, guardrail readings, A/B
/// p-values of rollouts in their A/B stage) are refreshed at each scrape.
pub async fn scrape(State(s): State<AppState>) -> Response {
    let Some(handle) = install() else {
        return super::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder is installed",
        )
        .into_response();
    };
    gauge!("rollout_leader").set(if s.role.epoch().is_some() { 1.0 } else { 0.0 });
    if let Ok(v) = s.reads.flags_version().await {
        gauge!("rollout_flags_version").set(v as f64);
    }
    if let Ok(statuses) = s.reads.statuses().await {
        stage_gauges(&statuses);
    }
    for r in s.reads.gauges().await {
        let name = r.rollout;
        for g in r.guardrails {
            if let Some(v) = g.value {
                gauge!("rollout_guardrail_value", "rollout" => name.clone(), "guardrail" => g.guardrail.clone())
                    .set(v);
            }
        }
        let Some(a) = r.analysis else { continue };
        for m in a["metrics"].as_array().into_iter().flatten() {
            let metric = m["metric"].as_str().unwrap_or_default().to_owned();
            if let Some(p) = m["p_value"].as_f64() {
                gauge!("rollout_ab_p_value", "rollout" => name.clone(), "metric" => metric.clone())
                    .set(p);
            }
            if let Some(p) = m["sequential_p_value"].as_f64() {
                gauge!("rollout_ab_sequential_p_value", "rollout" => name.clone(), "metric" => metric)
                    .set(p);
            }
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
