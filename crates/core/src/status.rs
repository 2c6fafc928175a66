//! The read models of `rollout status` (`GET /v1/rollouts`): where a rollout is, why, how
//! long its stage has left, how far its A/B stage has got, its guardrails, and whether a
//! leader is ticking at all; and of `rollout assign`. Time is an argument.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Rollout, StageKind};
use crate::controller::{RolloutState, Status};
use crate::records::{GuardrailReading, LeaderRecord, PendingHold, PerVariant, ReadingStatus};

/// Ticks missed in a row before the status calls the leader overdue.
pub const OVERDUE_AFTER_TICKS: u32 = 3;

/// Whether the evaluation passes have stopped at `now`: the last one finished more than
/// [`OVERDUE_AFTER_TICKS`] tick intervals ago, or there never was one.
pub fn overdue(
    last_tick_at: Option<DateTime<Utc>>,
    interval: Duration,
    now: DateTime<Utc>,
) -> bool {
    let Some(last) = last_tick_at else {
        return true;
    };
    match chrono::Duration::from_std(interval * OVERDUE_AFTER_TICKS) {
        Ok(limit) => now - last > limit,
        // An interval beyond chrono's range is never exceeded.
        Err(_) => false,
    }
}

/// The process that holds the current leader epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leader {
    /// `daemon@HOST:PID`, or `tick:PERSON` after a one-off `rollout tick`.
    pub holder: String,
    pub epoch: i64,
    /// When it took the epoch.
    pub since: Option<DateTime<Utc>>,
}

/// Whether anyone is moving the rollouts: the leader, its last pass and whether that is
/// overdue. The same for every rollout of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Liveness {
    /// `None` when no process has ever led.
    pub leader: Option<Leader>,
    /// When the last evaluation pass finished.
    pub last_tick_at: Option<DateTime<Utc>>,
    /// The tick interval `overdue` is judged by: the one the leader recorded with its last
    /// pass, else that of the configured `tick` schedule.
    pub tick_interval_secs: Option<u64>,
    /// No pass for more than [`OVERDUE_AFTER_TICKS`] intervals, or none ever. `None`: not
    /// known (the store was not read, or the schedule never fires again).
    pub overdue: Option<bool>,
}

/// The liveness the leader row shows at `now`; `configured_tick` (the config's `tick`)
/// gives the interval when the row has none (a one-off `rollout tick`, or no pass yet).
pub fn liveness(record: &LeaderRecord, configured_tick: &str, now: DateTime<Utc>) -> Liveness {
    let recorded = record
        .tick_interval_secs
        .filter(|_| record.last_tick_at.is_some())
        .map(Duration::from_secs);
    let interval = recorded.or_else(|| {
        crate::config::cron::interval_after(configured_tick, record.last_tick_at.unwrap_or(now))
    });
    Liveness {
        leader: record.holder.as_ref().map(|holder| Leader {
            holder: holder.clone(),
            epoch: record.epoch,
            since: record.acquired_at,
        }),
        last_tick_at: record.last_tick_at,
        tick_interval_secs: interval.map(|i| i.as_secs()),
        overdue: interval.map(|i| overdue(record.last_tick_at, i, now)),
    }
}

/// A rollout's guardrails at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardrailSummary {
    /// How many guardrails the rollout has.
    pub configured: usize,
    /// The worst last reading: `breach`, then `error`, `insufficient_data`, `ok`. `None`
    /// before the first reading (readings are taken while the stage exposes units).
    pub worst: Option<ReadingStatus>,
    /// The guardrails whose last reading is not `ok`, worst first.
    pub not_ok: Vec<GuardrailNotOk>,
    /// The latest reading's time.
    pub evaluated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardrailNotOk {
    pub guardrail: String,
    pub status: ReadingStatus,
    /// Breaches in a row.
    pub consecutive: u32,
    pub detail: String,
}

fn severity(s: ReadingStatus) -> u8 {
    match s {
        ReadingStatus::Ok => 0,
        ReadingStatus::InsufficientData => 1,
        ReadingStatus::Error => 2,
        ReadingStatus::Breach => 3,
    }
}

/// The summary of `readings` (the last reading of each guardrail) for `rollout`'s
/// configured guardrails; readings of guardrails no longer configured are left out.
/// `None` for a rollout without guardrails.
pub fn guardrail_summary(
    rollout: &Rollout,
    readings: &[GuardrailReading],
) -> Option<GuardrailSummary> {
    if rollout.guardrails.is_empty() {
        return None;
    }
    let current: Vec<&GuardrailReading> = readings
        .iter()
        .filter(|r| rollout.guardrails.iter().any(|g| g.name == r.guardrail))
        .collect();
    let mut not_ok: Vec<&GuardrailReading> = current
        .iter()
        .copied()
        .filter(|r| r.status != ReadingStatus::Ok)
        .collect();
    not_ok.sort_by_key(|r| std::cmp::Reverse(severity(r.status)));
    Some(GuardrailSummary {
        configured: rollout.guardrails.len(),
        worst: current
            .iter()
            .map(|r| r.status)
            .max_by_key(|s| severity(*s)),
        not_ok: not_ok
            .into_iter()
            .map(|r| GuardrailNotOk {
                guardrail: r.guardrail.clone(),
                status: r.status,
                consecutive: r.consecutive,
                detail: r.detail.clone(),
            })
            .collect(),
        evaluated_at: current.iter().map(|r| r.evaluated_at).max(),
    })
}

/// Whether `state` is in an `ab_test` stage that is still being judged (running, paused
/// or blocked): the stage whose unit counts the status shows.
pub fn in_ab_stage(rollout: &Rollout, state: Option<&RolloutState>) -> bool {
    state.is_some_and(|s| {
        matches!(
            s.status(),
            Status::Running | Status::Paused | Status::Blocked
        ) && matches!(
            rollout.stages.get(s.stage_index).map(|st| &st.kind),
            Some(StageKind::AbTest { .. })
        )
    })
}

/// What the status shows besides the state row, as the store has it.
#[derive(Debug, Clone, Default)]
pub struct Observed<'a> {
    pub liveness: Liveness,
    /// The failing safety check that keeps a pending rollout pending (ignored once started).
    pub hold: Option<&'a PendingHold>,
    /// The last reading of each guardrail.
    pub readings: &'a [GuardrailReading],
    /// Distinct units observed per variant; read while [`in_ab_stage`].
    pub units: Option<PerVariant<u64>>,
}

/// A pending rollout's reason when no safety check holds it.
pub const WAITING_FOR_A_TICK: &str = "not started yet: the next tick starts it";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutStatus {
    pub name: String,
    pub status: Status,
    /// 0-based; `None` while pending. Human output numbers stages from 1.
    pub stage_index: Option<usize>,
    pub stage_kind: Option<&'static str>,
    /// The share of units on the new path in this stage (the A/B treatment share in `ab_test`).
    pub percentage: f64,
    pub stage_entered_at: Option<DateTime<Utc>>,
    /// When the stage's duration runs out (running or blocked); in the past when the
    /// rollout is due to move and no tick has moved it.
    pub next_transition_at: Option<DateTime<Utc>>,
    /// Why the rollout is where it is: the hold, the rollback, the pause, or for a pending
    /// rollout the failing safety check (or that it waits for a tick).
    pub reason: Option<String>,
    /// For a pending rollout held by a failing safety check: since when.
    pub held_since: Option<DateTime<Utc>>,
    pub stages: usize,
    pub state_version: Option<i64>,
    /// What is left of the stage's duration, not counting pauses (0 once it has run out);
    /// `None` for `full`, pending, completed and rolled-back rollouts.
    pub time_left_secs: Option<u64>,
    /// In an A/B stage: the distinct units observed per arm.
    pub units: Option<PerVariant<u64>>,
    /// In an A/B stage with `expected_units_per_day`: the units per arm the stage expects
    /// over its duration (`expected_units_per_day × days × split`).
    pub planned_units: Option<PerVariant<u64>>,
    /// `None` for a rollout without guardrails.
    pub guardrail_summary: Option<GuardrailSummary>,
    /// `leader`, `last_tick_at`, `tick_interval_secs`, `overdue`.
    #[serde(flatten)]
    pub liveness: Liveness,
}

pub fn rollout_status(
    rollout: &Rollout,
    state: Option<&RolloutState>,
    observed: &Observed<'_>,
    now: DateTime<Utc>,
) -> RolloutStatus {
    let stage = state.and_then(|s| rollout.stages.get(s.stage_index));
    let status = state.map_or(Status::Pending, RolloutState::status);
    let percentage = match (status, stage) {
        (Status::RolledBack | Status::Pending, _) | (_, None) => 0.0,
        (_, Some(st)) => st.kind.percentage().map_or(0.0, |p| p.get()),
    };
    let hold = observed.hold.filter(|_| state.is_none());
    let reason = match state {
        Some(s) => s.reason().map(str::to_owned),
        None => Some(hold.map_or_else(|| WAITING_FOR_A_TICK.to_owned(), |h| h.reason.clone())),
    };
    let time_left_secs = match (state, stage) {
        (Some(s), Some(st))
            if matches!(
                s.status(),
                Status::Running | Status::Paused | Status::Blocked
            ) =>
        {
            st.kind.duration().map(|d| {
                let left = d.chrono() - s.elapsed(now);
                u64::try_from(left.num_seconds()).unwrap_or(0)
            })
        }
        _ => None,
    };
    let ab = in_ab_stage(rollout, state);
    let planned_units = stage
        .filter(|_| ab)
        .and_then(|st| st.kind.planned_units())
        .map(|(treatment, control)| PerVariant {
            control: control.round() as u64,
            treatment: treatment.round() as u64,
        });
    RolloutStatus {
        name: rollout.name.to_string(),
        status,
        stage_index: state.map(|s| s.stage_index),
        stage_kind: stage.map(|s| s.kind.name()),
        percentage,
        stage_entered_at: state.map(|s| s.stage_entered_at),
        next_transition_at: match (state, stage) {
            (Some(s), Some(st)) => s.next_transition_at(st, now),
            _ => None,
        },
        reason,
        held_since: hold.map(|h| h.since),
        stages: rollout.stages.len(),
        state_version: state.map(|s| s.version),
        time_left_secs,
        units: observed.units.filter(|_| ab),
        planned_units,
        guardrail_summary: guardrail_summary(rollout, observed.readings),
        liveness: observed.liveness.clone(),
    }
}

/// One unit's assignment in a rollout, as `rollout assign --json` and `GET /v1/assign` show it.
/// Everything comes from the rollout's stored flags (its `<prefix>…` values), through the
/// rule of `docs/assignment.md`, so the fields never contradict each other: `variant` is
/// `treatment` exactly when `enabled` is true in `ab_test` mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitAssignment {
    pub unit: String,
    /// `<prefix>MODE` as stored; `None` when the flag is missing.
    pub mode: Option<String>,
    /// The unit's A/B draw under `<prefix>SEED`; `None` when `SEED` is unreadable or
    /// `ASSIGNMENT_VERSION` is not 1 (the draws of another version are unknown).
    pub u_ab: Option<f64>,
    /// The A/B variant while `MODE` is `ab_test` and the flags are readable; otherwise `None`.
    pub variant: Option<&'static str>,
    /// The unit's release draw under `<prefix>SEED`; `None` as for `u_ab`.
    pub u_rollout: Option<f64>,
    /// `<prefix>ROLLOUT_PERCENTAGE` when it is a valid percentage.
    pub rollout_percentage: Option<f64>,
    /// `u_rollout < rollout_percentage / 100`, when the flags let any unit on.
    pub in_rollout: bool,
    /// Whether the new path is on for the unit under the stored flags now.
    pub enabled: bool,
    /// Why the flags turn the new path off for every unit (`MODE is "shadow"`, an unknown
    /// `ASSIGNMENT_VERSION`, a value outside the grammar); `None` when they let units on.
    pub off_reason: Option<String>,
}

/// `unit`'s draws and decisions under `rollout`'s stored `flags` (key → value): only the
/// flag prefix comes from the configuration.
pub fn unit_assignment(
    rollout: &Rollout,
    flags: &std::collections::BTreeMap<String, String>,
    unit: &str,
) -> UnitAssignment {
    use crate::assignment::{self, Rule, PURPOSE_AB, PURPOSE_ROLLOUT};
    let flag = |suffix: &str| flags.get(&rollout.flag_prefix.key(suffix)).cloned();
    let seed = assignment::seed(flag).ok();
    // The draws before any flag of the rollout is written (pending): the configured seed,
    // which its first flags will carry. Decisions come from the flags only.
    let written = flags
        .keys()
        .any(|k| k.starts_with(rollout.flag_prefix.as_str()));
    let draw_seed = if written { seed } else { Some(rollout.seed) };
    let rule = Rule::read(flag);
    let rollout_pct =
        flag("ROLLOUT_PERCENTAGE").and_then(|v| assignment::parse_percentage(&v).ok());
    let in_rollout = match (&rule, seed, rollout_pct) {
        (Ok(_), Some(seed), Some(p)) => assignment::in_rollout(seed, unit, p),
        _ => false,
    };
    UnitAssignment {
        unit: unit.to_owned(),
        mode: flag("MODE"),
        u_ab: draw_seed.map(|s| assignment::draw(s, PURPOSE_AB, unit)),
        variant: rule
            .as_ref()
            .ok()
            .and_then(|r| r.variant(unit))
            .map(|v| v.as_str()),
        u_rollout: draw_seed.map(|s| assignment::draw(s, PURPOSE_ROLLOUT, unit)),
        rollout_percentage: rollout_pct,
        in_rollout,
        enabled: rule.as_ref().is_ok_and(|r| r.enabled(unit)),
        off_reason: rule.err().map(|e| e.0),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::config;
    use crate::controller::Phase;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn rollout() -> Rollout {
        let src = "
rollouts:
  - name: r
    flag_prefix: R_
    seed: 1
    stages:
      - shadow: { duration: 7d }
      - ab_test: { percentage: 10, duration: 14d, expected_units_per_day: 200 }
      - canary: { percentage: 5, duration: 24h }
      - full: {}
    guardrails:
      - { name: drawdown, metric: return_pct, aggregate: mean, min: -2.0, window: 1h }
      - { name: latency, metric: latency_ms, aggregate: mean, max: 100, window: 1h }
";
        config::parse("t.yaml", src)
            .unwrap()
            .config
            .rollouts
            .remove(0)
    }

    fn at_stage(index: usize, phase: Phase) -> RolloutState {
        let r = rollout();
        RolloutState::new("r", index, r.stages[index].kind.label(), t0(), phase)
    }

    #[test]
    fn overdue_after_three_missed_intervals_or_without_any_tick() {
        let every = Duration::from_secs(10);
        let now = t0() + chrono::Duration::seconds(100);
        assert!(!overdue(
            Some(now - chrono::Duration::seconds(30)),
            every,
            now
        ));
        assert!(overdue(
            Some(now - chrono::Duration::seconds(31)),
            every,
            now
        ));
        assert!(!overdue(Some(now), every, now));
        assert!(overdue(None, every, now), "nobody ever ticked");
    }

    #[test]
    fn liveness_prefers_the_recorded_interval_and_falls_back_to_the_schedule() {
        let tick = t0() + chrono::Duration::minutes(5);
        let record = LeaderRecord {
            epoch: 4,
            holder: Some("daemon@host:42".into()),
            acquired_at: Some(t0()),
            last_tick_at: Some(tick),
            tick_interval_secs: Some(60),
            lease_until: None,
        };
        let l = liveness(
            &record,
            "*/10 * * * * *",
            tick + chrono::Duration::seconds(150),
        );
        assert_eq!(
            l.leader,
            Some(Leader {
                holder: "daemon@host:42".into(),
                epoch: 4,
                since: Some(t0())
            })
        );
        assert_eq!((l.tick_interval_secs, l.overdue), (Some(60), Some(false)));
        let l = liveness(
            &record,
            "*/10 * * * * *",
            tick + chrono::Duration::seconds(181),
        );
        assert_eq!(l.overdue, Some(true));
        // A one-off `rollout tick` records no interval: the configured schedule's is used.
        let one_off = LeaderRecord {
            tick_interval_secs: None,
            holder: Some("tick:alice@host".into()),
            ..record
        };
        let l = liveness(
            &one_off,
            "*/10 * * * * *",
            tick + chrono::Duration::seconds(31),
        );
        assert_eq!((l.tick_interval_secs, l.overdue), (Some(10), Some(true)));
        // Nobody ever led.
        let l = liveness(&LeaderRecord::default(), "*/10 * * * * *", t0());
        assert_eq!(
            (l.leader, l.last_tick_at, l.overdue),
            (None, None, Some(true))
        );
    }

    #[test]
    fn a_pending_rollout_says_why() {
        let r = rollout();
        let s = rollout_status(&r, None, &Observed::default(), t0());
        assert_eq!(s.status, Status::Pending);
        assert_eq!(s.reason.as_deref(), Some(WAITING_FOR_A_TICK));
        let hold = PendingHold {
            rollout: "r".into(),
            reason: "safety check db failed: false".into(),
            since: t0(),
            checked_at: t0() + chrono::Duration::minutes(1),
        };
        let observed = Observed {
            hold: Some(&hold),
            ..Observed::default()
        };
        let s = rollout_status(&r, None, &observed, t0());
        assert_eq!(
            (s.reason.as_deref(), s.held_since),
            (Some("safety check db failed: false"), Some(t0()))
        );
        // Once started, a leftover hold is not the reason.
        let running = at_stage(0, Phase::Running);
        let s = rollout_status(&r, Some(&running), &observed, t0());
        assert_eq!((s.reason, s.held_since), (None, None));
    }

    #[test]
    fn time_left_stops_while_paused_and_is_zero_once_due() {
        let r = rollout();
        let running = at_stage(0, Phase::Running);
        let now = t0() + chrono::Duration::days(2);
        let s = rollout_status(&r, Some(&running), &Observed::default(), now);
        assert_eq!(s.time_left_secs, Some(5 * 86_400));
        let paused = at_stage(
            0,
            Phase::Paused {
                since: t0() + chrono::Duration::days(1),
                reason: None,
            },
        );
        let s = rollout_status(&r, Some(&paused), &Observed::default(), now);
        assert_eq!(s.time_left_secs, Some(6 * 86_400));
        let late = t0() + chrono::Duration::days(8);
        let s = rollout_status(&r, Some(&running), &Observed::default(), late);
        assert_eq!(s.time_left_secs, Some(0));
        assert!(s.next_transition_at.unwrap() < late);
        let full = at_stage(3, Phase::Completed);
        let s = rollout_status(&r, Some(&full), &Observed::default(), now);
        assert_eq!(s.time_left_secs, None);
    }

    #[test]
    fn ab_progress_only_in_the_ab_stage() {
        let r = rollout();
        let units = Some(PerVariant {
            control: 300,
            treatment: 40,
        });
        let observed = Observed {
            units,
            ..Observed::default()
        };
        let ab = at_stage(1, Phase::Running);
        let s = rollout_status(&r, Some(&ab), &observed, t0());
        assert_eq!(s.units, units);
        // 200 a day for 14 days, 10 % treatment.
        assert_eq!(
            s.planned_units,
            Some(PerVariant {
                control: 2520,
                treatment: 280
            })
        );
        let canary = at_stage(2, Phase::Running);
        let s = rollout_status(&r, Some(&canary), &observed, t0());
        assert_eq!((s.units, s.planned_units), (None, None));
    }

    #[test]
    fn guardrail_summary_is_the_worst_reading_of_configured_guardrails() {
        let r = rollout();
        let reading = |name: &str, status, minutes| GuardrailReading {
            guardrail: name.into(),
            status,
            consecutive: 1,
            value: None,
            control_value: None,
            n: 0,
            detail: format!("{name} detail"),
            evaluated_at: t0() + chrono::Duration::minutes(minutes),
        };
        let none = guardrail_summary(&r, &[]).unwrap();
        assert_eq!((none.configured, none.worst), (2, None));
        let readings = [
            reading("drawdown", ReadingStatus::InsufficientData, 1),
            reading("latency", ReadingStatus::Breach, 2),
            reading("removed", ReadingStatus::Error, 3),
        ];
        let s = guardrail_summary(&r, &readings).unwrap();
        assert_eq!(s.worst, Some(ReadingStatus::Breach));
        let names: Vec<_> = s.not_ok.iter().map(|n| n.guardrail.as_str()).collect();
        assert_eq!(names, ["latency", "drawdown"]);
        assert_eq!(s.evaluated_at, Some(t0() + chrono::Duration::minutes(2)));
        let mut bare = r.clone();
        bare.guardrails.clear();
        assert_eq!(guardrail_summary(&bare, &readings), None);
    }

    /// Before the first tick no flag exists: the draws a unit will get (from the configured
    /// seed, which the first flags carry) are shown, and it is off.
    #[test]
    fn a_pending_rollout_shows_the_draws_to_come() {
        use crate::assignment::{draw, PURPOSE_AB, PURPOSE_ROLLOUT};
        let v = unit_assignment(&rollout(), &Default::default(), "AAPL");
        assert_eq!(v.u_ab, Some(draw(1, PURPOSE_AB, "AAPL")));
        assert_eq!(v.u_rollout, Some(draw(1, PURPOSE_ROLLOUT, "AAPL")));
        assert!(!v.enabled && !v.in_rollout && v.variant.is_none());
    }
}
