//! `rollout report NAME` and `rollout errors NAME FILE.csv`.

use std::path::Path;

use super::open::{open, Access};
use super::{print_json, read_input, Cli};
use crate::error::Error;
use crate::shadow::{self, CounterfactualStatus, RolloutReport, ShadowReport};

/// How `report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Md,
}

pub async fn report(cli: &Cli, name: &str, format: ReportFormat) -> Result<(), Error> {
    let (service, _) = open(cli, Access::OnCall).await?;
    let r = service.report(name).await?;
    match format {
        ReportFormat::Json => print_json(&r),
        ReportFormat::Md => print!("{}", shadow::markdown(&r)),
        ReportFormat::Text => print!("{}", text(&r)),
    }
    Ok(())
}

pub async fn errors(cli: &Cli, name: &str, file: &Path, json: bool) -> Result<(), Error> {
    let (service, url) = open(cli, Access::Existing).await?;
    service.rollout(name)?;
    let (source, data) = read_input(file)?;
    let rows = shadow::errors::parse_csv(&source, &data, service.now())?;
    let out = service.record_errors(name, &rows).await?;
    if json {
        print_json(&out);
    } else {
        println!("store: {url}");
        println!("{name}: recorded {} error(s)", out.inserted);
    }
    Ok(())
}

fn hours(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else {
        format!("{h}h {m}m")
    }
}

fn counts(map: &std::collections::BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The human report: one block per stage entry.
fn text(r: &RolloutReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", r.rollout, r.status);
    if r.stages.is_empty() {
        out.push_str("  not started: no stage to report\n");
    }
    for s in &r.stages {
        let sp = &s.span;
        let _ = writeln!(
            out,
            "stage {} {}: entered {}, {}, {} spent ({} paused), {} hold(s)",
            sp.stage + 1,
            if sp.label.is_empty() {
                &s.kind
            } else {
                &sp.label
            },
            sp.entered_at.to_rfc3339(),
            sp.left_at.map_or_else(
                || "current".to_owned(),
                |t| format!("left {}", t.to_rfc3339())
            ),
            hours(sp.time_spent_secs),
            hours(sp.paused_secs),
            sp.holds.len()
        );
        if let Some(u) = s.units {
            let _ = writeln!(
                out,
                "  units: treatment {}, control {}",
                u.treatment, u.control
            );
        }
        if let Some(v) = &s.verdict {
            let _ = writeln!(
                out,
                "  verdict: {} (look at {})",
                v.verdict,
                v.taken_at.to_rfc3339()
            );
        }
        if !s.guardrail_breaches.is_empty() {
            let _ = writeln!(
                out,
                "  guardrail breaches: {}",
                counts(&s.guardrail_breaches)
            );
        }
        for h in &sp.holds {
            let _ = writeln!(out, "  held {}: {}", h.at.to_rfc3339(), h.reason);
        }
        if let Some(e) = &sp.ended_by {
            let _ = writeln!(out, "  ended by {e}");
        }
        if let Some(sh) = &s.shadow {
            shadow_text(&mut out, sh);
        }
    }
    out
}

fn shadow_text(out: &mut String, sh: &ShadowReport) {
    use std::fmt::Write;
    let t = &sh.totals;
    let _ = writeln!(
        out,
        "  records: {} ({}); rejected {} ({})",
        t.records_total,
        counts(&t.records),
        t.rejected_total,
        counts(&t.rejected)
    );
    let _ = writeln!(
        out,
        "  analysis runs: {} ok, {} fallback, {} error; service errors: {} ({})",
        t.analysis_runs.ok,
        t.analysis_runs.fallback,
        t.analysis_runs.error,
        t.errors_total,
        counts(&t.errors)
    );
    if let Some(c) = &sh.counterfactual {
        match c.status {
            CounterfactualStatus::Ok => {
                let _ = writeln!(
                    out,
                    "  counterfactual ({}, {} trades, {} days): learned {:.4} vs conservative {:.4}, difference {:.4} [{:.4}, {:.4}]",
                    c.selection,
                    c.trades,
                    c.days,
                    c.learned_top_mean.unwrap_or(f64::NAN),
                    c.conservative_top_mean.unwrap_or(f64::NAN),
                    c.difference.unwrap_or(f64::NAN),
                    c.ci_low.unwrap_or(f64::NAN),
                    c.ci_high.unwrap_or(f64::NAN),
                );
            }
            CounterfactualStatus::InsufficientData => {
                let _ = writeln!(
                    out,
                    "  counterfactual: insufficient data: {}",
                    c.reason.as_deref().unwrap_or("-")
                );
            }
        }
    }
    for c in &sh.criteria {
        let _ = writeln!(
            out,
            "  {} {}: {} (observed {})",
            if c.met { "met    " } else { "NOT MET" },
            c.name,
            c.required,
            c.observed
        );
    }
    let _ = writeln!(
        out,
        "  {}",
        match (&sh.unmet, sh.complete) {
            (None, true) => "exit criteria met: the A/B test may start".to_owned(),
            (None, false) =>
                "exit criteria met so far; the stage has not run its duration".to_owned(),
            (Some(why), _) => why.clone(),
        }
    );
}
