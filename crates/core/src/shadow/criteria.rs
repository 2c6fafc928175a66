//! A shadow stage's exit criteria against what it measured.

use serde::Serialize;

use super::{Counterfactual, Counts};
use crate::config::ShadowRequire;

/// One exit criterion: its name (the `require:` key), what it asks, what was seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub name: String,
    pub required: String,
    pub observed: String,
    pub met: bool,
}

/// The criteria `require` sets, evaluated. Only those in force are listed: a minimum of 0
/// is none; `max_errors.critical` always is (default 0).
pub fn criteria(
    require: &ShadowRequire,
    totals: &Counts,
    recent_analysis_errors: u64,
    counterfactual: Option<&Counterfactual>,
) -> Vec<Criterion> {
    let mut out = Vec::new();
    let mut add = |name: String, required: String, observed: String, met: bool| {
        out.push(Criterion {
            name,
            required,
            observed,
            met,
        })
    };
    if require.min_records > 0 {
        add(
            "min_records".into(),
            format!("at least {}", require.min_records),
            totals.records_total.to_string(),
            totals.records_total >= require.min_records,
        );
    }
    if require.min_analysis_runs > 0 {
        let runs = totals.analysis_runs.ok + totals.analysis_runs.fallback;
        add(
            "min_analysis_runs".into(),
            format!("at least {}", require.min_analysis_runs),
            runs.to_string(),
            runs >= require.min_analysis_runs,
        );
    }
    for (kind, max) in require.error_limits() {
        let seen = totals.errors.get(&kind).copied().unwrap_or(0);
        add(
            format!("max_errors.{kind}"),
            format!("at most {max}"),
            seen.to_string(),
            seen <= max,
        );
    }
    if require.no_recent_analysis_errors {
        add(
            "no_recent_analysis_errors".into(),
            "no analysis error in the last 24h".into(),
            recent_analysis_errors.to_string(),
            recent_analysis_errors == 0,
        );
    }
    if require.counterfactual_not_worse {
        let (observed, met) = match counterfactual {
            Some(c) => match (c.difference, c.ci_low, c.ci_high) {
                (Some(d), Some(lo), Some(hi)) => (
                    format!("difference {d:.4} [{lo:.4}, {hi:.4}]"),
                    !c.significantly_worse,
                ),
                // Too little data is not "significantly worse"; `min_records` asks for data.
                _ => (
                    format!(
                        "insufficient data: {}",
                        c.reason.as_deref().unwrap_or("no interval")
                    ),
                    true,
                ),
            },
            None => ("no analysis".into(), true),
        };
        add(
            "counterfactual_not_worse".into(),
            "learned top-k not significantly worse (95 % interval not entirely below 0)".into(),
            observed,
            met,
        );
    }
    out
}

/// The hold reason for the criteria not met, `None` if all are. It names each criterion
/// and its requirement, not the counts, so that it stays the same from tick to tick while
/// the same criteria fail (a new reason would be a new hold in the history).
pub fn unmet_reason(criteria: &[Criterion]) -> Option<String> {
    let failed: Vec<String> = criteria
        .iter()
        .filter(|c| !c.met)
        .map(|c| format!("{} ({})", c.name, c.required))
        .collect();
    (!failed.is_empty()).then(|| format!("shadow exit criteria not met: {}", failed.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_limit_critical_errors_and_recent_analysis_errors_only() {
        let require = ShadowRequire::default();
        let mut totals = Counts::default();
        let c = criteria(&require, &totals, 0, None);
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["max_errors.critical", "no_recent_analysis_errors"]);
        assert_eq!(unmet_reason(&c), None);
        totals.errors.insert("critical".into(), 1);
        totals.errors.insert("timeout".into(), 9);
        let c = criteria(&require, &totals, 2, None);
        assert_eq!(
            unmet_reason(&c).unwrap(),
            "shadow exit criteria not met: max_errors.critical (at most 0), \
             no_recent_analysis_errors (no analysis error in the last 24h)"
        );
    }

    #[test]
    fn minimums_and_configured_limits() {
        let require = ShadowRequire {
            min_records: 10,
            min_analysis_runs: 2,
            max_errors: [("timeout".to_string(), 3)].into(),
            ..ShadowRequire::default()
        };
        let mut totals = Counts {
            records_total: 9,
            ..Counts::default()
        };
        totals.analysis_runs.ok = 1;
        totals.analysis_runs.fallback = 1;
        totals.errors.insert("timeout".into(), 3);
        let c = criteria(&require, &totals, 0, None);
        let failed: Vec<&str> = c
            .iter()
            .filter(|c| !c.met)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(failed, ["min_records"]);
        assert!(c.iter().any(|c| c.name == "max_errors.critical"));
    }
}
