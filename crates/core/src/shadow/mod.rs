//! What a shadow stage measures and whether the A/B test may start (the plan's
//! `ShadowModeTester`): learning records collected per kind and rejected ones, analysis runs
//! and their outcome, errors reported by services, daily and in total; the counterfactual
//! of the learned weights; and the exit criteria. Pure: the store's rows come in as values,
//! the window and `now` as arguments.

pub mod counterfactual;
mod criteria;
pub mod errors;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::config::ShadowSettings;
use crate::learning::Kind;
use crate::weights::Weights;

pub use counterfactual::{
    compare, Counterfactual, CounterfactualDay, CounterfactualStatus, DatedPair,
};
pub use criteria::{criteria, unmet_reason, Criterion};
pub use errors::{ServiceError, ANALYSIS_ERROR};

/// Learning rows refused at ingest (bad input, or already stored), with the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub rows: u64,
    pub reason: String,
}

/// The reason recorded for rows skipped because their (symbol, timestamp) was stored.
pub const DUPLICATE: &str = "duplicate: (symbol, timestamp) already stored";

/// One learning analysis run (a weights-history row): `fallback` when it fell back to the
/// conservative weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AnalysisRun {
    pub at: DateTime<Utc>,
    pub fallback: bool,
}

/// The stored data of a shadow window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShadowInputs {
    /// Each learning record of the window, by its own timestamp (discovery and thesis
    /// times, a trade's entry).
    pub records: Vec<(Kind, DateTime<Utc>)>,
    pub rejections: Vec<Rejection>,
    pub runs: Vec<AnalysisRun>,
    /// Errors services reported for the rollout (and failed analysis runs, kind
    /// [`ANALYSIS_ERROR`]).
    pub errors: Vec<ServiceError>,
    /// The window's closed trades paired with their discoveries.
    pub pairs: Vec<DatedPair>,
    /// The last weights the learning module computed by the window's end.
    pub learned: Option<(Weights, DateTime<Utc>)>,
}

/// Analysis runs by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub ok: u64,
    pub fallback: u64,
    pub error: u64,
}

/// What a day (or the whole window) saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// Learning records collected, per kind (`discovery`, `thesis`, `outcome`).
    pub records: BTreeMap<String, u64>,
    pub records_total: u64,
    /// Learning rows rejected, per reason.
    pub rejected: BTreeMap<String, u64>,
    pub rejected_total: u64,
    pub analysis_runs: RunCounts,
    /// Service errors per kind.
    pub errors: BTreeMap<String, u64>,
    pub errors_total: u64,
}

/// The shadow stage's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub duration_secs: u64,
    /// Whether the stage ran its duration (pauses not counted).
    pub complete: bool,
    pub totals: Counts,
    /// One entry per UTC day of the window, oldest first, days without data included.
    pub daily: Vec<Counts>,
    /// `None` for a rollout without an `analysis:` block.
    pub counterfactual: Option<Counterfactual>,
    pub criteria: Vec<Criterion>,
    /// Every criterion met.
    pub criteria_met: bool,
    /// The hold reason while a criterion is not met (what `status` shows once it holds).
    pub unmet: Option<String>,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str, by: u64) {
    *map.entry(key.to_owned()).or_default() += by;
}

fn add_to(c: &mut Counts, f: impl Fn(&mut Counts)) {
    f(c);
}

/// Buckets the inputs by UTC day over `[from, to]`, with the totals.
pub fn bucket(
    inputs: &ShadowInputs,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Counts, Vec<Counts>) {
    let mut days: BTreeMap<NaiveDate, Counts> = BTreeMap::new();
    let mut d = from.date_naive();
    while d <= to.date_naive() {
        days.insert(
            d,
            Counts {
                day: Some(d),
                ..Counts::default()
            },
        );
        d = d.succ_opt().unwrap_or(NaiveDate::MAX);
        if d == NaiveDate::MAX {
            break;
        }
    }
    let mut total = Counts::default();
    let inside = |t: &DateTime<Utc>| *t >= from && *t <= to;
    let mut each = |at: &DateTime<Utc>, f: &dyn Fn(&mut Counts)| {
        if inside(at) {
            add_to(&mut total, f);
            if let Some(c) = days.get_mut(&at.date_naive()) {
                add_to(c, f);
            }
        }
    };
    for (kind, at) in &inputs.records {
        each(at, &|c: &mut Counts| {
            bump(&mut c.records, kind.as_str(), 1);
            c.records_total += 1;
        });
    }
    for r in &inputs.rejections {
        each(&r.at, &|c: &mut Counts| {
            bump(&mut c.rejected, &r.reason, r.rows);
            c.rejected_total += r.rows;
        });
    }
    for run in &inputs.runs {
        each(&run.at, &|c: &mut Counts| {
            if run.fallback {
                c.analysis_runs.fallback += 1;
            } else {
                c.analysis_runs.ok += 1;
            }
        });
    }
    for e in &inputs.errors {
        each(&e.at, &|c: &mut Counts| {
            bump(&mut c.errors, &e.kind, 1);
            c.errors_total += 1;
            if e.kind == ANALYSIS_ERROR {
                c.analysis_runs.error += 1;
            }
        });
    }
    (total, days.into_values().collect())
}

/// The shadow report of the window `[from, to]` of a shadow stage; `complete`: whether it
/// ran its duration. `conservative`: the `analysis:` block's weights (`None` without one:
/// no counterfactual).
pub fn report(
    settings: &ShadowSettings,
    duration: std::time::Duration,
    conservative: Option<&Weights>,
    inputs: &ShadowInputs,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    complete: bool,
) -> ShadowReport {
    let (totals, daily) = bucket(inputs, from, to);
    let counterfactual = conservative.map(|c| {
        compare(
            &inputs.pairs,
            inputs.learned.as_ref().map(|(w, t)| (w, *t)),
            c,
            settings.top_k,
        )
    });
    let recent_analysis_errors = inputs
        .errors
        .iter()
        .filter(|e| e.kind == ANALYSIS_ERROR && e.at > to - Duration::hours(24) && e.at <= to)
        .count() as u64;
    let criteria = criteria(
        &settings.require,
        &totals,
        recent_analysis_errors,
        counterfactual.as_ref(),
    );
    let unmet = unmet_reason(&criteria);
    ShadowReport {
        from,
        to,
        duration_secs: duration.as_secs(),
        complete,
        totals,
        daily,
        counterfactual,
        criteria_met: unmet.is_none(),
        criteria,
        unmet,
    }
}
