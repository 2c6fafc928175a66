//! Preflight safety checks: SQL that must be true, HTTP endpoints that must answer 2xx
//! within a budget. Never a shell.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use rollout_core::config::{HttpCheck, Rollout, SafetyCheckKind};
use rollout_store::{SqlValue, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    /// What the check saw: the query's value, the HTTP status, or the error.
    pub output: String,
    pub elapsed_ms: u64,
}

/// Runs every safety check of `rollout`. Only an unreachable store is an error.
pub async fn run_checks(
    store: &dyn Store,
    http: &reqwest::Client,
    rollout: &Rollout,
    now: DateTime<Utc>,
) -> Result<Vec<CheckResult>, StoreError> {
    let mut out = Vec::new();
    for check in &rollout.safety_checks {
        let start = Instant::now();
        let (passed, output) = match &check.kind {
            SafetyCheckKind::Sql(q) => {
                match super::measure::run(store, q, rollout.name.as_str(), now, now).await {
                    Ok(rows) => truthy(&rows),
                    Err(StoreError::UserQuery(e)) => (false, format!("query failed: {e}")),
                    Err(e) => return Err(e),
                }
            }
            SafetyCheckKind::Http(h) => get(http, h).await,
        };
        out.push(CheckResult {
            name: check.name.clone(),
            passed,
            output,
            elapsed_ms: start.elapsed().as_millis() as u64,
        });
    }
    Ok(out)
}

/// The first failing check, described for a hold reason.
pub fn first_failure(results: &[CheckResult]) -> Option<String> {
    results
        .iter()
        .find(|r| !r.passed)
        .map(|r| format!("safety check {} failed: {}", r.name, r.output))
}

fn truthy(rows: &[Vec<SqlValue>]) -> (bool, String) {
    match rows.first().and_then(|r| r.first()) {
        None => (false, "the query returned no rows".into()),
        Some(v) => {
            let passed = match v {
                SqlValue::Bool(b) => *b,
                SqlValue::Number(n) => *n != 0.0,
                SqlValue::Text(t) => matches!(t.as_str(), "t" | "true" | "TRUE" | "1"),
                SqlValue::Null => false,
            };
            (passed, format!("returned {v}"))
        }
    }
}

async fn get(http: &reqwest::Client, h: &HttpCheck) -> (bool, String) {
    let budget = Duration::from_millis(h.budget_ms);
    match tokio::time::timeout(budget, http.get(&h.url).send()).await {
        Err(_) => (false, format!("no answer within {} ms", h.budget_ms)),
        Ok(Err(e)) => (false, format!("GET {} failed: {e}", h.url)),
        // No timings in the output: it becomes the hold reason, which must not change
        // from one tick to the next while the check keeps failing the same way.
        Ok(Ok(resp)) => (
            resp.status().is_success(),
            format!("HTTP {}", resp.status()),
        ),
    }
}

/// The process's HTTP client for safety checks (connection pools are per client).
pub fn http_client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .user_agent(concat!("rollout/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
}
