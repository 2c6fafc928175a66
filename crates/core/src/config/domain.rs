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

/// A positive length of time written as a whole number and one unit letter: `90s`, `15m`,
/// `24h`, `7d`, `2w`. Upper-case `S`, `H`, `D` and `W` mean the same units; `M` is refused
/// (minutes or months?), and so are fractions, spaces, words and other units (`ms`, `y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StageDuration(Duration);

/// The units a duration may be written in, and their length in seconds.
const UNITS: &[(char, u64)] = &[
    ('w', 7 * 86_400),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

/// The longest duration accepted.
const MAX_SECS: u64 = 10 * 365 * 86_400;

const FORM: &str =
    "write a whole number and one unit: s, m, h, d or w (e.g. 90s, 15m, 24h, 7d, 2w)";

impl StageDuration {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let invalid = |hint: Option<String>| match hint {
            Some(h) => format!("invalid duration {s:?}: {h}"),
            None => format!("invalid duration {s:?}: {FORM}"),
        };
        if number.is_empty() || unit.is_empty() {
            return Err(invalid(hint(t)));
        }
        let letter = match unit {
            "M" => {
                return Err(invalid(Some(
                    "`M` could mean minutes or months: write `m` for minutes, or days for months (e.g. 30d)"
                        .into(),
                )))
            }
            u if u.len() == 1 => u.chars().next().map(|c| c.to_ascii_lowercase()),
            _ => None,
        };
        let Some(per) = letter.and_then(|l| UNITS.iter().find(|(c, _)| *c == l).map(|u| u.1))
        else {
            return Err(invalid(hint(t)));
        };
        let too_long = || format!("duration {s:?} is longer than ten years");
        let n: u64 = number.parse().map_err(|_| too_long())?;
        let secs = n.checked_mul(per).ok_or_else(too_long)?;
        if secs == 0 {
            return Err(format!("duration must be positive, got {s:?}"));
        }
        if secs > MAX_SECS {
            return Err(too_long());
        }
        Ok(StageDuration(Duration::from_secs(secs)))
    }

    pub fn get(self) -> Duration {
        self.0
    }

    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).expect("bounded to ten years at parse time")
    }
}

/// What to write instead of `text`, when the mistake is a familiar one.
fn hint(text: &str) -> Option<String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    if number.is_empty() {
        return None;
    }
    let letter = match unit.as_str() {
        "" => {
            return Some(format!(
                "a duration needs a unit: s, m, h, d or w (e.g. {number}s or {number}d)"
            ))
        }
        "y" | "yr" | "yrs" | "year" | "years" => {
            return Some("years vary in length: write days or weeks (e.g. 365d, 52w)".into())
        }
        "mo" | "mon" | "month" | "months" => {
            return Some("months vary in length: write days or weeks (e.g. 30d, 4w)".into())
        }
        "ms" | "us" | "µs" | "ns" | "msec" | "millis" | "milliseconds" => {
            return Some("the smallest unit is the second (s)".into())
        }
        "s" | "sec" | "secs" | "second" | "seconds" => 's',
        "m" | "min" | "mins" | "minute" | "minutes" => 'm',
        "h" | "hr" | "hrs" | "hour" | "hours" => 'h',
        "d" | "day" | "days" => 'd',
        "w" | "wk" | "wks" | "week" | "weeks" => 'w',
        _ => return None,
    };
    if number.contains('.') {
        let per = UNITS.iter().find(|(c, _)| *c == letter).map_or(1, |u| u.1);
        let secs = number.parse::<f64>().ok()? * per as f64;
        // The same length in a smaller unit, if it is a whole number of one.
        let exact = UNITS
            .iter()
            .filter(|(_, p)| *p < per)
            .find(|(_, p)| (secs / *p as f64).fract() == 0.0 && secs >= *p as f64);
        return Some(match exact {
            Some((c, p)) => format!("whole numbers only: write {}{c}", secs as u64 / p),
            None => format!("whole numbers only; {FORM}"),
        });
    }
    Some(format!("write {number}{letter}"))
}

/// In the largest unit that divides it exactly: `2w` (not `14d`), `10d`, `36h`, `90m`, `45s`.
/// What is printed parses back to the same duration.
impl fmt::Display for StageDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (unit, per) = UNITS
            .iter()
            .find(|(_, per)| secs.is_multiple_of(*per))
            .copied()
            .unwrap_or(('s', 1));
        write!(f, "{}{unit}", secs / per)
    }
}

impl<'de> Deserialize<'de> for StageDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = StageDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 90s, 15m, 24h, 7d or 2w")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<StageDuration, E> {
                StageDuration::parse(s).map_err(E::custom)
            }
            // A bare number is ambiguous (seconds? days?), so only text is accepted.
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<StageDuration, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: s, m, h, d or w (e.g. {n}s or {n}d)"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<StageDuration, E> {
                Err(E::custom(format!(
                    "a duration is a positive number with a unit, got {n}"
                )))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<StageDuration, E> {
                Err(E::custom(format!(
                    "a duration is a whole number with a unit (e.g. 90m rather than 1.5h), got {n}"
                )))
            }
        }
        d.deserialize_any(Text)
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
        let secs = |s: &str| StageDuration::parse(s).unwrap().get().as_secs();
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("15m"), 900);
        assert_eq!(secs("24h"), 86_400);
        assert_eq!(secs("7d"), 604_800);
        assert_eq!(secs("2w"), 1_209_600);
        assert_eq!(secs(" 3d "), 259_200);
        // Upper-case units are the same units; `M` is ambiguous and refused.
        assert_eq!(secs("48H"), 48 * 3_600);
        assert_eq!(secs("7D"), 604_800);
        assert_eq!(secs("2W"), 1_209_600);
        assert_eq!(secs("30S"), 30);
        for bad in [
            "0s",
            "seven days",
            "2 days",
            "1y",
            "100ms",
            "1M",
            "1.5h",
            "90",
            "d",
            "",
            "-1d",
            "1d2h",
            "1 d",
            "100000d",
            "99999999999999999999s",
        ] {
            assert!(StageDuration::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(StageDuration::parse("520w").is_ok());
        assert!(StageDuration::parse("3651d").is_err());
    }

    #[test]
    fn duration_messages_say_what_to_write() {
        let err = |s: &str| StageDuration::parse(s).unwrap_err();
        assert_eq!(err("2 days"), r#"invalid duration "2 days": write 2d"#);
        assert_eq!(
            err("1y"),
            r#"invalid duration "1y": years vary in length: write days or weeks (e.g. 365d, 52w)"#
        );
        assert_eq!(
            err("1M"),
            r#"invalid duration "1M": `M` could mean minutes or months: write `m` for minutes, or days for months (e.g. 30d)"#
        );
        assert_eq!(
            err("100ms"),
            r#"invalid duration "100ms": the smallest unit is the second (s)"#
        );
        assert_eq!(
            err("banana"),
            r#"invalid duration "banana": write a whole number and one unit: s, m, h, d or w (e.g. 90s, 15m, 24h, 7d, 2w)"#
        );
        assert_eq!(
            err("1.5h"),
            r#"invalid duration "1.5h": whole numbers only: write 90m"#
        );
        assert_eq!(
            err("2.5d"),
            r#"invalid duration "2.5d": whole numbers only: write 60h"#
        );
        assert!(err("0.3s").contains("whole numbers only; write a whole number"));
        assert_eq!(err("0s"), r#"duration must be positive, got "0s""#);
    }

    #[test]
    fn durations_print_in_the_largest_exact_unit() {
        let show = |s: &str| StageDuration::parse(s).unwrap().to_string();
        assert_eq!(show("14d"), "2w");
        assert_eq!(show("7d"), "1w");
        assert_eq!(show("10d"), "10d");
        assert_eq!(show("36h"), "36h");
        assert_eq!(show("48H"), "2d");
        assert_eq!(show("90m"), "90m");
        assert_eq!(show("5400s"), "90m");
        assert_eq!(show("90s"), "90s");
        // Every printed duration reads back as the same duration.
        for s in ["1s", "61s", "59m", "25h", "8d", "3w", "520w"] {
            let d = StageDuration::parse(s).unwrap();
            assert_eq!(StageDuration::parse(&d.to_string()).unwrap(), d);
        }
    }

    #[test]
    fn a_bare_number_is_not_a_duration() {
        let e = serde_yaml::from_str::<StageDuration>("90").unwrap_err();
        assert!(e.to_string().contains("needs a unit"), "{e}");
        let d: StageDuration = serde_yaml::from_str("90m").unwrap();
        assert_eq!(d.get().as_secs(), 5_400);
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
