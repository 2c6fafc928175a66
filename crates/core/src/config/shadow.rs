//! A shadow stage's exit criteria (`shadow: { duration: 7d, require: {...} }`) and the
//! counterfactual's top-k: what the shadow stage must have seen before the A/B test starts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The error kind whose default limit is 0.
pub const CRITICAL: &str = "critical";

/// `require:` of a shadow stage. Every field is optional; the defaults keep a shadow stage
/// without `require:` advancing when its duration ends, unless a service reported a
/// `critical` error or a learning analysis failed in the last day.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowRequire {
    /// Learning records (discoveries, theses, outcomes) collected in the stage, at least.
    #[serde(default)]
    pub min_records: u64,
    /// Learning analysis runs (ok or fallback) in the stage, at least.
    #[serde(default)]
    pub min_analysis_runs: u64,
    /// Error kind → the most service errors of that kind the stage may see. `critical` is 0
    /// unless given; kinds not named are not limited.
    #[serde(default)]
    pub max_errors: BTreeMap<String, u64>,
    /// No learning analysis error in the last 24 hours of the stage (default true).
    #[serde(default = "yes")]
    pub no_recent_analysis_errors: bool,
    /// The learned weights' top-k returns must not be significantly worse than the
    /// conservative weights' (the 95 % interval of the paired difference entirely below 0).
    #[serde(default)]
    pub counterfactual_not_worse: bool,
}

fn yes() -> bool {
    true
}

impl Default for ShadowRequire {
    fn default() -> Self {
        ShadowRequire {
            min_records: 0,
            min_analysis_runs: 0,
            max_errors: BTreeMap::new(),
            no_recent_analysis_errors: true,
            counterfactual_not_worse: false,
        }
    }
}

impl ShadowRequire {
    /// The error limits in force: the configured ones, and `critical: 0` unless configured.
    pub fn error_limits(&self) -> BTreeMap<String, u64> {
        let mut limits = self.max_errors.clone();
        limits.entry(CRITICAL.to_owned()).or_insert(0);
        limits
    }

    /// Whether a criterion reads the learning module's data (an `analysis:` block needed).
    pub fn learning_criteria(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.min_records > 0 {
            out.push("min_records");
        }
        if self.min_analysis_runs > 0 {
            out.push("min_analysis_runs");
        }
        if self.counterfactual_not_worse {
            out.push("counterfactual_not_worse");
        }
        out
    }
}

/// The shape of an error kind (also what the errors endpoint accepts): 1-64 of
/// `a-z 0-9 _ - .`.
pub fn error_kind_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'))
}

/// Settings of a shadow stage beyond its duration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShadowSettings {
    pub require: ShadowRequire,
    /// The counterfactual ranks each day's discoveries and keeps this many; `None`: the
    /// top decile (⌈n/10⌉ of a day's n).
    pub top_k: Option<u32>,
}

#[cfg(test)]
mod tests {
    use crate::config::{parse, StageKind};

    fn config(shadow: &str, analysis: bool) -> String {
        format!(
            "rollouts:\n  - name: r\n    flag_prefix: R_\n    seed: 1\n{}    stages:\n      - shadow: {shadow}\n      - full: {{}}\n",
            if analysis { "    analysis: {}\n" } else { "" }
        )
    }

    #[test]
    fn require_is_optional_and_read_with_its_defaults() {
        let c = parse("t.yaml", &config("{ duration: 7d }", false))
            .unwrap()
            .config;
        let StageKind::Shadow { settings, .. } = &c.rollouts[0].stages[0].kind else {
            panic!("a shadow stage")
        };
        assert_eq!(settings.require, super::ShadowRequire::default());
        assert_eq!(settings.require.error_limits().get("critical"), Some(&0));
        let c = parse(
            "t.yaml",
            &config(
                "{ duration: 7d, top_k: 5, require: { min_records: 100, max_errors: { timeout: 3 } } }",
                true,
            ),
        )
        .unwrap()
        .config;
        let StageKind::Shadow { settings, .. } = &c.rollouts[0].stages[0].kind else {
            panic!("a shadow stage")
        };
        assert_eq!(settings.top_k, Some(5));
        assert_eq!(settings.require.min_records, 100);
        let limits = settings.require.error_limits();
        assert_eq!((limits["timeout"], limits["critical"]), (3, 0));
    }

    #[test]
    fn mistakes_are_reported_with_their_place() {
        let e = parse(
            "t.yaml",
            &config("{ duration: 7d, require: { min_record: 1 } }", true),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("unknown field `min_record`") && e.contains("min_records"),
            "{e}"
        );
        let e = parse(
            "t.yaml",
            &config("{ duration: 7d, require: { min_analysis_runs: 3 } }", false),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("min_analysis_runs reads the learning module's data: the rollout needs an `analysis:` block")
                && e.contains("(rollouts[0].stages[0].shadow.require.min_analysis_runs)"),
            "{e}"
        );
        let e = parse(
            "t.yaml",
            &config(
                "{ duration: 7d, top_k: 0, require: { max_errors: { Bad: 1 } } }",
                true,
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("top_k must be at least 1"), "{e}");
        assert!(e.contains("error kind \"Bad\""), "{e}");
    }
}
