//! The dashboard's reads and its dry run: a rollout's history and time series by page, and
//! what a manual action would change. Every read is of stored rows: the looks are kept by
//! the judgments ([`crate::experiment::signals`]), never computed here.

use rollout_core::controller::ManualAction;
use rollout_core::plan::{plan, PlanStep};
use rollout_core::preview::{preview, ActionPreview};
use rollout_core::records::EventRow;
use rollout_core::series::{
    guardrail_lines, AnalysisSnapshot, GuardrailLine, GuardrailPoint, Page,
};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::Service;

/// A page of a rollout's history, newest first.
#[derive(Debug, Serialize)]
pub struct HistoryPage {
    pub rollout: String,
    pub events: Vec<EventRow>,
    /// The `before` of the next (older) page; `None` at the end.
    pub next_before: Option<i64>,
}

/// A rollout's series: its stages, its guardrails' lines, and a page of each series,
/// newest first.
#[derive(Debug, Serialize)]
pub struct Timeseries {
    pub rollout: String,
    pub stages: Vec<PlanStep>,
    pub guardrails: Vec<GuardrailLine>,
    pub guardrail_points: Vec<GuardrailPoint>,
    pub guardrail_next_before: Option<i64>,
    /// One stored analysis per look the design took ([`rollout_core::series`]).
    pub analyses: Vec<AnalysisSnapshot>,
    pub analysis_next_before: Option<i64>,
}

impl Service {
    /// A rollout no longer configured keeps its rows; a name with neither is unknown.
    fn known_or_rows(&self, name: &str, has_rows: bool) -> Result<()> {
        if !has_rows && self.config().rollout(name).is_none() {
            return Err(Error::UnknownRollout(name.to_owned()));
        }
        Ok(())
    }

    /// A page of `name`'s history, newest first.
    pub async fn history_page(&self, name: &str, page: Page) -> Result<HistoryPage> {
        let events = self
            .store()
            .history_page(name, page.before, i64::from(page.limit))
            .await?;
        self.known_or_rows(name, !events.is_empty())?;
        Ok(HistoryPage {
            rollout: name.to_owned(),
            next_before: page.next(events.len(), events.last().map(|e| e.id)),
            events,
        })
    }

    /// A page of each of `name`'s series (the guardrail points and the analysis looks).
    pub async fn timeseries(
        &self,
        name: &str,
        analyses: Page,
        guardrails: Page,
    ) -> Result<Timeseries> {
        let r = self.rollout(name)?;
        let points = self
            .store()
            .guardrail_points(name, guardrails.before, i64::from(guardrails.limit))
            .await?;
        let looks = self
            .store()
            .analysis_snapshots(name, analyses.before, i64::from(analyses.limit))
            .await?;
        Ok(Timeseries {
            rollout: name.to_owned(),
            stages: plan(&r).stages,
            guardrails: guardrail_lines(&r),
            guardrail_next_before: guardrails.next(points.len(), points.last().map(|p| p.id)),
            guardrail_points: points,
            analysis_next_before: analyses.next(looks.len(), looks.last().map(|s| s.id)),
            analyses: looks,
        })
    }

    /// What `action` would do to `name` now (a dry run: nothing is written).
    pub async fn preview(
        &self,
        name: &str,
        action: ManualAction,
        reason: &str,
    ) -> Result<ActionPreview> {
        let r = self.rollout(name)?;
        let state = self.store().state(name).await?;
        let stored = self.store().rollout_flags(name).await?;
        Ok(preview(
            &r,
            state.as_ref(),
            &stored,
            action,
            reason,
            self.now(),
        ))
    }
}
