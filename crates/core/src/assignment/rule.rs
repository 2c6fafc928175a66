//! The rule of `docs/assignment.md`: a rollout's flags read once, then applied to units.

use std::fmt;

use super::grammar::{parse_percentage, parse_seed};
use super::{in_rollout, variant, Variant, ASSIGNMENT_VERSION};

/// What a rollout's flags say, when they let any unit on. Every unit is decided from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// `MODE = ab_test`: treatment (on) iff `u("ab") < percentage / 100`.
    AbTest { seed: u64, percentage: f64 },
    /// `MODE = rollout`: on iff `u("rollout") < percentage / 100`.
    Rollout { seed: u64, percentage: f64 },
    /// `MODE = full`: on for every unit.
    Full { seed: u64 },
}

/// Why the flags turn the new path off for every unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Off(pub String);

impl fmt::Display for Off {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `ASSIGNMENT_VERSION` flag value this implementation follows: exactly `1`.
pub fn version_supported(value: Option<&str>) -> bool {
    value == Some(ASSIGNMENT_VERSION.to_string().as_str())
}

fn shown(v: &Option<String>) -> String {
    match v {
        Some(v) => format!("{v:?}"),
        None => "missing".to_owned(),
    }
}

/// The seed when `<prefix>ASSIGNMENT_VERSION` is this version and `<prefix>SEED` is readable:
/// the draws a unit gets under these flags, whatever the mode.
pub fn seed(flag: impl Fn(&str) -> Option<String>) -> Result<u64, Off> {
    let version = flag("ASSIGNMENT_VERSION");
    if !version_supported(version.as_deref()) {
        return Err(Off(format!(
            "ASSIGNMENT_VERSION is {}; this implementation follows version {ASSIGNMENT_VERSION} only",
            shown(&version)
        )));
    }
    match flag("SEED") {
        None => Err(Off("SEED is missing".to_owned())),
        Some(s) => parse_seed(&s).map_err(|e| Off(format!("SEED {e}"))),
    }
}

impl Rule {
    /// Reads the rule from `flag(suffix)` (the value of `<prefix><suffix>`), checking, in
    /// this order, `APPLY_PARAMETERS`, `ASSIGNMENT_VERSION`, `SEED`, `MODE` and the mode's
    /// percentage. `Err` says why every unit is off.
    pub fn read(flag: impl Fn(&str) -> Option<String>) -> Result<Rule, Off> {
        let apply = flag("APPLY_PARAMETERS");
        if apply.as_deref() != Some("true") {
            return Err(Off(format!(
                "APPLY_PARAMETERS is {}, not \"true\"",
                shown(&apply)
            )));
        }
        let seed = seed(&flag)?;
        let percentage = |suffix: &str| match flag(suffix) {
            None => Err(Off(format!("{suffix} is missing"))),
            Some(v) => parse_percentage(&v).map_err(|e| Off(format!("{suffix} {e}"))),
        };
        match flag("MODE").as_deref() {
            Some("ab_test") => Ok(Rule::AbTest {
                seed,
                percentage: percentage("AB_TEST_PERCENTAGE")?,
            }),
            Some("rollout") => Ok(Rule::Rollout {
                seed,
                percentage: percentage("ROLLOUT_PERCENTAGE")?,
            }),
            Some("full") => Ok(Rule::Full { seed }),
            other => Err(Off(format!(
                "MODE is {}, not ab_test, rollout or full",
                shown(&other.map(str::to_owned))
            ))),
        }
    }

    /// Whether the new path is on for `unit`.
    pub fn enabled(&self, unit: &str) -> bool {
        match *self {
            Rule::AbTest { seed, percentage } => {
                variant(seed, unit, percentage) == Variant::Treatment
            }
            Rule::Rollout { seed, percentage } => in_rollout(seed, unit, percentage),
            Rule::Full { .. } => true,
        }
    }

    /// The unit's A/B variant in `ab_test` mode; `None` in the other modes.
    pub fn variant(&self, unit: &str) -> Option<Variant> {
        match *self {
            Rule::AbTest { seed, percentage } => Some(variant(seed, unit, percentage)),
            _ => None,
        }
    }

    pub fn seed(&self) -> u64 {
        match *self {
            Rule::AbTest { seed, .. } | Rule::Rollout { seed, .. } | Rule::Full { seed } => seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn flags(over: &[(&str, Option<&str>)]) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = [
            ("APPLY_PARAMETERS", "true"),
            ("ASSIGNMENT_VERSION", "1"),
            ("SEED", "42"),
            ("MODE", "rollout"),
            ("ROLLOUT_PERCENTAGE", "100"),
            ("AB_TEST_PERCENTAGE", "0"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in over {
            match v {
                Some(v) => m.insert((*k).to_owned(), (*v).to_owned()),
                None => m.remove(*k),
            };
        }
        m
    }

    fn read(m: &BTreeMap<String, String>) -> Result<Rule, Off> {
        Rule::read(|s| m.get(s).cloned())
    }

    #[test]
    fn reads_each_mode() {
        assert_eq!(
            read(&flags(&[])),
            Ok(Rule::Rollout {
                seed: 42,
                percentage: 100.0
            })
        );
        assert_eq!(
            read(&flags(&[
                ("MODE", Some("ab_test")),
                ("AB_TEST_PERCENTAGE", Some("12.5"))
            ])),
            Ok(Rule::AbTest {
                seed: 42,
                percentage: 12.5
            })
        );
        // `full` reads no percentage.
        assert_eq!(
            read(&flags(&[
                ("MODE", Some("full")),
                ("ROLLOUT_PERCENTAGE", None)
            ])),
            Ok(Rule::Full { seed: 42 })
        );
    }

    #[test]
    fn every_doubt_is_off_with_a_reason() {
        for (over, reason) in [
            (
                ("APPLY_PARAMETERS", Some("True")),
                "APPLY_PARAMETERS is \"True\"",
            ),
            (
                ("ASSIGNMENT_VERSION", None),
                "ASSIGNMENT_VERSION is missing",
            ),
            (
                ("ASSIGNMENT_VERSION", Some("2")),
                "ASSIGNMENT_VERSION is \"2\"",
            ),
            (
                ("ASSIGNMENT_VERSION", Some("01")),
                "ASSIGNMENT_VERSION is \"01\"",
            ),
            (("SEED", None), "SEED is missing"),
            (("SEED", Some("+42")), "SEED \"+42\" is not a seed"),
            (("MODE", Some("shadow")), "MODE is \"shadow\""),
            (("MODE", None), "MODE is missing"),
            (
                ("ROLLOUT_PERCENTAGE", Some("150")),
                "ROLLOUT_PERCENTAGE \"150\" is not a percentage",
            ),
            (
                ("ROLLOUT_PERCENTAGE", Some("1e1")),
                "ROLLOUT_PERCENTAGE \"1e1\" is not a percentage",
            ),
            (
                ("ROLLOUT_PERCENTAGE", None),
                "ROLLOUT_PERCENTAGE is missing",
            ),
        ] {
            let e = read(&flags(&[over])).unwrap_err();
            assert!(e.0.starts_with(reason), "{over:?}: {e}");
        }
    }
}
