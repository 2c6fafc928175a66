//! Human-readable output of the CLI.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::Rollout;
use crate::controller::Status;
use crate::engine::Applied;
use crate::status::{GuardrailSummary, Liveness, RolloutStatus, OVERDUE_AFTER_TICKS};
use crate::store::{EventRow, FlagTable};

pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".into(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// A duration for people: `45s`, `5m 3s`, `2h 5m`, `3d 4h`.
pub fn span(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) if m == 0 => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        _ if h == 0 => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

/// How long before `now` `t` was (0 if after it).
fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    span(u64::try_from((now - t).num_seconds()).unwrap_or(0))
}

/// A stage for people: its 1-based number and its kind (`2 canary`).
pub fn stage_name(index: usize, kind: Option<&str>) -> String {
    match kind {
        Some(kind) => format!("{} {kind}", index + 1),
        None => format!("{}", index + 1),
    }
}

/// Who leads and whether the ticks are on time: the lines above the status table.
pub fn liveness(l: &Liveness, now: DateTime<Utc>) -> String {
    let leader = match &l.leader {
        Some(x) => format!(
            "{} (epoch {}, since {}){}",
            x.holder,
            x.epoch,
            time(x.since),
            if x.holder.starts_with(rollout_core::records::ONE_OFF_HOLDER) {
                ": a one-off `rollout tick`, no daemon"
            } else {
                ""
            }
        ),
        None => "none: no daemon has led this store".into(),
    };
    let every = l
        .tick_interval_secs
        .map(|i| format!(" (ticks every {})", span(i)))
        .unwrap_or_default();
    let tick = match l.last_tick_at {
        Some(t) => format!("{}, {} ago{every}", time(Some(t)), ago(t, now)),
        None => format!("never{every}"),
    };
    let verdict = match (l.overdue, l.tick_interval_secs) {
        (Some(true), Some(i)) => format!(
            "  OVERDUE: no tick for more than {} ({OVERDUE_AFTER_TICKS} ticks); is the daemon running?",
            span(i * u64::from(OVERDUE_AFTER_TICKS))
        ),
        (Some(true), None) => "  OVERDUE: is the daemon running?".into(),
        (Some(false), _) => String::new(),
        (None, _) => "  (cannot tell whether ticks are on time)".into(),
    };
    format!("leader:    {leader}\nlast tick: {tick}{verdict}\n")
}

/// The guardrails column: `-` without guardrails, the worst reading and its guardrail.
fn guardrails_cell(g: Option<&GuardrailSummary>) -> String {
    let Some(g) = g else {
        return "-".into();
    };
    match (g.worst, g.not_ok.first()) {
        (None, _) => format!("not read yet ({})", g.configured),
        (Some(_), Some(first)) => {
            let more = g.not_ok.len() - 1;
            let more = if more > 0 {
                format!(" +{more}")
            } else {
                String::new()
            };
            format!("{}: {}{more}", first.status.as_str(), first.guardrail)
        }
        (Some(w), None) => format!("{} ({})", w.as_str(), g.configured),
    }
}

/// What is left of the stage: `due` when a running rollout's stage has run out (the next
/// tick moves it).
fn left_cell(r: &RolloutStatus) -> String {
    match r.time_left_secs {
        None => "-".into(),
        Some(0) if r.status == Status::Running => "due".into(),
        Some(s) => span(s),
    }
}

/// `rollout status`: the leader and its last tick, then one row per rollout with, below
/// it, the reason, the A/B stage's progress and the guardrails that are not ok. Stages
/// are numbered from 1, their kind beside the number.
pub fn status_table(rows: &[RolloutStatus], now: DateTime<Utc>) -> String {
    let mut out = match rows.first() {
        Some(r) => liveness(&r.liveness, now),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "{:<24} {:<11} {:<13} {:>5} {:<20} {:<20} {:<8} GUARDRAILS",
        "NAME", "STATUS", "STAGE", "PCT", "ENTERED", "NEXT", "LEFT"
    );
    for r in rows {
        let stage = r.stage_index.map_or("-".into(), |i| {
            format!("{}/{} {}", i + 1, r.stages, r.stage_kind.unwrap_or("?"))
        });
        let _ = writeln!(
            out,
            "{:<24} {:<11} {:<13} {:>5} {:<20} {:<20} {:<8} {}",
            r.name,
            r.status,
            stage,
            r.percentage,
            time(r.stage_entered_at),
            time(r.next_transition_at),
            left_cell(r),
            guardrails_cell(r.guardrail_summary.as_ref())
        );
        if let Some(reason) = &r.reason {
            let since = r
                .held_since
                .map(|t| format!(" (since {}, {} ago)", time(Some(t)), ago(t, now)))
                .unwrap_or_default();
            let _ = writeln!(out, "  reason: {reason}{since}");
        }
        if let Some(units) = &r.units {
            let arm = |name: &str, n: u64, planned: Option<u64>| match planned {
                Some(p) if p > 0 => format!("{name} {n}/{p} ({:.0}%)", n as f64 * 100.0 / p as f64),
                _ => format!("{name} {n}"),
            };
            let planned = r.planned_units.as_ref();
            let _ = writeln!(
                out,
                "  A/B units: {}, {}{}",
                arm("treatment", units.treatment, planned.map(|p| p.treatment)),
                arm("control", units.control, planned.map(|p| p.control)),
                if planned.is_some() {
                    " of those planned for the stage"
                } else {
                    " (no expected_units_per_day to compare with)"
                }
            );
        }
        if let Some(g) = &r.guardrail_summary {
            for n in &g.not_ok {
                let _ = writeln!(
                    out,
                    "  guardrail {}: {} ({} in a row): {}",
                    n.guardrail,
                    n.status.as_str(),
                    n.consecutive,
                    n.detail
                );
            }
        }
    }
    out
}

/// `rollout history`: one line per change; stages numbered from 1, with their kind in
/// `rollout`'s configuration (when it still has the stage).
pub fn history(rows: &[EventRow], rollout: Option<&Rollout>) -> String {
    let kind = |i: i64| {
        let i = usize::try_from(i).unwrap_or(usize::MAX);
        stage_name(
            i,
            rollout.and_then(|r| r.stages.get(i)).map(|s| s.kind.name()),
        )
    };
    let mut out = String::new();
    for e in rows {
        let stage = match e.from_stage {
            Some(f) if f != e.to_stage => format!("stage {}->{}", kind(f), kind(e.to_stage)),
            _ => format!("stage {}", kind(e.to_stage)),
        };
        let status = match &e.from_status {
            Some(f) if *f != e.to_status => format!("{f}->{}", e.to_status),
            _ => e.to_status.clone(),
        };
        let _ = writeln!(
            out,
            "#{:<4} {}  {:<9} {:<24} {:<22} by {}: {}",
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
        format!(
            "stage {} {}",
            stage_name(f.stage_index, Some(&f.stage_label)),
            f.status()
        )
    });
    let mut out = format!(
        "{name}: {} ({from} -> stage {} {}); state version {}, flags version {}",
        t.action,
        stage_name(t.to.stage_index, Some(&t.to.stage_label)),
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
        if let Some(d) = &s.ab_design {
            let fmt = |v: Option<f64>, digits: usize| {
                v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
            };
            let _ = writeln!(
                out,
                "       design: {} ({} look{}, final |z| >= {:.3}); detectable effect at 80% power over the plan: d = {}; \
                 power at min_effect: {}; days needed for min_effect: {}",
                d.design.as_str(),
                d.looks,
                if d.looks == 1 { "" } else { "s" },
                d.critical_z,
                fmt(d.detectable_effect, 3),
                fmt(d.power_at_min_effect, 2),
                fmt(d.days_needed, 1),
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
        "{}: A/B stage {} ({}% treatment{}), alpha {}, min_effect {}, min_samples {}, design {}{}, information {:.2}\n",
        a.rollout,
        a.stage.index + 1,
        a.stage.percentage,
        if a.stage.current { ", running now" } else { "" },
        a.stage.alpha,
        a.stage.min_effect,
        a.stage.min_samples,
        a.design.as_str(),
        a.look
            .map(|l| format!(" (look {l} of {})", a.looks))
            .unwrap_or_default(),
        a.information_fraction,
    );
    for m in &a.metrics {
        let role = serde_json::to_value(m.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} ({}, {}): control units={} obs={} mean={} sd={} | treatment units={} obs={} mean={} sd={}",
            m.metric,
            m.test,
            role,
            m.control.n,
            m.control.observations,
            num(m.control.mean),
            num(m.control.sd),
            m.treatment.n,
            m.treatment.observations,
            num(m.treatment.mean),
            num(m.treatment.sd)
        );
        let _ = writeln!(
            out,
            "    lift {} [{}, {}], effect {} (min {}){}, p = {}, sequential p = {}{} -> {}",
            num(m.lift),
            num(m.ci_low),
            num(m.ci_high),
            num(m.effect_size),
            num(Some(m.min_effect)),
            m.probability_superiority
                .map(|p| format!(", P(T>C) = {p:.4}"))
                .unwrap_or_default(),
            pval(m.p_value),
            pval(m.sequential_p_value),
            if m.guard_breached {
                "  GUARD BREACHED"
            } else {
                ""
            },
            serde_json::to_value(m.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "  units: control {} treatment {} (expected {:.0} / {:.0}), SRM always-valid p = {}{}",
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
    if a.exposure.multiple_exposures > 0 {
        let _ = writeln!(
            out,
            "  multiple exposures: {} units ({:.2} %)",
            a.exposure.multiple_exposures,
            100.0 * a.exposure.share
        );
    }
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

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::status::{GuardrailNotOk, Leader};
    use crate::store::{PerVariant, ReadingStatus};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
    }

    fn row(name: &str, status: Status, liveness: &Liveness) -> RolloutStatus {
        RolloutStatus {
            name: name.into(),
            status,
            stage_index: None,
            stage_kind: None,
            percentage: 0.0,
            stage_entered_at: None,
            next_transition_at: None,
            reason: None,
            held_since: None,
            stages: 4,
            state_version: None,
            time_left_secs: None,
            units: None,
            planned_units: None,
            guardrail_summary: None,
            liveness: liveness.clone(),
        }
    }

    #[test]
    fn spans_for_people() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (303, "5m 3s"),
            (7200, "2h"),
            (7500, "2h 5m"),
            (86_400, "1d"),
            (273_600, "3d 4h"),
        ];
        for (secs, text) in cases {
            assert_eq!(span(secs), text, "{secs}");
        }
    }

    /// The on-call view: a dead leader, a rollout due to move, one in its A/B stage with a
    /// breached guardrail, one held pending by a safety check.
    #[test]
    fn status_table_with_an_overdue_leader() {
        let now = t0() + chrono::Duration::minutes(10);
        let liveness = Liveness {
            leader: Some(Leader {
                holder: "daemon@trading-1:4242".into(),
                epoch: 3,
                since: Some(t0() - chrono::Duration::days(2)),
            }),
            last_tick_at: Some(t0() + chrono::Duration::seconds(3)),
            tick_interval_secs: Some(10),
            overdue: Some(true),
        };
        let due = RolloutStatus {
            stage_index: Some(1),
            stage_kind: Some("canary"),
            percentage: 5.0,
            stage_entered_at: Some(t0() - chrono::Duration::days(1)),
            next_transition_at: Some(t0()),
            state_version: Some(2),
            time_left_secs: Some(0),
            ..row("learning-intelligence", Status::Running, &liveness)
        };
        let ab = RolloutStatus {
            stage_index: Some(1),
            stage_kind: Some("ab_test"),
            percentage: 10.0,
            stage_entered_at: Some(t0() - chrono::Duration::days(3)),
            next_transition_at: Some(t0() + chrono::Duration::days(11)),
            reason: Some("guardrail latency breached: 250 > max 100".into()),
            state_version: Some(3),
            time_left_secs: Some(11 * 86_400 - 600),
            units: Some(PerVariant {
                control: 540,
                treatment: 61,
            }),
            planned_units: Some(PerVariant {
                control: 2520,
                treatment: 280,
            }),
            guardrail_summary: Some(GuardrailSummary {
                configured: 2,
                worst: Some(ReadingStatus::Breach),
                not_ok: vec![GuardrailNotOk {
                    guardrail: "latency".into(),
                    status: ReadingStatus::Breach,
                    consecutive: 2,
                    detail: "250 > max 100".into(),
                }],
                evaluated_at: Some(t0()),
            }),
            ..row("risk-model", Status::Blocked, &liveness)
        };
        let held = RolloutStatus {
            reason: Some("safety check data_integrity failed: false".into()),
            held_since: Some(t0() - chrono::Duration::hours(2)),
            guardrail_summary: Some(GuardrailSummary {
                configured: 1,
                worst: None,
                not_ok: vec![],
                evaluated_at: None,
            }),
            ..row("sizing", Status::Pending, &liveness)
        };
        insta::assert_snapshot!(status_table(&[due, ab, held], now));
    }

    #[test]
    fn liveness_after_a_one_off_tick() {
        let l = Liveness {
            leader: Some(Leader {
                holder: "tick:alice@desk".into(),
                epoch: 2,
                since: Some(t0()),
            }),
            last_tick_at: Some(t0()),
            tick_interval_secs: Some(10),
            overdue: Some(false),
        };
        insta::assert_snapshot!(liveness(&l, t0() + chrono::Duration::seconds(4)), @r"
        leader:    tick:alice@desk (epoch 2, since 2026-01-05T09:00:00Z): a one-off `rollout tick`, no daemon
        last tick: 2026-01-05T09:00:00Z, 4s ago (ticks every 10s)
        ");
    }

    #[test]
    fn liveness_without_a_leader() {
        let l = Liveness {
            tick_interval_secs: Some(10),
            overdue: Some(true),
            ..Liveness::default()
        };
        insta::assert_snapshot!(liveness(&l, t0()), @r"
        leader:    none: no daemon has led this store
        last tick: never (ticks every 10s)  OVERDUE: no tick for more than 30s (3 ticks); is the daemon running?
        ");
    }
}
