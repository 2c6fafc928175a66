//! The daemon's background tasks, supervised: the webhook sender and, on PostgreSQL, the
//! listener that turns `NOTIFY rollout_observations` into judgments.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tracing::{debug, info, warn};

use super::Backoff;
use crate::config::Config;
use crate::role::Role;
use crate::store::{self, DatabaseUrl, Store};

/// The webhook sender: while this process leads, delivers the outbox every half second.
/// Supervised: restarted if it panics.
pub(super) fn spawn_background(
    store: Arc<dyn Store>,
    role: Arc<Role>,
    config: Arc<arc_swap::ArcSwap<Config>>,
) -> tokio::task::JoinHandle<()> {
    crate::supervise::supervise("webhook sender", move || {
        send_webhooks(store.clone(), role.clone(), config.clone())
    })
}

async fn send_webhooks(
    store: Arc<dyn Store>,
    role: Arc<Role>,
    config: Arc<arc_swap::ArcSwap<Config>>,
) {
    let http = crate::guardrails::http_client();
    let mut every = tokio::time::interval(Duration::from_millis(500));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if role.epoch().is_none() {
            continue;
        }
        let config = config.load();
        if let Err(e) = crate::webhooks::deliver_due(&*store, http, &config, Utc::now()).await {
            debug!(error = %e, "webhook delivery pass failed; retrying");
        }
    }
}

/// On PostgreSQL, turns `NOTIFY rollout_observations` (sent by every ingest commit) into
/// judgments while this process leads, so that new data is judged at once, whichever
/// process ingested it. Reconnects by itself. Anyone who may connect can send such a
/// notification: a payload that names no configured rollout is dropped before it is
/// scheduled, and judgments of one rollout are spaced ([`rollout_app::Judgments`]), so a
/// flood costs at most one judgment per interval. Supervised: restarted if it panics.
pub(super) fn spawn_listener(
    url: &DatabaseUrl,
    judgments: rollout_app::Judgments,
    role: Arc<Role>,
    config: Arc<arc_swap::ArcSwap<Config>>,
) -> Option<tokio::task::JoinHandle<()>> {
    if !url.is_postgres() {
        return None;
    }
    // Its connection is made as the store's are (named, with the server's keepalives).
    let pool = match store::pg_listener_pool(url) {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "cannot listen for new observations; the poll and ticks still judge them");
            return None;
        }
    };
    Some(crate::supervise::supervise(
        "observation listener",
        move || {
            let (pool, judgments, role, config) = (
                pool.clone(),
                judgments.clone(),
                role.clone(),
                config.clone(),
            );
            async move {
                let mut backoff = Backoff::default();
                loop {
                    if let Err(e) = listen(&pool, &judgments, &role, &config, &mut backoff).await {
                        let wait = backoff.next();
                        warn!(error = %e, retry_in = ?wait, "observation listener lost its connection; ticks still run");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        },
    ))
}

async fn listen(
    pool: &sqlx::PgPool,
    judgments: &rollout_app::Judgments,
    role: &Role,
    config: &arc_swap::ArcSwap<Config>,
    backoff: &mut Backoff,
) -> Result<(), sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
    l.listen("rollout_observations").await?;
    backoff.reset();
    info!("listening for new observations");
    loop {
        let n = l.recv().await?;
        if role.epoch().is_some() && config.load().rollout(n.payload()).is_some() {
            judgments.request(n.payload());
        }
    }
}
