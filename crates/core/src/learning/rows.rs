//! The three learning tables' rows and their JSONL form (one JSON object per line, the
//! table's column names as keys), parsed and checked whole: every bad line is reported with
//! its number and nothing is written. The HTTP collection endpoints use the same checks.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::experiment::{InputErrors, RowError};

/// Which table a file loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Discovery,
    Thesis,
    Outcome,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Discovery => "discovery",
            Kind::Thesis => "thesis",
            Kind::Outcome => "outcome",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "discovery" => Ok(Kind::Discovery),
            "thesis" => Ok(Kind::Thesis),
            "outcome" => Ok(Kind::Outcome),
            other => Err(format!(
                "unknown kind {other:?}: expected discovery, thesis or outcome"
            )),
        }
    }
}

/// A row of `discovery_decisions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    pub symbol: String,
    #[serde(deserialize_with = "crate::timestamp::deserialize")]
    pub discovery_timestamp: DateTime<Utc>,
    /// Feature name → value; every value a finite number.
    pub discovery_features: BTreeMap<String, f64>,
    pub discovery_score: f64,
    pub action_tag: String,
    /// A JSON object; its `regime` (a string) selects the regime multipliers.
    #[serde(default)]
    pub market_conditions: Option<Value>,
    #[serde(default)]
    pub universe_size: Option<i64>,
}

/// A row of `thesis_decisions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thesis {
    pub symbol: String,
    #[serde(deserialize_with = "crate::timestamp::deserialize")]
    pub thesis_timestamp: DateTime<Utc>,
    pub recommendation: String,
    pub confidence_score: f64,
    #[serde(default)]
    pub thesis_text: Option<String>,
    #[serde(default)]
    pub reasoning: Option<Value>,
    #[serde(default)]
    pub ai_generated: bool,
    #[serde(default)]
    pub market_regime: Option<String>,
}

/// A row of `trade_outcomes`. A trade counts for learning once it has an exit and a return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub symbol: String,
    #[serde(deserialize_with = "crate::timestamp::deserialize")]
    pub entry_timestamp: DateTime<Utc>,
    #[serde(default, deserialize_with = "crate::timestamp::deserialize_option")]
    pub exit_timestamp: Option<DateTime<Utc>>,
    pub entry_price: f64,
    #[serde(default)]
    pub exit_price: Option<f64>,
    #[serde(default)]
    pub position_size_pct: Option<f64>,
    #[serde(default)]
    pub return_pct: Option<f64>,
    #[serde(default)]
    pub holding_period_days: Option<i64>,
    #[serde(default)]
    pub max_favorable_excursion: Option<f64>,
    #[serde(default)]
    pub max_adverse_excursion: Option<f64>,
    #[serde(default)]
    pub exit_reason: Option<String>,
}

/// Parsed rows of one kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    Discovery(Vec<Discovery>),
    Thesis(Vec<Thesis>),
    Outcome(Vec<Outcome>),
}

impl Rows {
    /// Appends `other`'s rows if they are of the same kind (they are: one kind per request).
    pub fn extend(&mut self, other: Rows) {
        match (self, other) {
            (Rows::Discovery(a), Rows::Discovery(b)) => a.extend(b),
            (Rows::Thesis(a), Rows::Thesis(b)) => a.extend(b),
            (Rows::Outcome(a), Rows::Outcome(b)) => a.extend(b),
            _ => {}
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Rows::Discovery(_) => Kind::Discovery,
            Rows::Thesis(_) => Kind::Thesis,
            Rows::Outcome(_) => Kind::Outcome,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Rows::Discovery(v) => v.len(),
            Rows::Thesis(v) => v.len(),
            Rows::Outcome(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What an ingest stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LearningIngest {
    pub inserted: u64,
    /// Rows whose key (symbol and timestamp) was already stored.
    pub duplicates: u64,
}

fn text(field: &str, v: &str, max: usize) -> Result<(), String> {
    if v.trim().is_empty() || v.chars().count() > max {
        return Err(format!("{field} must be 1-{max} characters"));
    }
    no_nul(field, v)
}

/// PostgreSQL's text and JSONB cannot hold U+0000; refused on every store alike.
fn no_nul(field: &str, v: &str) -> Result<(), String> {
    if v.contains('\0') {
        return Err(format!("{field} contains a NUL character"));
    }
    Ok(())
}

fn json_no_nul(field: &str, v: &Value) -> Result<(), String> {
    if v.to_string().contains("\\u0000") {
        return Err(format!("{field} contains a NUL character"));
    }
    Ok(())
}

/// The columns are 32-bit integers on PostgreSQL.
fn int32(field: &str, v: Option<i64>) -> Result<(), String> {
    match v {
        Some(v) if !(0..=i64::from(i32::MAX)).contains(&v) => {
            Err(format!("{field} must be between 0 and {}", i32::MAX))
        }
        _ => Ok(()),
    }
}

fn finite(field: &str, v: f64) -> Result<(), String> {
    if !v.is_finite() {
        return Err(format!("{field} must be a finite number"));
    }
    Ok(())
}

fn symbol(v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > 10 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "symbol {v:?} must be 1-10 characters without spaces"
        ));
    }
    Ok(())
}

impl Discovery {
    /// The field rules beyond types.
    pub fn check(&self) -> Result<(), String> {
        symbol(&self.symbol)?;
        for (k, v) in &self.discovery_features {
            text("a feature name", k, 64)?;
            finite(&format!("discovery_features.{k}"), *v)?;
        }
        finite("discovery_score", self.discovery_score)?;
        text("action_tag", &self.action_tag, 20)?;
        match &self.market_conditions {
            None | Some(Value::Object(_)) => {}
            Some(_) => return Err("market_conditions must be a JSON object".into()),
        }
        int32("universe_size", self.universe_size)?;
        if let Some(m) = &self.market_conditions {
            json_no_nul("market_conditions", m)?;
        }
        Ok(())
    }

    /// `market_conditions.regime`, if it is a string.
    pub fn regime(&self) -> Option<&str> {
        self.market_conditions.as_ref()?.get("regime")?.as_str()
    }
}

impl Thesis {
    pub fn check(&self) -> Result<(), String> {
        symbol(&self.symbol)?;
        text("recommendation", &self.recommendation, 20)?;
        finite("confidence_score", self.confidence_score)?;
        if let Some(r) = &self.market_regime {
            text("market_regime", r, 20)?;
        }
        if let Some(t) = &self.thesis_text {
            no_nul("thesis_text", t)?;
        }
        if let Some(r) = &self.reasoning {
            json_no_nul("reasoning", r)?;
        }
        Ok(())
    }
}

impl Outcome {
    pub fn check(&self) -> Result<(), String> {
        symbol(&self.symbol)?;
        if !(self.entry_price.is_finite() && self.entry_price > 0.0) {
            return Err("entry_price must be a positive number".into());
        }
        if let Some(p) = self.exit_price {
            if !(p.is_finite() && p > 0.0) {
                return Err("exit_price must be a positive number".into());
            }
        }
        for (name, v) in [
            ("position_size_pct", self.position_size_pct),
            ("return_pct", self.return_pct),
            ("max_favorable_excursion", self.max_favorable_excursion),
            ("max_adverse_excursion", self.max_adverse_excursion),
        ] {
            if let Some(v) = v {
                finite(name, v)?;
            }
        }
        if let Some(exit) = self.exit_timestamp {
            if exit < self.entry_timestamp {
                return Err("exit_timestamp is before entry_timestamp".into());
            }
        }
        int32("holding_period_days", self.holding_period_days)?;
        if let Some(r) = &self.exit_reason {
            text("exit_reason", r, 50)?;
        }
        Ok(())
    }
}

/// serde_json appends " at line L column C"; the line is the file's, printed in front.
fn message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Deserializes one JSON object; an error names the field it is about
/// (`exit_timestamp: expected an RFC 3339 timestamp ...`).
fn from_json<T: serde::de::DeserializeOwned>(text: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = message(e.inner());
        // An unknown top-level key is named by the message itself.
        if path == "." || inner.starts_with(&format!("unknown field `{path}`")) {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })?;
    de.end().map_err(|e| message(&e))?;
    Ok(value)
}

fn parse_lines<T: serde::de::DeserializeOwned>(
    source: &str,
    data: &[u8],
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Vec<T>, InputErrors> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) => {
            return Err(InputErrors {
                source_name: source.to_owned(),
                errors: vec![RowError {
                    line: 1,
                    message: format!("not UTF-8 text: {e}"),
                }],
            })
        }
    };
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        match from_json::<T>(line.as_bytes()) {
            Ok(row) => match check(&row) {
                Ok(()) => rows.push(row),
                Err(message) => errors.push(RowError {
                    line: line_no,
                    message,
                }),
            },
            Err(message) => errors.push(RowError {
                line: line_no,
                message,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(InputErrors {
            source_name: source.to_owned(),
            errors,
        });
    }
    Ok(rows)
}

/// Parses a JSONL file of `kind`: all rows, or every error with its line number.
pub fn parse_jsonl(kind: Kind, source: &str, data: &[u8]) -> Result<Rows, InputErrors> {
    Ok(match kind {
        Kind::Discovery => Rows::Discovery(parse_lines(source, data, Discovery::check)?),
        Kind::Thesis => Rows::Thesis(parse_lines(source, data, Thesis::check)?),
        Kind::Outcome => Rows::Outcome(parse_lines(source, data, Outcome::check)?),
    })
}

/// Parses and checks one JSON object of `kind` (an HTTP request body, say).
pub fn parse_object(kind: Kind, text: &[u8]) -> Result<Rows, String> {
    fn one<T: serde::de::DeserializeOwned>(
        text: &[u8],
        check: impl Fn(&T) -> Result<(), String>,
    ) -> Result<Vec<T>, String> {
        let row: T = from_json(text)?;
        check(&row)?;
        Ok(vec![row])
    }
    Ok(match kind {
        Kind::Discovery => Rows::Discovery(one(text, Discovery::check)?),
        Kind::Thesis => Rows::Thesis(one(text, Thesis::check)?),
        Kind::Outcome => Rows::Outcome(one(text, Outcome::check)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_one_store_could_not_hold() {
        let data = concat!(
            r#"{"symbol": "A", "discovery_timestamp": "2026-01-05T14:30:00Z", "discovery_features": {"squeeze": 1}, "discovery_score": 1, "action_tag": "t", "universe_size": 3000000000}"#,
            "\n",
            r#"{"symbol": "A", "discovery_timestamp": "2026-01-05T14:30:00Z", "discovery_features": {"squeeze": 1}, "discovery_score": 1, "action_tag": "t", "market_conditions": {"regime": "a\u0000b"}}"#,
            "\n"
        );
        let e = parse_jsonl(Kind::Discovery, "d.jsonl", data.as_bytes()).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("d.jsonl:1:") && text.contains("universe_size"),
            "{text}"
        );
        assert!(
            text.contains("d.jsonl:2:") && text.contains("NUL"),
            "{text}"
        );
    }

    #[test]
    fn a_time_without_an_offset_names_its_field_and_the_form() {
        let naive = br#"{"symbol":"AMC","entry_timestamp":"2026-01-05T09:00:00Z","exit_timestamp":"2026-01-06T09:00:00.123456","entry_price":5}"#;
        let e = parse_object(Kind::Outcome, naive).unwrap_err();
        assert!(
            e.starts_with("exit_timestamp: \"2026-01-06T09:00:00.123456\" has no offset: expected an RFC 3339 timestamp with an offset, e.g. 2026-01-02T03:04:05Z"),
            "{e}"
        );
        let e = parse_object(Kind::Discovery, br#"{"symbol":"A","discovery_timestamp":"2026-01-05T09:00:00Z","discovery_features":{"squeeze":"high"},"discovery_score":1,"action_tag":"t"}"#).unwrap_err();
        assert!(
            e.starts_with("discovery_features.squeeze: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn parses_each_kind_and_reports_every_bad_line() {
        let good = br#"{"symbol":"AMC","discovery_timestamp":"2026-01-05T09:00:00Z","discovery_features":{"squeeze":0.8},"discovery_score":0.7,"action_tag":"trade_ready","market_conditions":{"regime":"high_volatility"}}"#;
        let Rows::Discovery(d) = parse_jsonl(Kind::Discovery, "d.jsonl", good).unwrap() else {
            panic!("discovery rows")
        };
        assert_eq!(d[0].regime(), Some("high_volatility"));

        let bad = b"{\"symbol\":\"AMC\",\"entry_timestamp\":\"2026-01-05T09:00:00Z\",\"entry_price\":5}\n\n{\"symbol\":\"AMC\",\"entry_timestamp\":\"yesterday\",\"entry_price\":5}\n{\"symbol\":\"AMC\",\"entry_timestamp\":\"2026-01-05T09:00:00Z\",\"entry_price\":-1,\"exit_price\":2}\n{\"symbol\":\"AMC\",\"entry_timestamp\":\"2026-01-05T09:00:00Z\",\"entry_price\":5,\"colour\":1}\n";
        let e = parse_jsonl(Kind::Outcome, "o.jsonl", bad).unwrap_err();
        let lines: Vec<u64> = e.errors.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4, 5], "{e}");
        assert!(
            e.to_string().contains("o.jsonl:5: unknown field `colour`"),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("o.jsonl:4: entry_price must be a positive number"),
            "{e}"
        );
    }

    proptest::proptest! {
        /// Arbitrary input is an error or rows, never a panic.
        #[test]
        fn arbitrary_lines_never_panic(text in "\\PC{0,300}", kind in 0usize..3) {
            let kind = [Kind::Discovery, Kind::Thesis, Kind::Outcome][kind];
            let _ = parse_jsonl(kind, "x", text.as_bytes());
            let _ = parse_object(kind, text.as_bytes());
        }
    }

    #[test]
    fn one_object_uses_the_same_checks() {
        let ok = br#"{"symbol":"AMC","thesis_timestamp":"2026-01-05T09:00:00+01:00","recommendation":"buy","confidence_score":0.8}"#;
        let Rows::Thesis(t) = parse_object(Kind::Thesis, ok).unwrap() else {
            panic!("thesis rows")
        };
        assert_eq!(
            t[0].thesis_timestamp.to_rfc3339(),
            "2026-01-05T08:00:00+00:00"
        );
        assert!(!t[0].ai_generated);
        let long = br#"{"symbol":"AMC","thesis_timestamp":"2026-01-05T09:00:00Z","recommendation":"an extremely long recommendation","confidence_score":0.8}"#;
        assert_eq!(
            parse_object(Kind::Thesis, long).unwrap_err(),
            "recommendation must be 1-20 characters"
        );
        assert!(parse_object(Kind::Thesis, b"[]").is_err());
    }
}
