//! Errors that services report about the learning system during a rollout
//! (`POST /v1/rollouts/{name}/errors`, `rollout errors NAME FILE.csv`): the one set of
//! checks both inputs share, and the CSV form `unit,kind,message[,at]`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::config::shadow::error_kind_ok;
use crate::experiment::observation::read_csv;
use crate::experiment::InputErrors;

/// One reported error, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceError {
    /// The reporting service's unit (an account, a strategy, a host).
    pub unit: String,
    /// What kind of error: `critical`, `timeout`, ... (1-64 of a-z, 0-9, `_-.`).
    pub kind: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// The error kind the application records when a learning analysis run fails.
pub const ANALYSIS_ERROR: &str = "analysis_error";

/// How far in the future an error's `at` may be (clock skew), at most.
const SKEW: i64 = 5;

/// The checks every input shares; `at` defaults to `now`.
pub fn check(
    unit: &str,
    kind: &str,
    message: &str,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<ServiceError, String> {
    if unit.trim().is_empty() || unit.len() > 256 {
        return Err("unit must be 1-256 bytes".into());
    }
    if !error_kind_ok(kind) {
        return Err(format!(
            "kind {kind:?} must be 1-64 of a-z, 0-9, '_', '-', '.'"
        ));
    }
    if message.trim().is_empty() || message.len() > 4096 {
        return Err("message must be 1-4096 bytes".into());
    }
    for (name, v) in [("unit", unit), ("message", message)] {
        if v.contains('\0') {
            return Err(format!("{name} contains a NUL character"));
        }
    }
    let at = at.unwrap_or(now);
    if at > now + Duration::minutes(SKEW) {
        return Err(format!(
            "at {} is in the future (now {})",
            at.to_rfc3339(),
            now.to_rfc3339()
        ));
    }
    Ok(ServiceError {
        unit: unit.to_owned(),
        kind: kind.to_owned(),
        message: message.to_owned(),
        at,
    })
}

/// One error as JSON: `{"unit", "kind", "message", "at"?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorInput {
    pub unit: String,
    pub kind: String,
    pub message: String,
    #[serde(default, deserialize_with = "crate::timestamp::deserialize_option")]
    pub at: Option<DateTime<Utc>>,
}

impl ErrorInput {
    pub fn check(&self, now: DateTime<Utc>) -> Result<ServiceError, String> {
        check(&self.unit, &self.kind, &self.message, self.at, now)
    }
}

const COLUMNS: &[&str] = &["unit", "kind", "message", "at"];

/// Parses a CSV file of errors (`unit,kind,message[,at]`): every row, or every problem
/// with its line.
pub fn parse_csv(
    source_name: &str,
    data: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<ServiceError>, InputErrors> {
    let header = |h: &[String]| {
        if !(3..=4).contains(&h.len()) || h.iter().zip(COLUMNS).any(|(h, c)| h != c) {
            return Err(format!(
                "the header must be unit,kind,message[,at], got {}",
                h.join(",")
            ));
        }
        Ok(())
    };
    read_csv(source_name, data, header, |record, _, columns| {
        if record.len() != columns {
            return Err(format!("expected {columns} fields, got {}", record.len()));
        }
        let field = |i: usize| record.get(i).unwrap_or("");
        let at = match field(3) {
            "" => None,
            t => Some(crate::timestamp::parse(t).map_err(|e| format!("at: {e}"))?),
        };
        check(field(0), field(1), field(2), at, now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn csv_rows_or_every_problem_with_its_line() {
        let ok = b"unit,kind,message,at\nacct-1,critical,order rejected,2026-03-01T10:00:00Z\nacct-2,timeout,slow,\n";
        let rows = parse_csv("e.csv", ok, now()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].at, now());
        let bad = b"unit,kind,message,at\n,critical,x,\nacct,Bad Kind,x,\nacct,timeout,x,2026-03-01T10:00:00\nacct,timeout,x,2027-01-01T00:00:00Z\n";
        let e = parse_csv("e.csv", bad, now()).unwrap_err();
        let lines: Vec<u64> = e.errors.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5], "{e}");
        let text = e.to_string();
        assert!(text.contains("e.csv:3: kind \"Bad Kind\""), "{text}");
        assert!(text.contains("e.csv:4: at: "), "{text}");
        assert!(text.contains("in the future"), "{text}");
        let header = parse_csv("e.csv", b"unit,message\nx,y\n", now()).unwrap_err();
        assert!(header.to_string().contains("unit,kind,message[,at]"));
    }
}
