//! Reading where rollouts are: status, one rollout's view, history, flags, assignment.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rollout_core::config::Rollout;
use rollout_core::controller::RolloutState;
use rollout_core::records::{EventRow, FlagTable, GuardrailReading, PendingHold};
use rollout_core::status::{
    in_ab_stage, liveness, rollout_status, unit_assignment, Liveness, Observed, RolloutStatus,
    UnitAssignment,
};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::Service;

/// One rollout: its position, the latest A/B analysis a judgment computed (with its
/// `computed_at`; `None` before the first) and the last guardrail readings.
#[derive(Debug, Serialize)]
pub struct RolloutView {
    #[serde(flatten)]
    pub status: RolloutStatus,
    pub analysis: Option<serde_json::Value>,
    pub guardrails: Vec<GuardrailReading>,
}

/// One row of the dashboard's overview: a rollout's status and the latest judgment's
/// verdict and sample-ratio state (stored; `None` before the first judgment).
#[derive(Debug, Serialize)]
pub struct OverviewRow {
    #[serde(flatten)]
    pub status: RolloutStatus,
    pub verdict: Option<String>,
    pub srm_mismatch: Option<bool>,
    pub analysis_computed_at: Option<DateTime<Utc>>,
}

/// A page of the overview, in configuration order.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub rollouts: Vec<OverviewRow>,
    /// How many rollouts are configured.
    pub total: usize,
    /// The `offset` of the next page; `None` at the end.
    pub next_offset: Option<usize>,
}

/// What every rollout's status shares: the leader's liveness and the pending holds.
struct Shared {
    liveness: Liveness,
    holds: BTreeMap<String, PendingHold>,
}

impl Service {
    /// Every configured rollout's status, in configuration order.
    pub async fn statuses(&self) -> Result<Vec<RolloutStatus>> {
        let all = self.config().rollouts.len();
        Ok(self.statuses_of(0, all).await?.0)
    }

    /// The statuses of the rollouts `offset..offset + limit` of the configuration, and how
    /// many there are. The states, the liveness and the holds are read once for all.
    async fn statuses_of(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<RolloutStatus>, usize)> {
        let config = self.config();
        let states: BTreeMap<_, _> = self
            .store()
            .states()
            .await?
            .into_iter()
            .map(|s| (s.rollout.clone(), s))
            .collect();
        let now = self.now();
        let shared = self.shared_status(now).await?;
        let mut out = Vec::with_capacity(limit.min(config.rollouts.len()));
        for r in config.rollouts.iter().skip(offset).take(limit) {
            let state = states.get(r.name.as_str());
            out.push(self.assemble(r, state, &shared, now).await?);
        }
        Ok((out, config.rollouts.len()))
    }

    /// A page of the dashboard's overview: `limit` rollouts from `offset`, each with its
    /// latest judgment's verdict, in a fixed number of reads per rollout (nothing is
    /// computed; the analyses are read once for all).
    pub async fn overview(&self, offset: usize, limit: usize) -> Result<Overview> {
        let (statuses, total) = self.statuses_of(offset, limit).await?;
        let mut latest = self.store().latest_analyses().await?;
        let rollouts = statuses
            .into_iter()
            .map(|status| {
                let a = latest.remove(&status.name);
                OverviewRow {
                    verdict: a.as_ref().map(|a| a.verdict.clone()),
                    srm_mismatch: a
                        .as_ref()
                        .and_then(|a| a.analysis["srm"]["mismatch"].as_bool()),
                    analysis_computed_at: a.map(|a| a.computed_at),
                    status,
                }
            })
            .collect();
        let end = offset.saturating_add(limit);
        Ok(Overview {
            rollouts,
            total,
            next_offset: (end < total).then_some(end),
        })
    }

    /// One rollout's status.
    pub async fn status(&self, name: &str) -> Result<RolloutStatus> {
        let r = self.rollout(name)?;
        let state = self.store().state(name).await?;
        let now = self.now();
        let shared = self.shared_status(now).await?;
        self.assemble(&r, state.as_ref(), &shared, now).await
    }

    /// One rollout with its latest analysis and guardrail readings. Reads only what is
    /// stored: the analysis is the latest judgment's, never computed here (an unauthenticated
    /// read must not cost what a judgment costs).
    pub async fn rollout_view(&self, name: &str) -> Result<RolloutView> {
        let r = self.rollout(name)?;
        let state = self.store().state(name).await?;
        let analysis = self.store().latest_analysis(name).await?.map(|l| l.shown());
        let guardrails = self.store().guardrail_status(name).await?;
        let now = self.now();
        let shared = self.shared_status(now).await?;
        Ok(RolloutView {
            status: self.assemble(&r, state.as_ref(), &shared, now).await?,
            analysis,
            guardrails,
        })
    }

    /// The status of `r` in `state` right after an action: like [`Service::status`], but
    /// a failing read leaves out what it would have added (the liveness is then unknown)
    /// instead of failing the action's answer.
    pub(crate) async fn status_after_action(
        &self,
        r: &Rollout,
        state: Option<&RolloutState>,
    ) -> RolloutStatus {
        let now = self.now();
        let full = async {
            let shared = self.shared_status(now).await?;
            self.assemble(r, state, &shared, now).await
        };
        match full.await {
            Ok(status) => status,
            Err(_) => rollout_status(r, state, &Observed::default(), now),
        }
    }

    async fn shared_status(&self, now: DateTime<Utc>) -> Result<Shared> {
        let leader = self.store().leader().await?;
        let holds = self
            .store()
            .pending_holds()
            .await?
            .into_iter()
            .map(|h| (h.rollout.clone(), h))
            .collect();
        Ok(Shared {
            liveness: liveness(&leader, &self.config().tick, now),
            holds,
        })
    }

    /// `r`'s status: its state and what the store holds about it (guardrail readings, the
    /// A/B stage's unit counts, a pending hold).
    async fn assemble(
        &self,
        r: &Rollout,
        state: Option<&RolloutState>,
        shared: &Shared,
        now: DateTime<Utc>,
    ) -> Result<RolloutStatus> {
        let name = r.name.as_str();
        let readings = if r.guardrails.is_empty() {
            Vec::new()
        } else {
            self.store().guardrail_status(name).await?
        };
        let units = match state.filter(|_| in_ab_stage(r, state)) {
            Some(s) => {
                let entry = rollout_core::experiment::StageEntry {
                    stage: s.stage_index,
                    entered_at: s.stage_entered_at,
                };
                Some(self.store().exposure(name, entry).await?.units)
            }
            None => None,
        };
        let observed = Observed {
            liveness: shared.liveness.clone(),
            hold: shared.holds.get(name),
            readings: &readings,
            units,
        };
        Ok(rollout_status(r, state, &observed, now))
    }

    /// The history of a rollout, oldest first. A rollout no longer configured keeps its
    /// history; a name with neither is unknown.
    pub async fn history(&self, name: &str) -> Result<Vec<EventRow>> {
        let rows = self.store().history(name).await?;
        if rows.is_empty() && self.config().rollout(name).is_none() {
            return Err(Error::UnknownRollout(name.to_owned()));
        }
        Ok(rows)
    }

    /// The whole flags table, read in one snapshot.
    pub async fn flags(&self) -> Result<FlagTable> {
        Ok(self.store().flags().await?)
    }

    /// Where the assignment rule puts each unit, from the rollout's stored flags.
    pub async fn assign(&self, name: &str, units: &[String]) -> Result<Vec<UnitAssignment>> {
        let r = self.rollout(name)?;
        let flags = self.store().rollout_flags(name).await?;
        Ok(units
            .iter()
            .map(|u| unit_assignment(&r, &flags, u))
            .collect())
    }
}

/// What the metrics endpoint exports about one rollout.
#[derive(Debug)]
pub struct RolloutGauges {
    pub rollout: String,
    pub guardrails: Vec<GuardrailReading>,
    /// The latest judgment's A/B analysis (as JSON), for a rollout in its A/B stage only.
    pub analysis: Option<serde_json::Value>,
}

impl Service {
    /// The table-wide flags version.
    pub async fn flags_version(&self) -> Result<i64> {
        Ok(self.store().flags_version().await?)
    }

    /// Committed flag changes after `version`, oldest first (at most `limit` history rows).
    pub async fn flag_changes_since(
        &self,
        version: i64,
        limit: i64,
    ) -> Result<Vec<rollout_core::records::FlagChange>> {
        Ok(self.store().flag_changes_since(version, limit).await?)
    }

    /// The leader row: who leads, under which epoch, until when (a round trip to the store).
    pub async fn leader(&self) -> Result<rollout_core::records::LeaderRecord> {
        Ok(self.store().leader().await?)
    }

    /// A round trip to the store.
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store().ping().await?)
    }

    /// Per rollout: the last guardrail readings and, in an A/B stage, the latest judgment's
    /// analysis (never computed here). A rollout whose store reads fail is left out
    /// (metrics are best effort).
    pub async fn gauges(&self) -> Vec<RolloutGauges> {
        let config = self.config();
        let mut latest = self.store().latest_analyses().await.unwrap_or_default();
        let mut out = Vec::new();
        for r in &config.rollouts {
            let name = r.name.as_str();
            let guardrails = self
                .store()
                .guardrail_status(name)
                .await
                .unwrap_or_default();
            let Ok(state) = self.store().state(name).await else {
                continue;
            };
            let in_ab = state.as_ref().is_some_and(|st| {
                matches!(
                    r.stages.get(st.stage_index).map(|x| &x.kind),
                    Some(rollout_core::config::StageKind::AbTest { .. })
                )
            });
            let analysis = latest.remove(name).filter(|_| in_ab).map(|l| l.analysis);
            out.push(RolloutGauges {
                rollout: name.to_owned(),
                guardrails,
                analysis,
            });
        }
        out
    }
}

impl Service {
    /// Records the configuration text the service acts on (a no-op when the same text is
    /// recorded already), so that manual actions work from the store when the file breaks.
    pub async fn record_config(&self, content: &str, source: &str, actor: &str) -> Result<bool> {
        let c = rollout_core::records::RecordedConfig::new(content, source, actor, self.now());
        Ok(self.store().record_config(&c).await?)
    }
}
