//! Validated newtypes for the values a release manager writes in `rollout.yaml`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Share of units, in (0, 100].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percentage(f64);

impl Percentage {
    pub const HUNDRED: Percentage = Percentage(100.0);

    pub fn new(value: f64) -> Result<Self, String> {
        if !value.is_finite() {
            return Err(format!("percentage must be a finite number, got {value}"));
        }
        if value <= 0.0 || value > 100.0 {
            return Err(format!("percentage must be in (0, 100], got {value}"));
        }
        Ok(Percentage(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// Plain number text, as the flags table stores it: `5`, `25`, `0.5`.
impl fmt::Display for Percentage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Percentage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(d)?;
        Percentage::new(value).map_err(serde::de::Error::custom)
    }
}

/// A rollout's name: lower-case letters, digits, `-` and `_`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RolloutName(String);

impl RolloutName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        let first_ok = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if s.is_empty() || s.len() > 63 || !first_ok || !s.chars().all(ok_char) {
            return Err(format!(
                "rollout name {s:?} must be 1-63 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"
            ));
        }
        Ok(RolloutName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RolloutName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RolloutName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RolloutName::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
}

/// The full name of a flag row, e.g. `LEARNING_MODE`: upper-case letters, digits and `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlagKey(String);

impl FlagKey {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 128 || !s.chars().all(is_key_char) {
            return Err(format!(
                "flag key {s:?} must be 1-128 characters of A-Z, 0-9 and '_'"
            ));
        }
        Ok(FlagKey(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FlagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FlagKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FlagKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The prefix every flag of one rollout starts with, e.g. `LEARNING_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlagPrefix(String);

impl FlagPrefix {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 || !s.chars().all(is_key_char) {
            return Err(format!(
                "flag prefix {s:?} must be 1-64 characters of A-Z, 0-9 and '_'"
            ));
        }
        Ok(FlagPrefix(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full key of a standard flag, e.g. `LEARNING_` + `MODE`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.0, suffix)
    }
}

impl fmt::Display for FlagPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FlagPrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FlagPrefix::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A positive stage length written as `90s`, `15m`, `24h` or `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StageDuration(Duration);

impl StageDuration {
    pub fn parse(s: &str) -> Result<Self, String> {
        let d = humantime::parse_duration(s.trim())
            .map_err(|e| format!("invalid duration {s:?} ({e}); write e.g. 90s, 15m, 24h or 7d"))?;
        if d.is_zero() {
            return Err(format!("duration must be positive, got {s:?}"));
        }
        if chrono::Duration::from_std(d).is_err() || d > Duration::from_secs(10 * 365 * 86_400) {
            return Err(format!("duration {s:?} is longer than ten years"));
        }
        Ok(StageDuration(d))
    }

    pub fn get(self) -> Duration {
        self.0
    }

    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).expect("bounded to ten years at parse time")
    }
}

/// The largest whole unit: `7d`, `36h`, `90m`, `45s`.
impl fmt::Display for StageDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (n, unit) = match secs {
            s if s % 86_400 == 0 => (s / 86_400, "d"),
            s if s % 3_600 == 0 => (s / 3_600, "h"),
            s if s % 60 == 0 => (s / 60, "m"),
            s => (s, "s"),
        };
        if self.0.subsec_nanos() != 0 {
            return write!(f, "{}", humantime::format_duration(self.0));
        }
        write!(f, "{n}{unit}")
    }
}

impl<'de> Deserialize<'de> for StageDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A bare number is ambiguous (seconds? days?), so only text is accepted.
        let s = String::deserialize(d)?;
        StageDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A flag value as text. YAML booleans and numbers are accepted and turned into the
/// text the flags table stores (`true`, `5`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlagValue(pub String);

impl<'de> Deserialize<'de> for FlagValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Scalar {
            Bool(bool),
            Int(i64),
            Float(f64),
            Text(String),
        }
        let text = match Scalar::deserialize(d).map_err(|_| {
            serde::de::Error::custom("flag value must be a string, number or boolean")
        })? {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) if f.is_finite() => f.to_string(),
            Scalar::Float(f) => {
                return Err(serde::de::Error::custom(format!(
                    "flag value must be finite, got {f}"
                )))
            }
            Scalar::Text(s) => s,
        };
        Ok(FlagValue(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentage_bounds() {
        assert!(Percentage::new(0.0).is_err());
        assert!(Percentage::new(-1.0).is_err());
        assert!(Percentage::new(100.5).is_err());
        assert!(Percentage::new(f64::NAN).is_err());
        assert_eq!(Percentage::new(100.0).unwrap().to_string(), "100");
        assert_eq!(Percentage::new(0.5).unwrap().to_string(), "0.5");
        assert_eq!(Percentage::new(5.0).unwrap().to_string(), "5");
    }

    #[test]
    fn durations() {
        assert_eq!(StageDuration::parse("90s").unwrap().get().as_secs(), 90);
        assert_eq!(StageDuration::parse("15m").unwrap().get().as_secs(), 900);
        assert_eq!(StageDuration::parse("24h").unwrap().get().as_secs(), 86_400);
        assert_eq!(StageDuration::parse("7d").unwrap().get().as_secs(), 604_800);
        assert!(StageDuration::parse("0s").is_err());
        assert!(StageDuration::parse("seven days").is_err());
        assert!(StageDuration::parse("100000d").is_err());
        assert_eq!(StageDuration::parse("7d").unwrap().to_string(), "7d");
        assert_eq!(StageDuration::parse("36h").unwrap().to_string(), "36h");
        assert_eq!(StageDuration::parse("90s").unwrap().to_string(), "90s");
    }

    #[test]
    fn names_and_keys() {
        assert!(RolloutName::parse("learning-intelligence").is_ok());
        assert!(RolloutName::parse("").is_err());
        assert!(RolloutName::parse("Learning").is_err());
        assert!(RolloutName::parse("-x").is_err());
        assert!(FlagKey::parse("LEARNING_MODE").is_ok());
        assert!(FlagKey::parse("learning_mode").is_err());
        assert!(FlagKey::parse("").is_err());
        assert!(FlagPrefix::parse("LEARNING_").is_ok());
        assert!(FlagPrefix::parse("LEARNING-").is_err());
    }
}
