//! The cached view of the flags: the table laid over the defaults, each rollout's prefix,
//! and the assignment rule of `docs/assignment.md` applied to it.

use std::collections::{BTreeMap, HashMap};

use rollout_core::assignment::{self, Variant, ASSIGNMENT_VERSION};

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
}

impl Snapshot {
    pub fn new(defaults: &HashMap<String, String>, table: Option<Table>) -> Snapshot {
        let mut values = defaults.clone();
        let mut prefixes = HashMap::new();
        if let Some(t) = &table {
            values.extend(t.rows.values().map(|r| (r.key.clone(), r.value.clone())));
            prefixes = rollout_prefixes(t.rows.values());
        }
        Snapshot {
            table,
            values,
            prefixes,
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

    /// The seed, if the flags let any unit on at all.
    fn seed(&self, prefix: &str) -> Option<u64> {
        if self.lookup(prefix, "APPLY_PARAMETERS") != Some("true") {
            return None;
        }
        let version = self
            .lookup(prefix, "ASSIGNMENT_VERSION")?
            .parse::<u64>()
            .ok()?;
        if version != u64::from(ASSIGNMENT_VERSION) {
            return None;
        }
        self.lookup(prefix, "SEED")?.parse::<u64>().ok()
    }

    fn percentage(&self, prefix: &str, suffix: &str) -> Option<f64> {
        self.lookup(prefix, suffix)?
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite())
    }

    pub fn enabled_for(&self, rollout: &str, unit: &str) -> bool {
        let Some(prefix) = self.prefix(rollout) else {
            return false;
        };
        let Some(seed) = self.seed(prefix) else {
            return false;
        };
        match self.lookup(prefix, "MODE") {
            Some("ab_test") => self
                .percentage(prefix, "AB_TEST_PERCENTAGE")
                .is_some_and(|p| assignment::variant(seed, unit, p) == Variant::Treatment),
            Some("rollout") => self
                .percentage(prefix, "ROLLOUT_PERCENTAGE")
                .is_some_and(|p| assignment::in_rollout(seed, unit, p)),
            Some("full") => true,
            _ => false,
        }
    }

    pub fn variant(&self, rollout: &str, unit: &str) -> Option<Variant> {
        let prefix = self.prefix(rollout)?;
        let seed = self.seed(prefix)?;
        if self.lookup(prefix, "MODE") != Some("ab_test") {
            return None;
        }
        let p = self.percentage(prefix, "AB_TEST_PERCENTAGE")?;
        Some(assignment::variant(seed, unit, p))
    }
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
