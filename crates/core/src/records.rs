//! The records rollout persists and reads back: flags, history, guardrail readings,
//! configured-query values, the webhook outbox, learning counts and weights history, the
//! leader row and pending holds.
//! Plain data: the store crate reads and writes them, everything above uses them.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::weights::Weights;

/// An aggregate over a window: how many observations, and the value (if any).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WindowValue {
    pub n: u64,
    pub value: Option<f64>,
}

/// A value bound to a configured query's placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryParam {
    Text(String),
    Time(DateTime<Utc>),
}

/// A cell returned by a configured query.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

impl SqlValue {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SqlValue::Number(v) => Some(*v),
            SqlValue::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            SqlValue::Text(t) => t.trim().parse().ok(),
            SqlValue::Null => None,
        }
    }
}

impl fmt::Display for SqlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlValue::Null => f.write_str("NULL"),
            SqlValue::Bool(b) => write!(f, "{b}"),
            SqlValue::Number(v) => write!(f, "{v}"),
            SqlValue::Text(t) => write!(f, "{t:?}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingStatus {
    Ok,
    Breach,
    InsufficientData,
    /// The value could not be measured (a failing query).
    Error,
}

impl ReadingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadingStatus::Ok => "ok",
            ReadingStatus::Breach => "breach",
            ReadingStatus::InsufficientData => "insufficient_data",
            ReadingStatus::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<ReadingStatus> {
        Some(match s {
            "ok" => ReadingStatus::Ok,
            "breach" => ReadingStatus::Breach,
            "insufficient_data" => ReadingStatus::InsufficientData,
            "error" => ReadingStatus::Error,
            _ => return None,
        })
    }
}

/// One evaluation of one guardrail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardrailReading {
    pub guardrail: String,
    pub status: ReadingStatus,
    /// Breaches in a row, this one included.
    pub consecutive: u32,
    /// The treatment's value (or the query's number).
    pub value: Option<f64>,
    /// Control's value, for relative guardrails.
    pub control_value: Option<f64>,
    pub n: u64,
    pub detail: String,
    pub evaluated_at: DateTime<Utc>,
}

/// A queued webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub event_id: i64,
    pub rollout: String,
    pub url: String,
    pub payload: String,
    pub attempts: i64,
}

/// A row of `rollout_flags`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagRow {
    pub key: String,
    pub value: String,
    pub rollout: String,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub reason: String,
}

/// All flags, read in one snapshot, with the table version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagTable {
    pub version: i64,
    pub flags: Vec<FlagRow>,
}

/// A row of `rollout_events`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub rollout: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub reason: String,
    pub from_stage: Option<i64>,
    pub to_stage: i64,
    pub from_status: Option<String>,
    pub to_status: String,
    pub state_version: i64,
    pub flags_version: i64,
    /// Key → new value, or `None` for a removed key.
    pub flags: BTreeMap<String, Option<String>>,
    /// When the state this row wrote entered its stage (`None` in rows written before the
    /// history kept it).
    #[serde(skip)]
    pub stage_entered_at: Option<DateTime<Utc>>,
}

/// One committed change of the flags table, as the event stream sends it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagChange {
    /// The table version after the change.
    pub version: i64,
    pub rollout: String,
    /// Key → new value, or `None` for a removed key.
    pub changed: BTreeMap<String, Option<String>>,
}

/// What a commit wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    pub state_version: i64,
    pub flags_version: i64,
    pub changed: BTreeMap<String, Option<String>>,
}

/// Who writes: the daemon (fenced by its leader epoch) or a person at the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    pub actor: String,
    pub epoch: Option<i64>,
}

impl Writer {
    pub fn person(actor: impl Into<String>) -> Writer {
        Writer {
            actor: actor.into(),
            epoch: None,
        }
    }
}

/// The leader row (`rollout_leader`): who holds the current epoch, since when, and when a
/// leader last finished an evaluation pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderRecord {
    pub epoch: i64,
    /// `daemon@HOST:PID`, or `tick:PERSON` ([`ONE_OFF_HOLDER`]) for a one-off `rollout
    /// tick`; `None` before anyone led.
    pub holder: Option<String>,
    pub acquired_at: Option<DateTime<Utc>>,
    /// When the last evaluation pass finished (whoever led then).
    pub last_tick_at: Option<DateTime<Utc>>,
    /// How often the daemon that recorded `last_tick_at` ticks; `None` for a one-off
    /// `rollout tick`.
    pub tick_interval_secs: Option<u64>,
    /// Until when `holder`'s leadership lease runs; `None` when nobody holds it.
    pub lease_until: Option<DateTime<Utc>>,
}

/// How the holder of a one-off `rollout tick`'s lease begins: `tick:PERSON`.
pub const ONE_OFF_HOLDER: &str = "tick:";

impl LeaderRecord {
    /// Whether some process holds an unexpired lease at `now`.
    pub fn leads_at(&self, now: DateTime<Utc>) -> bool {
        self.lease_until.is_some_and(|t| t >= now)
    }

    /// The daemon that holds an unexpired lease at `now`, if one does (a one-off `rollout
    /// tick` is no daemon: it judges nothing after its pass).
    pub fn daemon_at(&self, now: DateTime<Utc>) -> Option<&str> {
        let holder = self.holder.as_deref()?;
        (self.leads_at(now) && !holder.starts_with(ONE_OFF_HOLDER)).then_some(holder)
    }
}

/// What claiming the leadership lease gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// This holder leads until `until`, under `epoch`.
    Held {
        epoch: i64,
        /// The epoch is new: this holder just started leading (took over, or asked for a
        /// fresh epoch).
        fresh: bool,
        until: DateTime<Utc>,
        /// Who held the lease before, when this claim took it over.
        took_over_from: Option<String>,
    },
    /// Another holder's lease runs until `until`.
    Elsewhere {
        holder: Option<String>,
        until: DateTime<Utc>,
    },
}

/// Why a pending rollout has not started: the safety check that failed on its last tick.
/// Pending rollouts have no state row; this is their only record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingHold {
    pub rollout: String,
    pub reason: String,
    /// The first tick that failed with this reason.
    pub since: DateTime<Utc>,
    /// The last tick that failed with it.
    pub checked_at: DateTime<Utc>,
}

/// One value per A/B variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PerVariant<T> {
    pub control: T,
    pub treatment: T,
}

impl<T> PerVariant<T> {
    pub fn get_mut(&mut self, variant: &str) -> Option<&mut T> {
        match variant {
            "control" => Some(&mut self.control),
            "treatment" => Some(&mut self.treatment),
            _ => None,
        }
    }
}

/// Row counts of one analysis window, for the inputs summary and the success rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LearningCounts {
    pub discoveries: u64,
    pub theses: u64,
    /// Trades closed in the window with a return.
    pub outcomes: u64,
    /// Of those, the ones with return > 0.
    pub positive_outcomes: u64,
}

/// A row of the weights history: one computation, published or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsRecord {
    pub rollout: String,
    pub computed_at: DateTime<Utc>,
    pub current: Weights,
    pub suggested: Weights,
    pub final_weights: Weights,
    pub fallback: bool,
    pub reason: String,
    pub confidence: Option<f64>,
    pub sample_size: u64,
    pub regime: Option<String>,
    pub inputs: serde_json::Value,
}

/// The configuration the controller acted on, as recorded in the store: what manual actions
/// fall back to when the file is broken or missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedConfig {
    /// The file's text.
    pub content: String,
    /// SHA-256 of `content`, hex.
    pub hash: String,
    /// Where it was read from (the file's path).
    pub source: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

impl RecordedConfig {
    pub fn new(
        content: impl Into<String>,
        source: impl Into<String>,
        recorded_by: impl Into<String>,
        now: DateTime<Utc>,
    ) -> RecordedConfig {
        use sha2::{Digest, Sha256};
        let content = content.into();
        let hash = Sha256::digest(content.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        RecordedConfig {
            content,
            hash,
            source: source.into(),
            recorded_at: now,
            recorded_by: recorded_by.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_daemon_with_a_live_lease_is_the_daemon_at_a_time() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let lease = |holder: &str, secs: i64| LeaderRecord {
            holder: Some(holder.into()),
            lease_until: Some(now + chrono::Duration::seconds(secs)),
            ..LeaderRecord::default()
        };
        assert_eq!(lease("daemon@h:1", 10).daemon_at(now), Some("daemon@h:1"));
        assert_eq!(lease("daemon@h:1", -1).daemon_at(now), None, "expired");
        assert_eq!(lease("tick:alice", 10).daemon_at(now), None, "one-off");
        assert_eq!(LeaderRecord::default().daemon_at(now), None, "nobody");
    }
}
