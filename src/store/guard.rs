//! Row types of guardrail readings, configured queries and the webhook outbox.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

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
