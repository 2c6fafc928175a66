//! The daemon's judgments of new observations: scheduled after each commit (HTTP ingest,
//! `NOTIFY`, the poll of new observations) and run off the request path and off the
//! daemon's main loop, coalesced per rollout ([`rollout_app::Judgments`]). A judgment runs
//! as the leader, with its epoch, and only while this process leads; it may only roll back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, info_span, warn, Instrument};

use crate::engine::Outcome;
use crate::role::Role;
use crate::store::{Arrivals, Store, StoreError, Writer};
use rollout_app::judgments::JudgeFuture;
use rollout_app::{Error as AppError, Judgments, Service};

/// Judgments as the leader of `role`, writing as `actor`; `committed` runs after a
/// judgment committed a rollback (the HTTP API streams it at once).
pub fn leader(
    service: Service,
    role: Arc<Role>,
    actor: String,
    committed: impl Fn() + Send + Sync + 'static,
) -> Judgments {
    Judgments::new(leader_judge(service, role, actor, committed))
}

/// One judgment as [`leader`] runs it (a test may wrap it, to hold it up).
pub fn leader_judge(
    service: Service,
    role: Arc<Role>,
    actor: String,
    committed: impl Fn() + Send + Sync + 'static,
) -> impl Fn(String) -> JudgeFuture + Send + Sync + 'static {
    let committed = Arc::new(committed);
    move |rollout: String| -> JudgeFuture {
        let (service, role, actor, committed) = (
            service.clone(),
            role.clone(),
            actor.clone(),
            committed.clone(),
        );
        let span = info_span!("judge", rollout = %rollout);
        Box::pin(
            async move {
                let Some(epoch) = role.epoch() else {
                    debug!("standby: the leader judges the new observations");
                    crate::telemetry::judgment("standby", Duration::ZERO);
                    return;
                };
                let writer = Writer {
                    actor,
                    epoch: Some(epoch),
                };
                let started = Instant::now();
                let result = service.judge_new_data(&rollout, &writer).await;
                let result_label = match &result {
                    Ok(Outcome::Applied(a)) => {
                        // The engine logged the rollback, with its reason and actor.
                        crate::telemetry::transition(&rollout, a.transition.action.as_str());
                        committed();
                        "applied"
                    }
                    Ok(_) => "unchanged",
                    // Removed from the config by a reload since the commit.
                    Err(AppError::UnknownRollout(_)) => "unknown",
                    Err(AppError::Store(e @ StoreError::Fenced { .. })) => {
                        warn!(error = %e, "judging new observations: not the leader any more; the next renewal steps down");
                        "failed"
                    }
                    Err(e) => {
                        warn!(error = %e, "judging new observations failed; the next tick judges them");
                        "failed"
                    }
                };
                crate::telemetry::judgment(result_label, started.elapsed());
            }
            .instrument(span),
        )
    }
}

/// How often the leader looks for observations another process committed: on SQLite,
/// which cannot notify, often (the breach → rollback goal is under a second); on
/// PostgreSQL rarely, as a net under `NOTIFY` (a lost listener connection).
pub fn poll_interval(postgres: bool) -> Duration {
    if postgres {
        Duration::from_secs(2)
    } else {
        Duration::from_millis(100)
    }
}

/// While this process leads, asks for a judgment of each rollout that got observations
/// since the last look, every `every`. The first look is made before this returns (call
/// it before the first tick): rows committed before it are the first tick's, and none
/// after it is missed by a process that leads later (a standby follows the newest id too).
pub async fn start_poll(
    store: Arc<dyn Store>,
    judgments: Judgments,
    role: Arc<Role>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let mut seen = store.arrivals(None).await.ok().map(|a| a.last_id);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        loop {
            interval.tick().await;
            match store.arrivals(seen).await {
                Ok(Arrivals { last_id, rollouts }) => {
                    seen = Some(last_id);
                    if role.epoch().is_some() {
                        for r in rollouts {
                            judgments.request(&r);
                        }
                    }
                }
                Err(e) => debug!(error = %e, "looking for new observations failed; retrying"),
            }
        }
    })
}
