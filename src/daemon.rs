//! `rollout daemon`: reloads the config, keeps leadership and ticks on the cron schedule.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};
use tracing::{debug, error, info, warn};

use crate::config::{self, Config};
use crate::controller::incompatibilities;
use crate::engine::{self, Outcome};
use crate::store::{self, LeaderCheck, Leadership, Store, StoreError, Writer};

pub struct DaemonOptions {
    pub config_path: PathBuf,
    /// `ROLLOUT_DATABASE_URL`, which overrides the config's `database`.
    pub database_override: Option<String>,
}

/// Identifies this process in the history and in `rollout_leader`: `daemon@HOST:PID`.
pub fn daemon_actor() -> String {
    format!(
        "daemon@{}:{}",
        gethostname::gethostname().to_string_lossy(),
        std::process::id()
    )
}

/// Runs until `shutdown` completes. Fails only on start-up errors (an invalid config or
/// database URL); a store that is down is waited for.
pub async fn run(
    opts: DaemonOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), crate::Error> {
    let loaded = config::load_file(&opts.config_path)?;
    for w in &loaded.warnings {
        warn!("{w}");
    }
    let mut config = loaded.config;
    let url = opts
        .database_override
        .clone()
        .unwrap_or_else(|| config.database.clone());
    let store: Arc<dyn Store> = Arc::from(store::open(&url)?);
    let leadership = Leadership::for_url(&url)?;
    let actor = daemon_actor();
    info!(%actor, database = %redact(&url), config = %opts.config_path.display(), "rollout daemon starting");

    tokio::pin!(shutdown);
    let mut backoff = Backoff::default();
    loop {
        match store.migrate().await {
            Ok(()) => break,
            Err(e) => {
                let wait = backoff.next();
                warn!(error = %e, retry_in = ?wait, "store not ready");
                tokio::select! {
                    _ = &mut shutdown => return Ok(()),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    backoff.reset();

    let (tx, mut ticks) = mpsc::channel::<()>(1);
    let mut scheduler = new_scheduler(&config.tick, tx.clone()).await?;
    let (mut analysis_jobs, mut analysis_runs) = crate::learning::schedule::Jobs::start(&config)
        .await
        .map_err(|e| crate::Error::InvalidInput(format!("scheduler: {e}")))?;
    let mut hup =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).map_err(|e| {
            crate::Error::InvalidInput(format!("cannot install the SIGHUP handler: {e}"))
        })?;
    let mut runner = Runner {
        store,
        leadership,
        actor,
        epoch: None,
        unparsable: None,
        last_rejection: None,
    };
    // The first pass runs at once rather than at the first cron tick.
    let _ = tx.try_send(());
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = hup.recv() => {
                info!("SIGHUP: reloading the configuration");
                runner.reload(&opts.config_path, &mut config, &mut scheduler, &tx).await;
                if let Err(e) = analysis_jobs.update(&config).await {
                    error!("cannot reschedule the learning analysis: {e}");
                }
            }
            Some(name) = analysis_runs.recv() => runner.learn(&config, &name).await,
            Some(()) = ticks.recv() => {
                if retry_at.is_some_and(|at| tokio::time::Instant::now() < at) {
                    debug!("backing off after a store error; tick skipped");
                    continue;
                }
                runner.reload(&opts.config_path, &mut config, &mut scheduler, &tx).await;
                if let Err(e) = analysis_jobs.update(&config).await {
                    error!("cannot reschedule the learning analysis: {e}");
                }
                match runner.tick(&config).await {
                    Ok(()) => { backoff.reset(); retry_at = None; }
                    Err(e) => {
                        let wait = backoff.next();
                        warn!(error = %e, retry_in = ?wait, "tick failed; the store will be retried");
                        retry_at = Some(tokio::time::Instant::now() + wait);
                    }
                }
            }
        }
    }
    info!("shutting down");
    let _ = scheduler.shutdown().await;
    analysis_jobs.shutdown().await;
    runner.leadership.release().await;
    Ok(())
}

struct Runner {
    store: Arc<dyn Store>,
    leadership: Leadership,
    actor: String,
    epoch: Option<i64>,
    /// The config text that failed to parse, so that it is not parsed and logged every tick.
    unparsable: Option<String>,
    /// The last incompatibility logged, so that it is logged once.
    last_rejection: Option<String>,
}

impl Runner {
    /// Re-reads the config file; a valid, compatible change replaces `config`.
    async fn reload(
        &mut self,
        path: &Path,
        config: &mut Config,
        scheduler: &mut JobScheduler,
        tx: &mpsc::Sender<()>,
    ) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                error!(
                    "cannot read {}: {e}; keeping the last good configuration",
                    path.display()
                );
                return;
            }
        };
        if self.unparsable.as_deref() == Some(text.as_str()) {
            return;
        }
        let loaded = match config::parse(&path.display().to_string(), &text) {
            Ok(l) => l,
            Err(errors) => {
                error!("invalid configuration; keeping the last good one:\n{errors}");
                self.unparsable = Some(text);
                return;
            }
        };
        let new = loaded.config;
        self.unparsable = None;
        if new == *config {
            return;
        }
        let states = match self.store.states().await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot check the new configuration against the store; keeping the old one for now");
                return;
            }
        };
        let problems = incompatibilities(&new, &states);
        if !problems.is_empty() {
            let message = problems.join("; ");
            if self.last_rejection.as_deref() != Some(message.as_str()) {
                error!("configuration change rejected; keeping the last good one: {message}");
                self.last_rejection = Some(message);
            }
            return;
        }
        self.last_rejection = None;
        for w in &loaded.warnings {
            warn!("{w}");
        }
        if new.database != config.database {
            warn!("`database` changed; restart the daemon to use the new store");
        }
        if new.tick != config.tick {
            match new_scheduler(&new.tick, tx.clone()).await {
                Ok(s) => {
                    let _ = scheduler.shutdown().await;
                    *scheduler = s;
                }
                Err(e) => error!("cannot reschedule ticks: {e}"),
            }
        }
        info!(rollouts = new.rollouts.len(), "configuration reloaded");
        *config = new;
    }

    /// The learning analysis of rollout `name`, on its own schedule; the leader's job only.
    async fn learn(&mut self, config: &Config, name: &str) {
        let Some(epoch) = self.epoch else {
            debug!(rollout = %name, "standby: the leader runs the learning analysis");
            return;
        };
        let writer = Writer {
            actor: self.actor.clone(),
            epoch: Some(epoch),
        };
        let run = crate::learning::schedule::run_scheduled(
            &*self.store,
            config,
            name,
            &writer,
            Utc::now(),
        );
        if let Err(StoreError::Fenced { epoch }) = run.await {
            warn!(epoch, "another daemon took over; stepping down");
            self.epoch = None;
            self.leadership.release().await;
        }
    }

    async fn tick(&mut self, config: &Config) -> Result<(), StoreError> {
        let now = Utc::now();
        match self.leadership.check().await? {
            LeaderCheck::Standby => {
                self.epoch = None;
                debug!("standby: another daemon leads");
                return Ok(());
            }
            LeaderCheck::Leader { fresh } => {
                if fresh || self.epoch.is_none() {
                    let epoch = self.store.new_epoch(&self.actor, now).await?;
                    info!(epoch, "became the leader");
                    self.epoch = Some(epoch);
                }
            }
        }
        let writer = Writer {
            actor: self.actor.clone(),
            epoch: self.epoch,
        };
        match engine::tick_all(&*self.store, config, &writer, now).await {
            Ok(outcomes) => {
                log_outcomes(&outcomes);
                Ok(())
            }
            Err(StoreError::Fenced { epoch }) => {
                warn!(epoch, "another daemon took over; stepping down");
                self.epoch = None;
                self.leadership.release().await;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

fn log_outcomes(outcomes: &[(String, Outcome)]) {
    for (name, o) in outcomes {
        match o {
            Outcome::Applied(a) => info!(
                rollout = %name,
                action = %a.transition.action,
                stage = a.transition.to.stage_index,
                status = %a.transition.to.status,
                flags_version = a.committed.flags_version,
                reason = %a.transition.reason,
                "transition committed"
            ),
            Outcome::Discarded(e) => warn!(rollout = %name, "decision discarded: {e}"),
            Outcome::Unchanged { .. } => debug!(rollout = %name, "unchanged"),
        }
    }
}

async fn new_scheduler(cron: &str, tx: mpsc::Sender<()>) -> Result<JobScheduler, crate::Error> {
    let fail = |e: tokio_cron_scheduler::JobSchedulerError| {
        crate::Error::InvalidInput(format!("scheduler: {e}"))
    };
    let scheduler = JobScheduler::new().await.map_err(fail)?;
    let job = Job::new_async(cron, move |_, _| {
        let tx = tx.clone();
        Box::pin(async move {
            // A full channel means a tick is already pending; ticks coalesce.
            let _ = tx.try_send(());
        })
    })
    .map_err(fail)?;
    scheduler.add(job).await.map_err(fail)?;
    scheduler.start().await.map_err(fail)?;
    Ok(scheduler)
}

/// Exponential backoff from 1 s to 60 s.
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let secs = 1u64 << self.failures.min(6);
        self.failures += 1;
        Duration::from_secs(secs.min(60))
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
