//! Observations of the A/B test and their CSV form:
//! `unit,variant,metric,value[,observed_at][,event_id]` (an empty variant: the assignment
//! rule's), loaded whole or not at all.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::placement::{ObservationInput, StageEntry};
use crate::assignment::Variant;

/// An observation as stored: placed by [`super::admit`] in the variant the assignment rule
/// gave its unit and in the stage entry in force when it was observed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    pub unit: String,
    pub variant: Variant,
    pub metric: String,
    pub value: f64,
    pub observed_at: DateTime<Utc>,
    pub event_id: Option<String>,
    /// `None`: observed while no stage exposed units (kept for audit, never analysed).
    pub entry: Option<StageEntry>,
}

/// One problem in an input file, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

/// Every problem found in an input; nothing was written.
#[derive(Debug, Clone, thiserror::Error)]
pub struct InputErrors {
    pub source_name: String,
    pub errors: Vec<RowError>,
}

impl std::fmt::Display for InputErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = 50;
        for (i, e) in self.errors.iter().take(shown).enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}: {}", self.source_name, e.line, e.message)?;
        }
        if self.errors.len() > shown {
            write!(f, "\n... and {} more errors", self.errors.len() - shown)?;
        }
        write!(f, "\n{} bad row(s); nothing was written", self.errors.len())
    }
}

/// Checks one observation's fields; shared by the CSV and JSON inputs. An empty `variant`
/// is no claim (the assignment rule decides).
pub fn check(
    unit: &str,
    variant: &str,
    metric: &str,
    value: f64,
    event_id: Option<&str>,
) -> Result<Option<Variant>, String> {
    if unit.is_empty() {
        return Err("unit is missing".into());
    }
    // PostgreSQL text cannot hold U+0000; refused on every store alike.
    for (name, v) in [
        ("unit", unit),
        ("metric", metric),
        ("event_id", event_id.unwrap_or("")),
    ] {
        if v.contains('\0') {
            return Err(format!("{name} contains a NUL character"));
        }
    }
    if event_id.is_some_and(|e| e.len() > 256) {
        return Err("event_id is longer than 256 bytes".into());
    }
    if unit.len() > 256 {
        return Err("unit is longer than 256 bytes".into());
    }
    if metric.trim().is_empty() || metric.len() > 64 {
        return Err("metric must be 1-64 characters".into());
    }
    if !value.is_finite() {
        return Err(format!("value must be a finite number, got {value}"));
    }
    if variant.is_empty() {
        return Ok(None);
    }
    Variant::parse(variant)
        .map(Some)
        .ok_or_else(|| format!("variant must be control, treatment or empty, got {variant:?}"))
}

const COLUMNS: &[&str] = &[
    "unit",
    "variant",
    "metric",
    "value",
    "observed_at",
    "event_id",
];

/// Reads a CSV file whole: `header` checks the header (its message is line 1's error),
/// `row` turns each record (with its line and the header's width) into a value. Every
/// row, or every problem with its line; a file without rows is an error.
pub(crate) fn read_csv<T>(
    source_name: &str,
    data: &[u8],
    header: impl Fn(&[String]) -> Result<(), String>,
    mut row: impl FnMut(&csv::StringRecord, u64, usize) -> Result<T, String>,
) -> Result<Vec<T>, InputErrors> {
    let fail = |errors| InputErrors {
        source_name: source_name.to_owned(),
        errors,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let names: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => {
            return Err(fail(vec![RowError {
                line: 1,
                message: format!("cannot read the header: {e}"),
            }]))
        }
    };
    if let Err(message) = header(&names) {
        return Err(fail(vec![RowError { line: 1, message }]));
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError {
                    line,
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        match row(&record, line, names.len()) {
            Ok(o) => rows.push(o),
            Err(message) => errors.push(RowError { line, message }),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(RowError {
            line: 1,
            message: "no rows".into(),
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(fail(errors))
    }
}

/// Parses a CSV file of observations; `now` stamps rows without `observed_at`.
pub fn parse_csv(
    source_name: &str,
    data: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<ObservationInput>, InputErrors> {
    let required = &COLUMNS[..4];
    let header = |h: &[String]| {
        if h.len() < 4 || h.len() > 6 || h.iter().zip(COLUMNS).any(|(h, c)| h != c) {
            return Err(format!(
                "the header must be {}[,observed_at][,event_id], got {}",
                required.join(","),
                h.join(",")
            ));
        }
        Ok(())
    };
    read_csv(source_name, data, header, |r, line, columns| {
        row(r, line, columns, now)
    })
}

fn row(
    r: &csv::StringRecord,
    line: u64,
    columns: usize,
    now: DateTime<Utc>,
) -> Result<ObservationInput, String> {
    if r.len() != columns {
        return Err(format!("expected {columns} fields, got {}", r.len()));
    }
    let field = |i: usize| r.get(i).unwrap_or("");
    let value: f64 = field(3)
        .parse()
        .map_err(|_| format!("value must be a number, got {:?}", field(3)))?;
    let event_id = Some(field(5)).filter(|s| !s.is_empty());
    let variant = check(field(0), field(1), field(2), value, event_id)?;
    let observed_at = match field(4) {
        "" => now,
        t => crate::timestamp::parse(t).map_err(|e| format!("observed_at: {e}"))?,
    };
    let event_id = event_id.map(str::to_owned);
    Ok(ObservationInput {
        line,
        unit: field(0).to_owned(),
        variant,
        metric: field(2).to_owned(),
        value,
        observed_at,
        event_id,
    })
}

/// What an ingest wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    pub inserted: u64,
    /// Rows whose `event_id` was already stored (re-deliveries); skipped.
    pub duplicates: u64,
}
