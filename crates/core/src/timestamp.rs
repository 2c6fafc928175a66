//! Timestamps as every input path (CSV, JSONL, JSON over HTTP) accepts them: RFC 3339 with
//! an offset, e.g. `2026-01-02T03:04:05Z` or `2026-01-02T05:04:05+02:00`. A time without an
//! offset (Python's `datetime.utcnow().isoformat()`) is refused with a message that says so,
//! rather than guessed to be UTC.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

/// The form, as error messages state it.
pub const EXPECTED: &str = "an RFC 3339 timestamp with an offset, e.g. 2026-01-02T03:04:05Z";

/// Parses `text` as RFC 3339 with an offset; the error says what was wrong and what is expected.
pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let without_offset = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .any(|f| NaiveDateTime::parse_from_str(text, f).is_ok());
    if without_offset {
        return Err(format!(
            "{text:?} has no offset: expected {EXPECTED} (in Python, datetime.now(timezone.utc).isoformat())"
        ));
    }
    Err(format!("expected {EXPECTED}, got {text:?}"))
}

/// `#[serde(deserialize_with = "rollout_core::timestamp::deserialize")]`
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = TimestampText::deserialize(d)?;
    parse(&text.0).map_err(serde::de::Error::custom)
}

/// The same, for an optional field (`null` or absent: `None`; add `#[serde(default)]`).
pub fn deserialize_option<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<TimestampText>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse(&text.0).map(Some).map_err(serde::de::Error::custom),
    }
}

/// The text of a timestamp; anything else is refused with the expected form.
struct TimestampText(String);

impl<'de> Deserialize<'de> for TimestampText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = TimestampText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<TimestampText, E> {
                Ok(TimestampText(s.to_owned()))
            }
        }
        d.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_offsets_and_refuses_naive_times() {
        assert_eq!(
            parse("2026-01-02T05:04:05+02:00").unwrap(),
            parse("2026-01-02T03:04:05Z").unwrap()
        );
        let e = parse("2026-01-02T03:04:05.123456").unwrap_err();
        assert!(
            e.contains("has no offset") && e.contains("2026-01-02T03:04:05Z"),
            "{e}"
        );
        let e = parse("yesterday").unwrap_err();
        assert_eq!(
            e,
            "expected an RFC 3339 timestamp with an offset, e.g. 2026-01-02T03:04:05Z, got \"yesterday\""
        );
    }

    #[test]
    fn deserializes_with_the_message() {
        #[derive(Deserialize)]
        struct Row {
            #[serde(deserialize_with = "deserialize")]
            at: DateTime<Utc>,
            #[serde(default, deserialize_with = "deserialize_option")]
            until: Option<DateTime<Utc>>,
        }
        let r: Row = serde_json::from_str(r#"{"at": "2026-01-02T03:04:05Z"}"#).unwrap();
        assert_eq!(r.at.to_rfc3339(), "2026-01-02T03:04:05+00:00");
        assert!(r.until.is_none());
        let r: Row =
            serde_json::from_str(r#"{"at": "2026-01-02T03:04:05Z", "until": null}"#).unwrap();
        assert!(r.until.is_none());
        let e = serde_json::from_str::<Row>(r#"{"at": "2026-01-02T03:04:05"}"#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("has no offset"), "{e}");
        let e = serde_json::from_str::<Row>(r#"{"at": 5}"#).err().unwrap();
        assert!(e.to_string().contains("RFC 3339"), "{e}");
    }
}
