//! The process's metrics: the Prometheus recorder and the helpers that record what the
//! daemon, its judgments and the HTTP API do (the HTTP API's `GET /metrics` renders them).

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::engine::Outcome;

/// The process-wide Prometheus recorder; installed on first use. `None` if another
/// recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

/// One daemon evaluation pass and what it did.
pub fn tick(outcomes: &[(String, Outcome)]) {
    counter!("rollout_ticks_total").increment(1);
    for (name, o) in outcomes {
        if let Outcome::Applied(a) = o {
            transition(name, a.transition.action.as_str());
        }
    }
}

/// A committed transition.
pub fn transition(rollout: &str, action: &str) {
    counter!("rollout_transitions_total", "rollout" => rollout.to_owned(), "action" => action.to_owned())
        .increment(1);
    if action == "rollback" {
        counter!("rollout_rollbacks_total", "rollout" => rollout.to_owned()).increment(1);
    }
}

/// One `POST /v1/observations` request: its status and latency.
pub fn ingest(status: u16, elapsed: Duration) {
    counter!("rollout_ingest_requests_total", "status" => status.to_string()).increment(1);
    histogram!("rollout_ingest_seconds").record(elapsed.as_secs_f64());
}

/// One judgment of new observations, off the request path: `applied` (it rolled back),
/// `unchanged`, `failed` (logged; the next tick judges again), `standby` (not the leader)
/// or `unknown` (a rollout no longer configured); and how long it took.
pub fn judgment(result: &'static str, elapsed: Duration) {
    counter!("rollout_judgments_total", "result" => result).increment(1);
    if result != "standby" {
        histogram!("rollout_judgment_seconds").record(elapsed.as_secs_f64());
    }
}

pub fn ingested(rollout: &str, rows: u64) {
    counter!("rollout_observations_ingested_total", "rollout" => rollout.to_owned())
        .increment(rows);
}
