//! The report as Markdown, for a change ticket.

use std::fmt::Write;

use super::{RolloutReport, StageReport};
use crate::shadow::{CounterfactualStatus, ShadowReport};

fn duration(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.4}"))
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn join_counts(map: &std::collections::BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "—".into();
    }
    map.iter()
        .map(|(k, v)| format!("{} {v}", cell(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `rollout report NAME --format md`.
pub fn markdown(r: &RolloutReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Rollout report: {}\n", r.rollout);
    let _ = writeln!(
        out,
        "Generated {}. Status: **{}**{}.\n",
        r.generated_at.to_rfc3339(),
        r.status,
        r.attempt_started_at
            .map(|t| format!(", attempt started {}", t.to_rfc3339()))
            .unwrap_or_default()
    );
    if r.stages.is_empty() {
        out.push_str("The rollout has not started: no stage to report.\n");
        return out;
    }
    out.push_str("| # | stage | entered | left | time spent | paused | holds | guardrail breaches | units (T/C) | verdict | ended by |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for s in &r.stages {
        stage_row(&mut out, s);
    }
    for s in &r.stages {
        if let Some(sh) = &s.shadow {
            shadow(&mut out, s, sh);
        }
    }
    out
}

fn stage_row(out: &mut String, s: &StageReport) {
    let sp = &s.span;
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        sp.stage + 1,
        cell(if sp.label.is_empty() {
            &s.kind
        } else {
            &sp.label
        }),
        sp.entered_at.to_rfc3339(),
        sp.left_at
            .map_or_else(|| "(current)".into(), |t| t.to_rfc3339()),
        duration(sp.time_spent_secs),
        duration(sp.paused_secs),
        sp.holds.len(),
        join_counts(&s.guardrail_breaches),
        s.units
            .map_or_else(|| "—".into(), |u| format!("{}/{}", u.treatment, u.control)),
        s.verdict
            .as_ref()
            .map_or_else(|| "—".into(), |v| cell(&v.verdict)),
        sp.ended_by.as_deref().map_or_else(|| "—".into(), cell),
    );
}

fn shadow(out: &mut String, s: &StageReport, sh: &ShadowReport) {
    let _ = writeln!(
        out,
        "\n## Shadow stage ({} to {}{})\n",
        sh.from.to_rfc3339(),
        sh.to.to_rfc3339(),
        if sh.complete { "" } else { ", not complete" }
    );
    let verdict = match &sh.unmet {
        None if sh.complete => "**Exit criteria met**: the A/B test may start.".to_owned(),
        None => "**Exit criteria met so far**; the stage has not run its duration.".to_owned(),
        Some(why) => format!("**Exit criteria not met**: {}.", cell(why)),
    };
    let _ = writeln!(out, "{verdict}\n");
    out.push_str("| criterion | required | observed | met |\n|---|---|---|---|\n");
    for c in &sh.criteria {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&c.name),
            cell(&c.required),
            cell(&c.observed),
            if c.met { "yes" } else { "**no**" }
        );
    }
    let t = &sh.totals;
    let _ = writeln!(
        out,
        "\nTotals: {} records ({}), {} rejected ({}), analysis runs {} ok / {} fallback / {} error, {} service errors ({}).\n",
        t.records_total,
        join_counts(&t.records),
        t.rejected_total,
        join_counts(&t.rejected),
        t.analysis_runs.ok,
        t.analysis_runs.fallback,
        t.analysis_runs.error,
        t.errors_total,
        join_counts(&t.errors),
    );
    out.push_str(
        "| day | records | rejected | runs ok/fallback/error | errors |\n|---|---|---|---|---|\n",
    );
    for d in &sh.daily {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {}/{}/{} | {} |",
            d.day.map(|d| d.to_string()).unwrap_or_default(),
            d.records_total,
            d.rejected_total,
            d.analysis_runs.ok,
            d.analysis_runs.fallback,
            d.analysis_runs.error,
            join_counts(&d.errors),
        );
    }
    if let Some(c) = &sh.counterfactual {
        let _ = writeln!(
            out,
            "\n### Counterfactual ({}, {} trades over {} days)\n",
            c.selection, c.trades, c.days
        );
        match c.status {
            CounterfactualStatus::InsufficientData => {
                let _ = writeln!(
                    out,
                    "Insufficient data: {}.",
                    c.reason.as_deref().unwrap_or("—")
                );
            }
            CounterfactualStatus::Ok => {
                let _ = writeln!(
                    out,
                    "Mean top-k return: learned weights {}, conservative weights {}; paired difference (by day) {} with 95 % interval [{}, {}]{}.",
                    num(c.learned_top_mean),
                    num(c.conservative_top_mean),
                    num(c.difference),
                    num(c.ci_low),
                    num(c.ci_high),
                    if c.significantly_worse {
                        ": **learned significantly worse**"
                    } else if c.significantly_better {
                        ": learned significantly better"
                    } else {
                        ": no significant difference"
                    }
                );
            }
        }
    }
    let _ = s;
}
