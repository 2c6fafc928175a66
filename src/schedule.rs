//! The daemon's analysis cron: one job per rollout with an `analysis:` block, each sending
//! the rollout's name when its `analysis.schedule` fires. Only the leader acts on them.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::config::Config;

/// The running analysis jobs and the schedules they were built from.
pub struct Jobs {
    scheduler: Option<JobScheduler>,
    schedules: BTreeMap<String, String>,
    tx: mpsc::Sender<String>,
}

fn schedules(config: &Config) -> BTreeMap<String, String> {
    config
        .rollouts
        .iter()
        .filter_map(|r| {
            r.analysis
                .as_ref()
                .map(|a| (r.name.to_string(), a.schedule.clone()))
        })
        .collect()
}

async fn build(
    schedules: &BTreeMap<String, String>,
    tx: &mpsc::Sender<String>,
) -> Result<Option<JobScheduler>, JobSchedulerError> {
    if schedules.is_empty() {
        return Ok(None);
    }
    let scheduler = JobScheduler::new().await?;
    for (name, cron) in schedules {
        let (tx, name) = (tx.clone(), name.clone());
        scheduler
            .add(Job::new_async(cron.as_str(), move |_, _| {
                let (tx, name) = (tx.clone(), name.clone());
                // A full channel means runs are pending already; this one is dropped.
                Box::pin(async move {
                    let _ = tx.try_send(name);
                })
            })?)
            .await?;
    }
    scheduler.start().await?;
    Ok(Some(scheduler))
}

impl Jobs {
    /// Starts the jobs of `config`; their firings arrive on the returned receiver.
    pub async fn start(
        config: &Config,
    ) -> Result<(Jobs, mpsc::Receiver<String>), JobSchedulerError> {
        let (tx, rx) = mpsc::channel(16);
        let schedules = schedules(config);
        let scheduler = build(&schedules, &tx).await?;
        Ok((
            Jobs {
                scheduler,
                schedules,
                tx,
            },
            rx,
        ))
    }

    /// Rebuilds the jobs if `config`'s analysis schedules differ from the running ones.
    pub async fn update(&mut self, config: &Config) -> Result<(), JobSchedulerError> {
        let wanted = schedules(config);
        if wanted == self.schedules {
            return Ok(());
        }
        let scheduler = build(&wanted, &self.tx).await?;
        self.shutdown().await;
        self.scheduler = scheduler;
        self.schedules = wanted;
        Ok(())
    }

    pub async fn shutdown(&mut self) {
        if let Some(mut s) = self.scheduler.take() {
            let _ = s.shutdown().await;
        }
    }
}

/// One scheduled pass for the rollout `name` of `config`, logged. Only a fenced write is
/// returned (the caller steps down); other failures are logged and wait for the next firing.
pub async fn run_scheduled(
    store: &dyn crate::store::Store,
    config: &Config,
    name: &str,
    writer: &crate::store::Writer,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), crate::store::StoreError> {
    let Some(rollout) = config.rollout(name) else {
        return Ok(());
    };
    match crate::learning::run(store, rollout, writer, now).await {
        Ok(r) => tracing::info!(
            rollout = %name,
            pairs = r.report.pairs,
            fallback = r.report.weights.fallback,
            publication = r.publication,
            detail = %r.detail,
            "learning analysis ran"
        ),
        Err(rollout_app::Error::Store(e @ crate::store::StoreError::Fenced { .. })) => {
            return Err(e)
        }
        Err(e) => tracing::warn!(rollout = %name, error = %e, "learning analysis failed"),
    }
    Ok(())
}
