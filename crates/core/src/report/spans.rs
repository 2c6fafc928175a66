//! The stage entries of a rollout's current attempt, from its history.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::records::EventRow;

/// A hold while in a stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoldEvent {
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// One stage entry: when it was entered and left, time spent and paused, its holds, and
/// the history row that ended it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageSpan {
    /// 0-based.
    pub stage: usize,
    pub label: String,
    pub entered_at: DateTime<Utc>,
    /// `None`: the current stage.
    pub left_at: Option<DateTime<Utc>>,
    /// From entry to leaving (or `now`), pauses included.
    pub time_spent_secs: i64,
    pub paused_secs: i64,
    pub holds: Vec<HoldEvent>,
    /// `action: reason` of the row that left the stage (advance, promote, rollback, ...).
    pub ended_by: Option<String>,
}

fn enters(e: &EventRow) -> bool {
    e.from_stage != Some(e.to_stage) || matches!(e.action.as_str(), "start" | "restart")
}

/// The stage entries since the attempt's start (the last `start` or `restart` row), oldest
/// first. `events` oldest first (the whole history, or a tail that holds the attempt).
pub fn attempt_spans(events: &[EventRow], labels: &[String], now: DateTime<Utc>) -> Vec<StageSpan> {
    let begin = events
        .iter()
        .rposition(|e| matches!(e.action.as_str(), "start" | "restart"))
        .unwrap_or(0);
    let mut spans: Vec<StageSpan> = Vec::new();
    let mut paused_since: Option<DateTime<Utc>> = None;
    let mut open = false;
    for e in &events[begin.min(events.len())..] {
        if enters(e) || spans.is_empty() {
            if let (true, Some(last)) = (open, spans.last_mut()) {
                if let Some(p) = paused_since.take() {
                    last.paused_secs += (e.at - p).num_seconds().max(0);
                }
                last.left_at = Some(e.at);
                last.ended_by = Some(format!("{}: {}", e.action, e.reason));
            }
            let stage = e.to_stage.max(0) as usize;
            spans.push(StageSpan {
                stage,
                label: labels.get(stage).cloned().unwrap_or_default(),
                entered_at: e.stage_entered_at.unwrap_or(e.at),
                left_at: None,
                time_spent_secs: 0,
                paused_secs: 0,
                holds: Vec::new(),
                ended_by: None,
            });
            open = true;
            paused_since = (e.to_status == "paused").then_some(e.at);
            continue;
        }
        let Some(last) = spans.last_mut() else {
            continue;
        };
        if !open {
            continue;
        }
        match (e.from_status.as_deref(), e.to_status.as_str()) {
            (Some(from), to) if from != "paused" && to == "paused" => paused_since = Some(e.at),
            (Some("paused"), to) if to != "paused" => {
                if let Some(p) = paused_since.take() {
                    last.paused_secs += (e.at - p).num_seconds().max(0);
                }
            }
            _ => {}
        }
        if e.action == "hold" {
            last.holds.push(HoldEvent {
                at: e.at,
                reason: e.reason.clone(),
            });
        }
        if e.to_status == "rolled_back" {
            last.left_at = Some(e.at);
            last.ended_by = Some(format!("{}: {}", e.action, e.reason));
            open = false;
        }
    }
    if let (true, Some(last), Some(p)) = (open, spans.last_mut(), paused_since) {
        last.paused_secs += (now - p).num_seconds().max(0);
    }
    for s in &mut spans {
        s.time_spent_secs = (s.left_at.unwrap_or(now) - s.entered_at)
            .num_seconds()
            .max(0);
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn row(
        h: i64,
        action: &str,
        from: Option<i64>,
        to: i64,
        from_status: Option<&str>,
        to_status: &str,
    ) -> EventRow {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::hours(h);
        EventRow {
            id: h,
            rollout: "r".into(),
            at,
            actor: "t".into(),
            action: action.into(),
            reason: format!("why {action}"),
            from_stage: from,
            to_stage: to,
            from_status: from_status.map(str::to_owned),
            to_status: to_status.into(),
            state_version: h,
            flags_version: h,
            flags: Default::default(),
            stage_entered_at: None,
        }
    }

    #[test]
    fn spans_of_the_last_attempt_with_holds_and_pauses() {
        let labels: Vec<String> = ["shadow", "ab_test:10", "full"].map(String::from).to_vec();
        let events = vec![
            row(0, "start", None, 0, None, "running"),
            row(10, "rollback", Some(0), 0, Some("running"), "rolled_back"),
            row(20, "restart", Some(0), 0, Some("rolled_back"), "running"),
            row(30, "pause", Some(0), 0, Some("running"), "paused"),
            row(32, "resume", Some(0), 0, Some("paused"), "running"),
            row(40, "hold", Some(0), 0, Some("running"), "blocked"),
            row(44, "advance", Some(0), 1, Some("blocked"), "running"),
            row(50, "rollback", Some(1), 1, Some("running"), "rolled_back"),
        ];
        let now = events[7].at + Duration::hours(5);
        let spans = attempt_spans(&events, &labels, now);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].stage, 0);
        assert_eq!(spans[0].time_spent_secs, 24 * 3600);
        assert_eq!(spans[0].paused_secs, 2 * 3600);
        assert_eq!(spans[0].holds.len(), 1);
        assert_eq!(spans[0].ended_by.as_deref(), Some("advance: why advance"));
        assert_eq!(spans[1].label, "ab_test:10");
        assert_eq!(spans[1].time_spent_secs, 6 * 3600);
        assert_eq!(spans[1].ended_by.as_deref(), Some("rollback: why rollback"));
        assert!(attempt_spans(&[], &labels, now).is_empty());
    }
}
