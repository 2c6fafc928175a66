//! Delivers the webhook outbox: a JSON POST per history row and URL, in order per URL,
//! retried with backoff until the receiver answers 2xx. Rows are queued in the same
//! transaction as the change they announce, so no event is lost. Each row is claimed with a
//! lease before its POST, so two daemons that both believe they lead do not both send it;
//! a receiver may still see an event twice if a sender dies between its POST and the
//! bookkeeping, so the body and the `Idempotency-Key` header carry the event id.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{debug, warn};

use rollout_core::config::Config;
use rollout_core::deliveries::{redact_urls_in, redact_webhook_url};
use rollout_store::{OutboxRow, Store, StoreError};

/// Each POST must answer within this.
pub const POST_TIMEOUT: Duration = Duration::from_secs(5);

/// The wait before attempt `attempts + 1`: 1 s doubling to 5 minutes.
pub fn backoff(attempts: i64) -> chrono::Duration {
    chrono::Duration::seconds(1i64 << attempts.clamp(0, 9)).min(chrono::Duration::minutes(5))
}

/// Delivers what is due at `now`; returns how many were delivered. A row whose URL is no
/// longer in its rollout's `notify` in `config` (or whose rollout is no longer configured)
/// is abandoned instead, with every undelivered row of that rollout and URL, saying why.
pub async fn deliver_due(
    store: &dyn Store,
    http: &reqwest::Client,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut delivered = 0;
    let lease = chrono::Duration::from_std(POST_TIMEOUT * 2).unwrap_or_default();
    for row in store.claim_webhooks(now, now + lease).await? {
        if let Some(reason) = unwanted(config, &row) {
            let n = store
                .abandon_webhooks(&row.rollout, &row.url, &reason, now)
                .await?;
            warn!(url = %redact_webhook_url(&row.url), rollout = %row.rollout, rows = n, "webhooks abandoned: {}", redact_urls_in(&reason));
            continue;
        }
        let outcome = post(http, &row).await;
        match &outcome {
            Ok(()) => {
                delivered += 1;
                debug!(url = %redact_webhook_url(&row.url), event = row.event_id, "webhook delivered");
            }
            Err(e) => {
                warn!(url = %redact_webhook_url(&row.url), event = row.event_id, attempts = row.attempts + 1, "webhook failed: {}", redact_urls_in(e))
            }
        }
        store
            .webhook_attempt(row.id, outcome, now, now + backoff(row.attempts))
            .await?;
    }
    Ok(delivered)
}

/// Why `row` is no longer to be sent, if it is not.
fn unwanted(config: &Config, row: &OutboxRow) -> Option<String> {
    match config.rollout(&row.rollout) {
        None => Some(format!(
            "abandoned: rollout {} is no longer in the configuration",
            row.rollout
        )),
        Some(r) if !r.notify.contains(&row.url) => Some(format!(
            "abandoned: {} is no longer in the `notify` of rollout {}",
            row.url, row.rollout
        )),
        Some(_) => None,
    }
}

async fn post(http: &reqwest::Client, row: &OutboxRow) -> Result<(), String> {
    let resp = http
        .post(&row.url)
        .timeout(POST_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", row.event_id.to_string())
        .body(row.payload.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", resp.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(0).num_seconds(), 1);
        assert_eq!(backoff(3).num_seconds(), 8);
        assert_eq!(backoff(30).num_seconds(), 300);
    }
}
