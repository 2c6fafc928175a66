//! Ingest: A/B observations (CSV or JSON) and learning records (JSONL or JSON).

use chrono::{DateTime, Utc};
use rollout_core::config::Rollout;
use rollout_core::experiment::{
    admit, known_metrics, IngestReport, InputErrors, Observation, ObservationInput, RowError,
};
use rollout_core::learning::{LearningIngest, Rows};
use rollout_core::shadow::{Rejection, DUPLICATE};
use rollout_store::{Store, StoreError, Writer};
use serde::Serialize;

use crate::engine::{Applied, Outcome};
use crate::error::Result;
use crate::Service;

/// Who judges newly ingested observations, after their commit.
#[derive(Debug, Clone)]
pub enum Judge {
    /// Nobody here, now: the caller schedules a judgment ([`crate::Judgments`], the
    /// leading daemon), or the leader notices the rows (`NOTIFY`, its poll of new
    /// observations, its next tick).
    Nobody,
    /// This writer, at once: the leading daemon with its epoch, or a person.
    As(Writer),
    /// This writer (a person at the CLI), unless a daemon holds a live leadership lease:
    /// that daemon notices the rows and judges them ([`ObservationIngest::left_to`]).
    UnlessADaemonLeads(Writer),
}

/// What an ingest stored, and what judging the new data did.
#[derive(Debug, Serialize)]
pub struct ObservationIngest {
    #[serde(flatten)]
    pub report: IngestReport,
    /// The reason, if the new data rolled the rollout back at once.
    pub rolled_back: Option<String>,
    /// The rollback, for logs and the change feed.
    #[serde(skip)]
    pub applied: Option<Applied>,
    /// The daemon that judges the new data, when this ingest left it to the leader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_to: Option<String>,
    /// Judging failed after the commit: the rows are stored; the next tick judges them.
    #[serde(skip)]
    pub judge_error: Option<StoreError>,
}

impl Service {
    /// Checks and places `inputs` for rollout `name` (see [`admit`]: every row refused is
    /// reported under `source`, and then nothing is written), stores them in one transaction
    /// (re-delivered event ids are skipped), then judges the new data as `judge` says. Once the
    /// rows are committed the ingest has succeeded: a failed judgement is reported beside
    /// it, never as its failure (a retry would store nothing new).
    pub async fn ingest_observations(
        &self,
        name: &str,
        source: &str,
        inputs: Vec<ObservationInput>,
        judge: Judge,
    ) -> Result<ObservationIngest> {
        let r = self.rollout(name)?;
        let now = self.now();
        let rows = place(self.store(), &r, source, inputs, now).await?;
        let report = self.store().ingest(name, &rows, now).await?;
        let mut out = ObservationIngest {
            report,
            rolled_back: None,
            applied: None,
            left_to: None,
            judge_error: None,
        };
        if out.report.inserted == 0 {
            return Ok(out);
        }
        let writer = match judge {
            Judge::Nobody => return Ok(out),
            Judge::As(writer) => writer,
            Judge::UnlessADaemonLeads(writer) => match self.store().leader().await {
                Ok(l) => match l.daemon_at(self.now()) {
                    Some(daemon) => {
                        out.left_to = Some(daemon.to_owned());
                        return Ok(out);
                    }
                    None => writer,
                },
                // Judged here, then: a rollback is never left to chance.
                Err(_) => writer,
            },
        };
        match crate::engine::on_new_data(self.store(), &r, &writer, self.now()).await {
            Ok(Outcome::Applied(a)) => {
                out.rolled_back = Some(a.transition.reason.clone());
                out.applied = Some(*a);
            }
            Ok(_) => {}
            Err(e) => out.judge_error = Some(e),
        }
        Ok(out)
    }

    /// Stores learning records in one transaction; rows already stored are skipped (and
    /// counted as rejected duplicates for the shadow report).
    pub async fn ingest_learning(&self, rows: &Rows) -> Result<LearningIngest> {
        let report = self.store().ingest_learning(rows).await?;
        if report.duplicates > 0 {
            let rejection = Rejection {
                kind: rows.kind().as_str().to_owned(),
                at: self.now(),
                rows: report.duplicates,
                reason: DUPLICATE.to_owned(),
            };
            if let Err(e) = self.store().record_rejections(&[rejection]).await {
                tracing::warn!(error = %e, "recording duplicate learning rows failed");
            }
        }
        Ok(report)
    }
}

/// Every input admitted by [`admit`] and placed in its variant and stage entry, or every
/// refusal (reported under `source`).
pub async fn place(
    store: &dyn Store,
    r: &Rollout,
    source: &str,
    inputs: Vec<ObservationInput>,
    now: DateTime<Utc>,
) -> Result<Vec<Observation>> {
    let Some(earliest) = inputs.iter().map(|i| i.observed_at).min() else {
        return Ok(Vec::new());
    };
    let state = store.state(r.name.as_str()).await?;
    let timeline = crate::timeline::since(store, r.name.as_str(), state.as_ref(), earliest).await?;
    let known = known_metrics(r);
    let mut rows = Vec::with_capacity(inputs.len());
    let mut errors = Vec::new();
    for input in inputs {
        let line = input.line;
        match admit(r, &known, &timeline, input, now) {
            Ok(o) => rows.push(o),
            Err(message) => errors.push(RowError { line, message }),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(InputErrors {
            source_name: source.to_owned(),
            errors,
        }
        .into())
    }
}

impl Service {
    /// `rollout compact`: drops the raw observations of `name`'s ended stages observed more
    /// than `keep` ago (default and minimum: its longest guardrail window).
    pub async fn compact(
        &self,
        name: &str,
        keep: Option<chrono::Duration>,
    ) -> Result<crate::compaction::Compaction> {
        let r = self.rollout(name)?;
        let keep = keep.unwrap_or_else(chrono::Duration::zero);
        Ok(crate::compaction::compact(self.store(), &r, keep, self.now()).await?)
    }
}
