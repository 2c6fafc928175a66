//! The cached view of the flags: the table laid over the defaults, each rollout's prefix,
//! and the assignment rule of `docs/assignment.md` applied to it.

use std::collections::{BTreeMap, HashMap};

use rollout_core::assignment::{Rule, Variant};

/// One row of `rollout_flags`, as the client needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Row {
    pub key: String,
    pub value: String,
    pub rollout: String,
}

/// The flags table at one version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub version: i64,
    pub rows: BTreeMap<String, Row>,
}

impl Table {
    /// Applies one change (key → value, `None` removes) made by `rollout`.
    pub fn apply(
        &mut self,
        version: i64,
        rollout: &str,
        changed: &BTreeMap<String, Option<String>>,
    ) {
        for (key, value) in changed {
            match value {
                Some(v) => {
                    self.rows.insert(
                        key.clone(),
                        Row {
                            key: key.clone(),
                            value: v.clone(),
                            rollout: rollout.to_owned(),
                        },
                    );
                }
                None => {
                    self.rows.remove(key);
                }
            }
        }
        self.version = version;
    }
}

/// What reads see; replaced whole on every change, never mutated.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// `None` until the first successful load: only defaults.
    pub table: Option<Table>,
    /// Defaults with the table laid over them.
    pub values: HashMap<String, String>,
    /// Rollout name → flag prefix.
    pub prefixes: HashMap<String, String>,
    /// Every value whose key ends in `WEIGHTS` that parses as weights (a JSON object of
    /// finite numbers), parsed once per snapshot: key → feature → weight.
    pub weights: HashMap<String, BTreeMap<String, f64>>,
}

impl Snapshot {
    pub fn new(defaults: &HashMap<String, String>, table: Option<Table>) -> Snapshot {
        let mut values = defaults.clone();
        let mut prefixes = HashMap::new();
        if let Some(t) = &table {
            values.extend(t.rows.values().map(|r| (r.key.clone(), r.value.clone())));
            prefixes = rollout_prefixes(t.rows.values());
        }
        let weights = values
            .iter()
            .filter(|(k, _)| k.ends_with("WEIGHTS"))
            .filter_map(|(k, v)| Some((k.clone(), parse_weights(v)?)))
            .collect();
        Snapshot {
            table,
            values,
            prefixes,
            weights,
        }
    }

    pub fn version(&self) -> Option<i64> {
        self.table.as_ref().map(|t| t.version)
    }

    /// A rollout name (prefix found from its rows) or a flag prefix with a `MODE` value.
    fn prefix<'a>(&'a self, rollout: &'a str) -> Option<&'a str> {
        if let Some(p) = self.prefixes.get(rollout) {
            return Some(p);
        }
        self.values
            .contains_key(&format!("{rollout}MODE"))
            .then_some(rollout)
    }

    fn lookup(&self, prefix: &str, suffix: &str) -> Option<&str> {
        self.values
            .get(&format!("{prefix}{suffix}"))
            .map(String::as_str)
    }

    /// The rule of `docs/assignment.md` under the rollout's flags; `None`: every unit off.
    fn rule(&self, rollout: &str) -> Option<Rule> {
        let prefix = self.prefix(rollout)?;
        Rule::read(|suffix| self.lookup(prefix, suffix).map(str::to_owned)).ok()
    }

    pub fn enabled_for(&self, rollout: &str, unit: &str) -> bool {
        self.rule(rollout).is_some_and(|r| r.enabled(unit))
    }

    /// The learned `<prefix>WEIGHTS` for a unit on the new path (as [`enabled_for`]
    /// decides), else `<prefix>CONSERVATIVE_WEIGHTS`; `None` when the rollout is unknown
    /// or the weights the unit needs are absent or unreadable. An off-path unit never gets
    /// `WEIGHTS`, even without `CONSERVATIVE_WEIGHTS`; an on-path unit whose `WEIGHTS` is
    /// absent or unreadable gets the conservative weights.
    ///
    /// [`enabled_for`]: Snapshot::enabled_for
    pub fn parameters_for(&self, rollout: &str, unit: &str) -> Option<BTreeMap<String, f64>> {
        let prefix = self.prefix(rollout)?;
        let weights = |suffix: &str| self.weights.get(&format!("{prefix}{suffix}"));
        if self.enabled_for(rollout, unit) {
            if let Some(w) = weights("WEIGHTS") {
                return Some(w.clone());
            }
        }
        weights("CONSERVATIVE_WEIGHTS").cloned()
    }

    pub fn variant(&self, rollout: &str, unit: &str) -> Option<Variant> {
        self.rule(rollout)?.variant(unit)
    }
}

/// `{"feature": weight, ...}`: a non-empty JSON object whose values are all finite numbers.
pub fn parse_weights(text: &str) -> Option<BTreeMap<String, f64>> {
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    if map.is_empty() {
        return None;
    }
    map.into_iter()
        .map(|(k, v)| Some((k, v.as_f64().filter(|w| w.is_finite())?)))
        .collect()
}

/// Each rollout's prefix: the shortest key ending in `MODE`, minus `MODE`, that prefixes
/// every key the rollout owns. A rollout without one has no prefix (off).
pub fn rollout_prefixes<'a>(rows: impl Iterator<Item = &'a Row>) -> HashMap<String, String> {
    let mut keys: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in rows {
        keys.entry(&r.rollout).or_default().push(&r.key);
    }
    let mut out = HashMap::new();
    for (rollout, keys) in keys {
        let mut candidates: Vec<&str> =
            keys.iter().filter_map(|k| k.strip_suffix("MODE")).collect();
        candidates.sort_by_key(|c| c.len());
        if let Some(p) = candidates
            .into_iter()
            .find(|p| keys.iter().all(|k| k.starts_with(p)))
        {
            out.insert(rollout.to_owned(), p.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, &str, &str)]) -> Table {
        Table {
            version: 1,
            rows: rows
                .iter()
                .map(|(k, v, r)| {
                    (
                        k.to_string(),
                        Row {
                            key: k.to_string(),
                            value: v.to_string(),
                            rollout: r.to_string(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_shortest_mode_key_that_prefixes_every_key_is_the_prefix() {
        let t = table(&[
            ("LEARNING_MODE", "full", "li"),
            ("LEARNING_FOO_MODE", "x", "li"),
            ("LEARNING_SEED", "1", "li"),
            ("OTHER_MODE", "shadow", "o"),
            ("ORPHAN", "1", "no-mode"),
        ]);
        let p = rollout_prefixes(t.rows.values());
        assert_eq!(p.get("li").map(String::as_str), Some("LEARNING_"));
        assert_eq!(p.get("o").map(String::as_str), Some("OTHER_"));
        assert_eq!(p.get("no-mode"), None);
    }

    #[test]
    fn full_mode_is_on_only_with_assignment_version_1() {
        let mut rows = vec![
            ("L_MODE", "full", "r"),
            ("L_APPLY_PARAMETERS", "true", "r"),
            ("L_SEED", "7", "r"),
        ];
        let s = Snapshot::new(&HashMap::new(), Some(table(&rows)));
        assert!(!s.enabled_for("r", "u"), "no ASSIGNMENT_VERSION: off");
        rows.push(("L_ASSIGNMENT_VERSION", "2", "r"));
        let s = Snapshot::new(&HashMap::new(), Some(table(&rows)));
        assert!(!s.enabled_for("r", "u"), "an unknown version: off");
        rows.pop();
        rows.push(("L_ASSIGNMENT_VERSION", "1", "r"));
        let s = Snapshot::new(&HashMap::new(), Some(table(&rows)));
        assert!(s.enabled_for("r", "u"));
        assert!(s.enabled_for("L_", "u"), "a prefix works too");
        assert_eq!(s.variant("r", "u"), None, "no variant outside ab_test");
        assert!(!s.enabled_for("unknown", "u"));
    }

    #[test]
    fn weights_parse_only_as_an_object_of_finite_numbers() {
        let w = parse_weights(r#"{"b":0.25,"a":0.75}"#).unwrap();
        assert_eq!(
            w.into_iter().collect::<Vec<_>>(),
            [("a".into(), 0.75), ("b".into(), 0.25)]
        );
        assert_eq!(parse_weights(r#"{"a":1}"#).unwrap()["a"], 1.0);
        for bad in [
            "",
            "null",
            "[]",
            "{}",
            r#"{"a":"0.5"}"#,
            r#"{"a":null}"#,
            r#"{"a":1e999}"#,
            "{",
        ] {
            assert_eq!(parse_weights(bad), None, "{bad:?}");
        }
    }

    const LEARNED: &str = r#"{"sentiment":0.6,"volume":0.4}"#;
    const CONSERVATIVE: &str = r#"{"sentiment":0.5,"volume":0.5}"#;

    fn weights(pairs: &[(&str, f64)]) -> Option<BTreeMap<String, f64>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn parameters_follow_the_assignment_rule() {
        let mut rows = vec![
            ("L_MODE", "ab_test", "r"),
            ("L_APPLY_PARAMETERS", "true", "r"),
            ("L_SEED", "42", "r"),
            ("L_ASSIGNMENT_VERSION", "1", "r"),
            ("L_AB_TEST_PERCENTAGE", "50", "r"),
            ("L_WEIGHTS", LEARNED, "r"),
            ("L_CONSERVATIVE_WEIGHTS", CONSERVATIVE, "r"),
        ];
        let learned = weights(&[("sentiment", 0.6), ("volume", 0.4)]);
        let conservative = weights(&[("sentiment", 0.5), ("volume", 0.5)]);
        let s = Snapshot::new(&HashMap::new(), Some(table(&rows)));
        let mut seen = [0; 2];
        for i in 0..200 {
            let u = format!("unit-{i}");
            let on = s.enabled_for("r", &u);
            let expected = if on { &learned } else { &conservative };
            assert_eq!(&s.parameters_for("r", &u), expected, "{u}");
            assert_eq!(&s.parameters_for("L_", &u), expected, "{u}, by prefix");
            seen[usize::from(on)] += 1;
        }
        assert!(seen[0] > 50 && seen[1] > 50, "{seen:?}");
        assert_eq!(s.parameters_for("unknown", "unit-1"), None);

        // Without CONSERVATIVE_WEIGHTS (an older daemon): off-path units get None, never
        // the learned weights; on-path units still get WEIGHTS.
        rows.pop();
        let s = Snapshot::new(&HashMap::new(), Some(table(&rows)));
        for i in 0..50 {
            let u = format!("unit-{i}");
            let expected = if s.enabled_for("r", &u) {
                learned.clone()
            } else {
                None
            };
            assert_eq!(s.parameters_for("r", &u), expected, "{u}");
        }
        // ... unless the service gives the conservative weights as a default.
        let defaults =
            HashMap::from([("L_CONSERVATIVE_WEIGHTS".to_owned(), CONSERVATIVE.to_owned())]);
        let s = Snapshot::new(&defaults, Some(table(&rows)));
        let off = (0..50)
            .map(|i| format!("unit-{i}"))
            .find(|u| !s.enabled_for("r", u))
            .unwrap();
        assert_eq!(s.parameters_for("r", &off), conservative);

        // Rolled back: nobody is on the new path; everyone gets the conservative weights,
        // and an unreadable WEIGHTS on the new path falls back to them too.
        let rows = [
            ("L_MODE", "full", "r"),
            ("L_APPLY_PARAMETERS", "true", "r"),
            ("L_SEED", "42", "r"),
            ("L_ASSIGNMENT_VERSION", "1", "r"),
            ("L_WEIGHTS", "not json", "r"),
            ("L_CONSERVATIVE_WEIGHTS", CONSERVATIVE, "r"),
        ];
        let s = Snapshot::new(&HashMap::new(), Some(table(&rows)));
        assert!(s.enabled_for("r", "u"));
        assert_eq!(s.parameters_for("r", "u"), conservative);
        let mut rows = rows.to_vec();
        rows[0].1 = "rolled_back";
        rows[1].1 = "false";
        rows[4].1 = LEARNED;
        let s = Snapshot::new(&HashMap::new(), Some(table(&rows)));
        assert_eq!(s.parameters_for("r", "u"), conservative);
    }

    #[test]
    fn variant_is_treatment_exactly_when_enabled_in_ab_test() {
        let rows = [
            ("L_MODE", "ab_test", "r"),
            ("L_APPLY_PARAMETERS", "true", "r"),
            ("L_SEED", "42", "r"),
            ("L_ASSIGNMENT_VERSION", "1", "r"),
            ("L_AB_TEST_PERCENTAGE", "50", "r"),
        ];
        let s = Snapshot::new(&HashMap::new(), Some(table(&rows)));
        let mut seen = [0; 2];
        for i in 0..200 {
            let u = format!("unit-{i}");
            let v = s.variant("r", &u).expect("a variant in ab_test");
            assert_eq!(v == Variant::Treatment, s.enabled_for("r", &u));
            seen[usize::from(v == Variant::Treatment)] += 1;
        }
        assert!(seen[0] > 50 && seen[1] > 50, "{seen:?}");
    }
}
