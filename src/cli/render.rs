//! Human-readable output of the CLI.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::Rollout;
use crate::engine::Applied;
use crate::status::RolloutStatus;
use crate::store::{EventRow, FlagTable};

pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".into(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

pub fn status_table(rows: &[RolloutStatus]) -> String {
    let mut out = format!(
        "{:<24} {:<12} {:<10} {:<8} {:>6} {:<21} {:<21} {}\n",
        "NAME", "STATUS", "STAGE", "KIND", "PCT", "ENTERED", "NEXT", "REASON"
    );
    for r in rows {
        let stage = r
            .stage_index
            .map_or("-".into(), |i| format!("{}/{}", i + 1, r.stages));
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:<10} {:<8} {:>6} {:<21} {:<21} {}",
            r.name,
            r.status,
            stage,
            r.stage_kind.unwrap_or("-"),
            r.percentage,
            time(r.stage_entered_at),
            time(r.next_transition_at),
            r.reason.as_deref().unwrap_or("")
        );
    }
    out
}

pub fn history(rows: &[EventRow]) -> String {
    let mut out = String::new();
    for e in rows {
        let stage = match e.from_stage {
            Some(f) if f != e.to_stage => format!("stage {f}->{}", e.to_stage),
            _ => format!("stage {}", e.to_stage),
        };
        let status = match &e.from_status {
            Some(f) if *f != e.to_status => format!("{f}->{}", e.to_status),
            _ => e.to_status.clone(),
        };
        let _ = writeln!(
            out,
            "#{:<4} {}  {:<9} {:<10} {:<22} by {}: {}",
            e.id,
            time(Some(e.at)),
            e.action,
            stage,
            status,
            printable(&e.actor),
            printable(&e.reason)
        );
        if !e.flags.is_empty() {
            let _ = writeln!(
                out,
                "      flags v{}: {}",
                e.flags_version,
                changes(&e.flags)
            );
        }
    }
    out
}

pub fn changes(flags: &BTreeMap<String, Option<String>>) -> String {
    flags
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{}={}", printable(k), printable(v)),
            None => format!("{} (removed)", printable(k)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn flags(table: &FlagTable) -> String {
    let mut out = format!("flags version {}\n", table.version);
    let _ = writeln!(
        out,
        "{:<36} {:<14} {:<24} {:>7} {:<21} UPDATED_BY",
        "KEY", "VALUE", "ROLLOUT", "VERSION", "UPDATED_AT"
    );
    for f in &table.flags {
        let _ = writeln!(
            out,
            "{:<36} {:<14} {:<24} {:>7} {:<21} {}",
            f.key,
            f.value,
            f.rollout,
            f.version,
            time(Some(f.updated_at)),
            f.updated_by
        );
    }
    out
}

pub fn applied(name: &str, a: &Applied) -> String {
    let t = &a.transition;
    let from = t.from.as_ref().map_or("pending".into(), |f| {
        format!("stage {} {}", f.stage_index, f.status())
    });
    let mut out = format!(
        "{name}: {} ({from} -> stage {} {}); state version {}, flags version {}",
        t.action,
        t.to.stage_index,
        t.to.status(),
        a.committed.state_version,
        a.committed.flags_version
    );
    if !a.committed.changed.is_empty() {
        let _ = write!(out, "\n  changed: {}", changes(&a.committed.changed));
    }
    out
}

pub fn plan(rollout: &Rollout, steps: &[crate::plan::PlanStep]) -> String {
    let mut out = format!(
        "rollout {} (flag prefix {}, seed {})\n",
        rollout.name, rollout.flag_prefix, rollout.seed
    );
    for s in steps {
        let _ = writeln!(
            out,
            "  {}. day {:>5.1}: {}",
            s.index + 1,
            s.starts_after_days,
            s.summary
        );
        if let Some(ss) = &s.sample_size {
            let _ = writeln!(
                out,
                "       sample size (80% power, fixed horizon): {} treatment / {} control units needed; \
                 about {:.0} / {:.0} expected in the stage: {}",
                ss.needed_treatment,
                ss.needed_control,
                ss.expected_treatment,
                ss.expected_control,
                if ss.duration_is_enough { "long enough" } else { "TOO SHORT" }
            );
        }
        let _ = writeln!(out, "       writes {}", join_flags(&s.flags));
    }
    out
}

/// Stored text as a terminal may show it: control characters (escape sequences, carriage
/// returns, newlines that would forge a line) are written escaped, everything else as is.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

pub fn join_flags(flags: &BTreeMap<String, String>) -> String {
    flags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

fn pval(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3e}"))
}

pub fn analysis(a: &crate::experiment::Analysis) -> String {
    let mut out = format!(
        "{}: A/B stage {} ({}% treatment{}), alpha {}, min_effect {}, min_samples {}, {} p-values\n",
        a.rollout,
        a.stage.index + 1,
        a.stage.percentage,
        if a.stage.current { ", running now" } else { "" },
        a.stage.alpha,
        a.stage.min_effect,
        a.stage.min_samples,
        if a.stage.sequential { "always-valid" } else { "fixed-horizon" }
    );
    for m in &a.metrics {
        let _ = writeln!(
            out,
            "  {} ({}): control n={} mean={} sd={} | treatment n={} mean={} sd={}",
            m.metric,
            m.test,
            m.control.n,
            num(m.control.mean),
            num(m.control.sd),
            m.treatment.n,
            num(m.treatment.mean),
            num(m.treatment.sd)
        );
        let _ = writeln!(
            out,
            "    lift {} [{}, {}], d = {}, p = {}, always-valid p = {} -> {}",
            num(m.lift),
            num(m.ci_low),
            num(m.ci_high),
            num(m.effect_size),
            pval(m.p_value),
            pval(m.sequential_p_value),
            serde_json::to_value(m.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "  units: control {} treatment {} (expected {:.0} / {:.0}), SRM p = {}{}",
        a.srm.observed.control,
        a.srm.observed.treatment,
        a.srm.expected.control,
        a.srm.expected.treatment,
        pval(a.srm.p_value),
        if a.srm.mismatch {
            "  SAMPLE RATIO MISMATCH"
        } else {
            ""
        }
    );
    out
}

/// `rollout check`: each safety check and guardrail reading, one line each.
pub fn checks(
    name: &str,
    checks: &[crate::guardrails::CheckResult],
    pass: &crate::guardrails::GuardrailPass,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{name}");
    if checks.is_empty() {
        let _ = writeln!(out, "  safety checks: none configured");
    }
    for c in checks {
        let _ = writeln!(
            out,
            "  safety check {:<24} {:<6} {} ({} ms)",
            c.name,
            if c.passed { "PASS" } else { "FAIL" },
            c.output,
            c.elapsed_ms
        );
    }
    if pass.readings.is_empty() {
        let _ = writeln!(out, "  guardrails: none configured");
    }
    for r in &pass.readings {
        let _ = writeln!(
            out,
            "  guardrail {:<27} {:<17} value {} n {} ({} in a row): {}",
            r.guardrail,
            r.status.as_str(),
            r.value.map_or("-".into(), |v| format!("{v}")),
            r.n,
            r.consecutive,
            r.detail
        );
    }
    for c in &pass.critical {
        let _ = writeln!(out, "  CRITICAL: {c}");
    }
    for w in &pass.warnings {
        let _ = writeln!(out, "  WARNING: {w}");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn stored_text_cannot_drive_the_terminal() {
        assert_eq!(super::printable("drawdown 4%"), "drawdown 4%");
        assert_eq!(
            super::printable("ok\u{1b}[2J\r\n#9 forged"),
            "ok\\u{1b}[2J\\r\\n#9 forged"
        );
        assert_eq!(super::printable("üñí"), "üñí");
    }
}
