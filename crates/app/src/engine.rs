//! Runs the pure controller against a store: one evaluation pass, and manual actions.

use chrono::{DateTime, Utc};

use crate::experiment;
use crate::guardrails;
use rollout_core::config::{Config, Rollout};
use rollout_core::controller::{
    self, Action, Decision, ManualAction, NotAllowed, RolloutState, Signals, Transition,
};
use rollout_store::{Committed, Store, StoreError, Writer};

/// The log target of every committed transition (`ROLLOUT_LOG=rollout::transition=warn`
/// keeps only rollbacks and holds).
pub const LOG_TARGET: &str = "rollout::transition";

/// Logs a committed transition in the process that committed it, whatever caused it (a
/// tick, new observations, a `NOTIFY`, a manual action from the CLI or over HTTP, a
/// publication): rollbacks and holds at WARN, everything else at INFO, each with the
/// rollout, the action, the reason, the actor and the stage (numbered from 1, as people
/// read it, with its label).
pub fn log_committed(rollout: &str, t: &Transition, committed: &Committed, actor: &str) {
    let what = match t.action {
        Action::Start => "started",
        Action::Advance => "entered the next stage",
        Action::Complete => "completed",
        Action::Hold => "held",
        Action::Release => "released from hold",
        Action::Rollback => "rolled back",
        Action::Pause => "paused",
        Action::Resume => "resumed",
        Action::Promote => "promoted",
        Action::Restart => "restarted",
        Action::Sync => "flags repaired",
        Action::Publish => "weights published",
    };
    macro_rules! log {
        ($level:ident) => {
            tracing::$level!(
                target: LOG_TARGET,
                rollout,
                action = t.action.as_str(),
                reason = t.reason.as_str(),
                actor,
                stage = t.to.stage_index + 1,
                stage_label = t.to.stage_label.as_str(),
                status = %t.to.status(),
                flags_version = committed.flags_version,
                "{rollout} {what}"
            )
        };
    }
    if matches!(t.action, Action::Rollback | Action::Hold) {
        log!(warn);
    } else {
        log!(info);
    }
}

/// A committed transition, for logs and CLI output.
#[derive(Debug, Clone)]
pub struct Applied {
    pub transition: Transition,
    pub committed: Committed,
}

/// What one pass did for one rollout.
#[derive(Debug)]
pub enum Outcome {
    Unchanged {
        state: Option<RolloutState>,
    },
    Applied(Box<Applied>),
    /// A pending rollout stays pending: a safety check failed (recorded for `status`).
    HeldPending {
        reason: String,
    },
    /// The state changed under us (a manual action won); the decision was discarded.
    Discarded(StoreError),
    /// Evaluating this rollout failed (its data, its query, its flag values); the others
    /// were evaluated all the same. `held`: the hold committed with the failure as its
    /// reason, if one could be.
    Failed {
        error: StoreError,
        held: Option<Box<Applied>>,
    },
}

/// Evaluates one rollout at `now` and commits what the controller decides. A decision
/// made stale by a concurrent change (a manual action, a publication) is made again from
/// the new state, so that a rollback is not put off to the next tick.
pub async fn tick_rollout(
    store: &dyn Store,
    rollout: &Rollout,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    const ATTEMPTS: usize = 3;
    let mut readings = Readings::Record;
    let mut outcome = Outcome::Unchanged { state: None };
    for _ in 0..ATTEMPTS {
        outcome = tick_once(store, rollout, writer, now, readings).await?;
        if !matches!(outcome, Outcome::Discarded(_)) {
            break;
        }
        // The readings of this tick are stored already: judge again without counting.
        readings = Readings::JudgeOnly;
    }
    Ok(outcome)
}

async fn tick_once(
    store: &dyn Store,
    rollout: &Rollout,
    writer: &Writer,
    now: DateTime<Utc>,
    readings: Readings,
) -> Result<Outcome, StoreError> {
    let state = store.state(rollout.name.as_str()).await?;
    let mut signals = signals(store, rollout, state.as_ref(), now, readings, writer).await?;
    let mut decision = controller::decide(rollout, state.as_ref(), now, &signals);
    if controller::enters_stage(&decision) && !rollout.safety_checks.is_empty() {
        let checks = guardrails::run_checks(store, guardrails::http_client(), rollout, now).await?;
        if let Some(failed) = guardrails::first_failure(&checks) {
            signals.preflight = Some(failed);
            decision = controller::decide(rollout, state.as_ref(), now, &signals);
        }
    }
    let t = match controller::transition(rollout, state.as_ref(), decision, now) {
        Some(t) => t,
        None => {
            let Some(s) = state.as_ref() else {
                if let Some(reason) = signals.preflight {
                    // Pending has no state row: the hold is recorded on its own, so that
                    // `status` can say why the rollout has not started.
                    store
                        .hold_pending(rollout.name.as_str(), &reason, writer, now)
                        .await?;
                    return Ok(Outcome::HeldPending { reason });
                }
                return Ok(Outcome::Unchanged { state });
            };
            let stored = store.rollout_flags(rollout.name.as_str()).await?;
            match controller::sync(rollout, s, &stored) {
                Some(t) => t,
                None => return Ok(Outcome::Unchanged { state }),
            }
        }
    };
    commit(store, rollout, t, writer, now).await
}

/// Whether a pass stores its guardrail readings. Only ticks do: `consecutive` counts ticks,
/// not the bursts of evaluations that arriving data triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readings {
    Record,
    JudgeOnly,
}

/// Everything the controller needs to know about a rollout at `now`: the A/B verdict,
/// SRM, guardrails and silence, and a shadow stage's unmet exit criteria. What it stores
/// (the judgment, the readings) is fenced by `writer`'s epoch.
pub async fn signals(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
    readings: Readings,
    writer: &Writer,
) -> Result<Signals, StoreError> {
    let mut signals = experiment::signals(store, rollout, state, now, writer.epoch).await?;
    let pass = match readings {
        Readings::Record => {
            guardrails::evaluate_and_record(store, rollout, state, now, writer.epoch).await?
        }
        Readings::JudgeOnly => guardrails::evaluate(store, rollout, state, now).await?,
    };
    signals.critical.extend(pass.critical);
    signals.warnings.extend(pass.warnings);
    signals.shadow_unmet = crate::shadow::unmet(store, rollout, state, now).await?;
    Ok(signals)
}

/// The evaluation new observations trigger: rolls `rollout` back if they reveal a
/// critical issue, and does nothing else (stage moves stay with the daemon's ticks). A
/// concurrent change is re-read and judged again, so the rollback is not lost to it.
pub async fn on_new_data(
    store: &dyn Store,
    rollout: &Rollout,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    const ATTEMPTS: usize = 3;
    let mut outcome = Outcome::Unchanged { state: None };
    for _ in 0..ATTEMPTS {
        let state = store.state(rollout.name.as_str()).await?;
        if !rollout_core::guardrails::watched(state.as_ref()) {
            return Ok(Outcome::Unchanged { state });
        }
        let signals = signals(
            store,
            rollout,
            state.as_ref(),
            now,
            Readings::JudgeOnly,
            writer,
        )
        .await?;
        let decision = controller::decide(rollout, state.as_ref(), now, &signals);
        if !matches!(decision, Decision::RollBack { .. }) {
            return Ok(Outcome::Unchanged { state });
        }
        let Some(t) = controller::transition(rollout, state.as_ref(), decision, now) else {
            return Ok(Outcome::Unchanged { state });
        };
        outcome = commit(store, rollout, t, writer, now).await?;
        if !matches!(outcome, Outcome::Discarded(_)) {
            break;
        }
    }
    Ok(outcome)
}

/// Commits `t` (and logs it); a compare-and-set conflict is an outcome (the decision was
/// stale), not an error.
async fn commit(
    store: &dyn Store,
    rollout: &Rollout,
    t: Transition,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    match store.commit(&t, writer, now).await {
        Ok(committed) => {
            log_committed(rollout.name.as_str(), &t, &committed, &writer.actor);
            Ok(Outcome::Applied(Box::new(Applied {
                transition: t,
                committed,
            })))
        }
        Err(e @ StoreError::Conflict { .. }) => Ok(Outcome::Discarded(e)),
        Err(e) => Err(e),
    }
}

/// One evaluation pass over every configured rollout, each on its own: a rollout whose
/// evaluation fails is held with the failure as its reason and reported as
/// [`Outcome::Failed`], and the others are evaluated all the same. Only an unavailable
/// store (the caller backs off) or a fenced writer stops the pass.
pub async fn tick_all(
    store: &dyn Store,
    config: &Config,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Outcome)>, StoreError> {
    let mut out = Vec::new();
    for r in &config.rollouts {
        let outcome = match tick_rollout(store, r, writer, now).await {
            Ok(o) => o,
            // Nobody can be evaluated: the caller backs off (or steps down).
            Err(e @ (StoreError::Unavailable(_) | StoreError::Fenced { .. })) => return Err(e),
            // This rollout's own failure: hold it, say why, and go on with the others.
            Err(error) => {
                let reason = format!("evaluation failed: {error}");
                tracing::error!(rollout = %r.name, %reason, "evaluating the rollout failed; holding it");
                let held = hold(store, r, writer, now, &reason).await;
                Outcome::Failed { error, held }
            }
        };
        crate::compaction::compact_if_due(store, r, now).await;
        out.push((r.name.to_string(), outcome));
    }
    Ok(out)
}

/// Holds `rollout` (status `blocked`) with `reason`, if it is running; `None` when it is
/// not, or when the hold itself cannot be committed (it is reported by the caller).
async fn hold(
    store: &dyn Store,
    rollout: &Rollout,
    writer: &Writer,
    now: DateTime<Utc>,
    reason: &str,
) -> Option<Box<Applied>> {
    let state = store.state(rollout.name.as_str()).await.ok()?;
    let decision = Decision::Hold {
        reason: reason.to_owned(),
    };
    let t = controller::transition(rollout, state.as_ref(), decision, now)?;
    match commit(store, rollout, t, writer, now).await {
        Ok(Outcome::Applied(a)) => Some(a),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long a manual action keeps retrying while another transaction holds the locks it
/// needs: longer than the server's idle-in-transaction timeout (10 s), which ends a frozen
/// leader's transaction.
pub const ACTION_LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a transaction holding the locks a manual action needs may sit idle before the
/// action ends it: a commit's statements follow each other at once, so a transaction idle
/// this long belongs to a frozen (or cut-off) process.
pub const STALLED: std::time::Duration = std::time::Duration::from_secs(2);

/// Applies a manual action, retrying on a concurrent change so that it is not lost to a
/// daemon tick that committed in between, and, for up to [`ACTION_LOCK_PATIENCE`], while
/// another transaction (a frozen leader's) holds the locks the commit needs: each wait for
/// a lock is bounded (PostgreSQL's `lock_timeout`) and logged with what holds it, and a
/// holder idle in its transaction for [`STALLED`] is ended (when this login may).
/// `Ok(None)`: already in the requested state.
pub async fn act(
    store: &dyn Store,
    rollout: &Rollout,
    action: ManualAction,
    reason: &str,
    writer: &Writer,
    now: impl Fn() -> DateTime<Utc>,
) -> Result<Option<Applied>, ActionError> {
    const ATTEMPTS: usize = 20;
    let started = std::time::Instant::now();
    let mut conflicts = 0;
    let mut last = None;
    while conflicts < ATTEMPTS {
        let at = now();
        let state = store.state(rollout.name.as_str()).await?;
        let Some(t) = controller::manual(rollout, state.as_ref(), action, reason, at)? else {
            return Ok(None);
        };
        match store.commit(&t, writer, at).await {
            Ok(committed) => {
                log_committed(rollout.name.as_str(), &t, &committed, &writer.actor);
                return Ok(Some(Applied {
                    transition: t,
                    committed,
                }));
            }
            Err(e @ StoreError::Conflict { .. }) => {
                conflicts += 1;
                last = Some(e);
            }
            Err(e) if e.is_lock_timeout() && started.elapsed() < ACTION_LOCK_PATIENCE => {
                // A transaction that holds the locks and has been idle this long belongs
                // to a frozen process: end it now rather than at the server's timeout.
                match store.end_stalled_lock_holders(STALLED).await {
                    Ok(ended) if !ended.is_empty() => {
                        tracing::warn!(
                            rollout = %rollout.name,
                            action = action.as_str(),
                            "ended a stalled transaction holding the locks this action needs (a frozen process): {}; retrying",
                            ended.join("; ")
                        );
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "cannot end stalled transactions"),
                }
                let holders = store.lock_holders().await.unwrap_or_default();
                let who = if holders.is_empty() {
                    "another transaction".to_owned()
                } else {
                    holders.join("; ")
                };
                tracing::warn!(
                    rollout = %rollout.name,
                    action = action.as_str(),
                    waited_s = started.elapsed().as_secs(),
                    "waiting for a lock held by {who}; retrying"
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.expect("the loop ran at least once").into())
}
