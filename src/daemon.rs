//! `rollout daemon`: reloads the config, keeps leadership and ticks on the cron schedule.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};
use tracing::{debug, error, info, info_span, warn, Instrument};

use crate::config::{self, Config};
use crate::controller::incompatibilities;
use crate::engine::{self, Outcome};
use crate::store::{self, DatabaseUrl, Store, StoreError, Writer};

pub use crate::role::Role;

mod background;
mod lease;

use background::{spawn_background, spawn_listener};

pub struct DaemonOptions {
    pub config_path: PathBuf,
    /// `ROLLOUT_DATABASE_URL`, which overrides the config's `database`.
    pub database_override: Option<String>,
    /// `--listen`, which overrides the config's `listen` (the HTTP API's address).
    pub listen_override: Option<std::net::SocketAddr>,
    /// How long a leadership lease lasts (`--lease`); renewed every third of it. A standby
    /// takes over within two leases of the leader freezing or losing the store.
    pub lease: std::time::Duration,
    /// The HTTP API's timeouts, caps and read pool (`--http-*`).
    pub http: crate::http::Limits,
}

/// Records the configuration the daemon acts on, so that manual actions can use it when the
/// file is broken later. Best effort: a failure is logged, never fatal.
async fn record_config(store: &dyn Store, text: &str, path: &Path, actor: &str) {
    let c = rollout_core::records::RecordedConfig::new(
        text,
        path.display().to_string(),
        actor,
        Utc::now(),
    );
    if let Err(e) = store.record_config(&c).await {
        warn!(error = %e, "could not record the configuration in the store");
    }
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
    let text = std::fs::read_to_string(&opts.config_path).ok();
    let loaded = config::load_file(&opts.config_path)?;
    for w in &loaded.warnings {
        warn!("{w}");
    }
    let mut config = loaded.config;
    // A relative sqlite:// path belongs to the configuration file's folder.
    let config_dir = std::path::absolute(&opts.config_path)
        .ok()
        .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    let url = opts
        .database_override
        .clone()
        .unwrap_or_else(|| rollout_core::resolve_against(&config.database, &config_dir));
    let url = DatabaseUrl::parse(&url).map_err(StoreError::from)?;
    let store: Arc<dyn Store> = Arc::from(store::open_url(&url)?);
    let actor = daemon_actor();
    info!(%actor, database = %url, config = %opts.config_path.display(), "rollout daemon starting");

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
    if let Some(text) = &text {
        record_config(&*store, text, &opts.config_path, &actor).await;
    }

    let role = Arc::new(Role::default());
    crate::http::metrics::install();
    let shared = Arc::new(arc_swap::ArcSwap::from_pointee(config.clone()));
    let background = spawn_background(store.clone(), role.clone(), shared.clone());
    let http = match opts.listen_override.or(config.listen) {
        Some(addr) => {
            let api = crate::http::Options {
                store: store.clone(),
                database_url: url.expose().to_owned(),
                config: shared.clone(),
                role: role.clone(),
                actor: actor.clone(),
                admin_token: crate::http::token_from_env().map_err(crate::Error::invalid_input)?,
                ingest_token: crate::http::ingest_token_from_env()
                    .map_err(crate::Error::invalid_input)?,
                ingest_slots: 4,
                judgments: None,
                limits: opts.http.clone(),
                read_store: None,
            };
            if api.admin_token.is_none() {
                warn!("no ROLLOUT_ADMIN_TOKEN or ROLLOUT_ADMIN_TOKEN_FILE: the admin endpoints answer 503");
            }
            if api.ingest_token.is_none() {
                let message = "no ROLLOUT_INGEST_TOKEN or ROLLOUT_INGEST_TOKEN_FILE: ingest (/v1/observations, /learning/collect/*) is accepted from this host only";
                if addr.ip().is_loopback() {
                    info!("{message}");
                } else {
                    warn!("{message}");
                }
            }
            let running = crate::http::start(addr, api)
                .await
                .map_err(|e| crate::Error::Runtime(format!("cannot serve HTTP on {addr}: {e}")))?;
            let bound = running.address;
            info!(address = %bound, "HTTP API listening on http://{bound}");
            Some(running)
        }
        None => None,
    };
    let poke = || {
        if let Some(h) = &http {
            h.poke();
        }
    };
    // New observations are judged off this loop: a judgment never delays a renewal or a tick.
    let judgments = match &http {
        Some(h) => h.judgments(),
        None => crate::judge::leader(
            rollout_app::Service::new(
                store.clone(),
                shared.clone(),
                Arc::new(rollout_app::SystemClock),
            ),
            role.clone(),
            actor.clone(),
            || {},
        ),
    };
    let listener = spawn_listener(&url, judgments.clone(), role.clone(), shared.clone());
    let poll = crate::judge::start_poll(
        store.clone(),
        judgments,
        role.clone(),
        crate::judge::poll_interval(url.is_postgres()),
    )
    .await;
    let (tx, mut ticks) = mpsc::channel::<()>(1);
    let mut scheduler = new_scheduler(&config.tick, tx.clone()).await?;
    let (mut analysis_jobs, mut analysis_runs) = crate::schedule::Jobs::start(&config)
        .await
        .map_err(|e| crate::Error::Runtime(format!("scheduler: {e}")))?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| crate::Error::Runtime(format!("cannot install the SIGHUP handler: {e}")))?;
    let mut runner = Runner {
        store,
        lease: opts.lease,
        lease_until: None,
        actor,
        epoch: None,
        parsed: crate::parsed::ParsedConfig::default(),
        last_rejection: None,
        standby: false,
        unreachable: false,
        role,
    };
    // The first pass runs at once rather than at the first cron tick, after a first claim
    // of the lease.
    let mut renewals =
        tokio::time::interval((opts.lease / 3).max(std::time::Duration::from_millis(100)));
    renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renewals.tick().await;
    runner.renew().await;
    let _ = tx.try_send(());
    let mut retry_at: Option<tokio::time::Instant> = None;
    // Whether the last pass failed because the store did not answer (not for another
    // reason, which a store that answers a ping does not cure).
    let mut store_down = false;
    // While backing off after a store error, a cheap look every second: the passes resume
    // within about a second of the store answering, whatever the backoff had grown to.
    let mut probes = tokio::time::interval(STORE_PROBE);
    probes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = probes.tick(), if (retry_at.is_some() && store_down) || runner.unreachable => {
                let ping = tokio::time::timeout(STORE_PROBE, runner.store.ping());
                if matches!(ping.await, Ok(Ok(()))) {
                    info!("the store answers again; resuming");
                    backoff.reset();
                    retry_at = None;
                    runner.renew().await;
                    let _ = tx.try_send(());
                }
            }
            _ = renewals.tick() => {
                if runner.renew().await && retry_at.is_some() {
                    // The store answers again: no need to wait out the backoff.
                    backoff.reset();
                    retry_at = None;
                    let _ = tx.try_send(());
                }
            }
            _ = hup.recv() => {
                info!("SIGHUP: reloading the configuration");
                runner.reload(&opts.config_path, &mut config, &mut scheduler, &tx).await;
                if let Err(e) = analysis_jobs.update(&config).await {
                    error!("cannot reschedule the learning analysis: {e}");
                }
                publish(&shared, &config);
            }
            Some(name) = analysis_runs.recv() => {
                runner.learn(&config, &name).instrument(info_span!("analysis", rollout = %name)).await;
                poke();
            }
            Some(()) = ticks.recv() => {
                if retry_at.is_some_and(|at| tokio::time::Instant::now() < at) {
                    debug!("backing off after a store error; tick skipped");
                    continue;
                }
                runner.reload(&opts.config_path, &mut config, &mut scheduler, &tx).await;
                if let Err(e) = analysis_jobs.update(&config).await {
                    error!("cannot reschedule the learning analysis: {e}");
                }
                publish(&shared, &config);
                let result = runner.tick(&config).instrument(info_span!("tick")).await;
                poke();
                runner.role.set_failing(result.as_ref().err().map(|e| e.to_string()));
                match result {
                    Ok(()) => { backoff.reset(); retry_at = None; }
                    Err(e) => {
                        let wait = backoff.next();
                        store_down = matches!(e, StoreError::Unavailable(_));
                        warn!(error = %e, retry_in = ?wait, "tick failed; the store will be retried");
                        retry_at = Some(tokio::time::Instant::now() + wait);
                    }
                }
            }
        }
    }
    info!("shutting down");
    if let Some(h) = http {
        h.stop().await;
    }
    background.abort();
    poll.abort();
    if let Some(l) = listener {
        l.abort();
    }
    let _ = scheduler.shutdown().await;
    analysis_jobs.shutdown().await;
    if let Err(e) = runner.store.release_lease(&runner.actor).await {
        warn!(error = %e, "could not release the leadership lease; a standby takes over when it expires");
    }
    Ok(())
}

struct Runner {
    store: Arc<dyn Store>,
    lease: std::time::Duration,
    /// Until when this process's last renewed lease runs (it stops acting after that, even
    /// if it cannot reach the store to learn that someone took over).
    lease_until: Option<chrono::DateTime<Utc>>,
    actor: String,
    epoch: Option<i64>,
    /// The config text last parsed, and what it parsed to: a text is parsed (and an
    /// invalid one logged) once, off the tick path.
    parsed: crate::parsed::ParsedConfig,
    /// The last incompatibility logged, so that it is logged once.
    last_rejection: Option<String>,
    /// Whether this process stands by (announced once, when it starts to).
    standby: bool,
    /// Whether the last lease renewal failed to reach the store.
    unreachable: bool,
    /// Whether this process leads (read by the webhook sender and the HTTP API).
    role: Arc<Role>,
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
        let text = match tokio::fs::read_to_string(path).await {
            Ok(t) => t,
            Err(e) => {
                error!(
                    "cannot read {}: {e}; keeping the last good configuration",
                    path.display()
                );
                return;
            }
        };
        // Parsed once per text, on a blocking thread: never on the tick path.
        let (parsed, fresh) = self.parsed.parse(&path.display().to_string(), &text).await;
        let loaded = match parsed {
            Ok(l) => l,
            Err(errors) => {
                if fresh {
                    error!("invalid configuration; keeping the last good one:\n{errors}");
                }
                return;
            }
        };
        let new = loaded.config;
        if new == *config {
            return;
        }
        let pending_record = text.clone();
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
        let changes = config::changes(config, &new);
        info!(
            rollouts = new.rollouts.len(),
            "configuration reloaded: {}",
            changes.join("; ")
        );
        *config = new;
        record_config(&*self.store, &pending_record, path, &self.actor).await;
    }

    /// The learning analysis of rollout `name`, on its own schedule; the leader's job only.
    async fn learn(&mut self, config: &Config, name: &str) {
        let Some(writer) = self.writer() else {
            debug!(rollout = %name, "standby: the leader runs the learning analysis");
            return;
        };
        let run = crate::schedule::run_scheduled(&*self.store, config, name, &writer, Utc::now());
        if let Err(e) = run.await {
            if let Err(e) = self.fenced_is_fine(e).await {
                warn!(error = %e, rollout = %name, "learning analysis failed");
            }
        }
    }

    /// This process's writer while it leads.
    fn writer(&self) -> Option<Writer> {
        self.epoch.map(|epoch| Writer {
            actor: self.actor.clone(),
            epoch: Some(epoch),
        })
    }

    /// A fenced write means another daemon took over: step down, which is not an error.
    async fn fenced_is_fine(&mut self, e: StoreError) -> Result<(), StoreError> {
        match e {
            StoreError::Fenced { epoch } => {
                warn!(epoch, "another daemon took over; stepping down");
                self.step_down().await;
                Ok(())
            }
            e => Err(e),
        }
    }

    async fn step_down(&mut self) {
        self.epoch = None;
        self.lease_until = None;
        self.role.set(None);
    }

    async fn tick(&mut self, config: &Config) -> Result<(), StoreError> {
        let now = Utc::now();
        if self.epoch.is_some() && self.lease_until.is_none_or(|t| t <= now) {
            // Frozen or cut off past the lease: someone may lead now. Stand by until a
            // renewal says otherwise.
            warn!("lost the leadership: the lease expired before it was renewed; standing by");
            self.step_down().await;
            self.standby = true;
        }
        if self.epoch.is_none() {
            debug!("standby: another daemon leads");
            return Ok(());
        }
        let writer = Writer {
            actor: self.actor.clone(),
            epoch: self.epoch,
        };
        // The pass may not outlive the lease: past it another daemon may lead, and a pass
        // stuck on a cut-off connection must not keep this one from noticing.
        // (Its writes are fenced anyway, and the HTTP API and judgments stop acting as the
        // leader when the lease ends, [`Role::epoch`]; the bound only keeps the loop alive.)
        let remaining = self
            .lease_until
            .and_then(|t| (t - now).to_std().ok())
            .unwrap_or_default()
            + self.lease;
        let pass = async {
            let outcomes = engine::tick_all(&*self.store, config, &writer, now).await?;
            // Liveness for `status`: this pass, and how often this daemon ticks.
            if let Some(epoch) = writer.epoch {
                let interval = config::cron::interval_after(&config.tick, now);
                self.store
                    .record_tick(epoch, now, interval.map(|i| i.as_secs()))
                    .await?;
            }
            Ok::<_, StoreError>(outcomes)
        };
        let Ok(passed) = tokio::time::timeout(remaining, pass).await else {
            warn!(lease = ?self.lease, "lost the leadership: the evaluation pass ran a lease past the end of the lease; abandoned, standing by");
            self.step_down().await;
            self.standby = true;
            return Ok(());
        };
        match passed {
            Ok(outcomes) => {
                log_outcomes(&outcomes);
                crate::http::metrics::tick(&outcomes);
                Ok(())
            }
            Err(e) => self.fenced_is_fine(e).await,
        }
    }
}

/// Hands a reloaded configuration to the HTTP API.
fn publish(shared: &arc_swap::ArcSwap<Config>, config: &Config) {
    if **shared.load() != *config {
        shared.store(Arc::new(config.clone()));
    }
}

/// What a pass did that the engine did not log already (it logs every commit).
fn log_outcomes(outcomes: &[(String, Outcome)]) {
    for (name, o) in outcomes {
        match o {
            Outcome::Applied(_) => {}
            Outcome::HeldPending { reason } => {
                debug!(rollout = %name, %reason, "pending: not started")
            }
            Outcome::Discarded(e) => warn!(rollout = %name, "decision discarded: {e}"),
            // Logged by the engine, with the hold it committed.
            Outcome::Failed { .. } => {}
            Outcome::Unchanged { .. } => debug!(rollout = %name, "unchanged"),
        }
    }
}

async fn new_scheduler(cron: &str, tx: mpsc::Sender<()>) -> Result<JobScheduler, crate::Error> {
    let fail = |e: tokio_cron_scheduler::JobSchedulerError| {
        crate::Error::Runtime(format!("scheduler: {e}"))
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

/// How often a daemon backing off after a store error looks whether it answers again.
const STORE_PROBE: Duration = Duration::from_secs(1);

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
