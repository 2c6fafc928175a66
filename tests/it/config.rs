//! rollout.yaml: every shipped file validates; every broken one gets `FILE:LINE:COL` messages.

use rollout::config::{self, Severity, StageKind};

/// Every rollout config the repository ships.
fn shipped_configs() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("rollout.yaml")];
    for dir in ["examples", "tests/data/configs/good"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn every_shipped_config_validates() {
    let files = shipped_configs();
    assert!(
        files.len() >= 3,
        "expected rollout.yaml, examples and good test configs: {files:?}"
    );
    for f in files {
        if let Err(e) = config::load_file(&f) {
            panic!("{} does not validate:\n{e}", f.display());
        }
    }
}

#[test]
fn the_repository_plan_is_the_learning_release() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = config::load_file(&root.join("rollout.yaml"))
        .unwrap()
        .config;
    assert_eq!(c.database, "sqlite://rollout.db");
    let r = c
        .rollout("learning-intelligence")
        .expect("learning-intelligence");
    assert_eq!(r.flag_prefix.as_str(), "LEARNING_");
    let plan: Vec<(String, Option<u64>)> = r
        .stages
        .iter()
        .map(|s| {
            (
                s.kind.label(),
                s.kind.duration().map(|d| d.get().as_secs() / 3600),
            )
        })
        .collect();
    let expected: Vec<(String, Option<u64>)> = vec![
        ("shadow".into(), Some(7 * 24)),
        ("ab_test:10".into(), Some(14 * 24)),
        ("canary:5".into(), Some(24)),
        ("canary:25".into(), Some(48)),
        ("canary:50".into(), Some(72)),
        ("full".into(), None),
    ];
    assert_eq!(plan, expected);
}

fn errors(src: &str) -> String {
    match config::parse("rollout.yaml", src) {
        Ok(l) => panic!("expected errors, got a valid config: {:?}", l.config),
        Err(e) => e.to_string(),
    }
}

const GOOD_HEAD: &str = "rollouts:\n  - name: learning\n    flag_prefix: LEARNING_\n    seed: 42\n";

#[test]
fn syntax_error() {
    insta::assert_snapshot!(errors("rollouts:\n  - name: [unclosed\n"));
}

#[test]
fn unknown_field() {
    let src = format!("{GOOD_HEAD}    stages:\n      - canary: {{ percentage: 5, duration: 1h, durration: 2h }}\n      - full: {{}}\n");
    insta::assert_snapshot!(errors(&src));
}

#[test]
fn unknown_top_level_field() {
    insta::assert_snapshot!(errors("databse: sqlite://x.db\nrollouts: []\n"));
}

#[test]
fn canary_percentages_out_of_order() {
    let src = format!(
        "{GOOD_HEAD}    stages:\n      - canary: {{ percentage: 25, duration: 1h }}\n      - canary: {{ percentage: 5, duration: 1h }}\n      - full: {{}}\n"
    );
    insta::assert_snapshot!(errors(&src));
}

#[test]
fn bad_duration() {
    let src = format!("{GOOD_HEAD}    stages:\n      - shadow: {{ duration: 7 days please }}\n      - full: {{}}\n");
    insta::assert_snapshot!(errors(&src));
}

#[test]
fn zero_duration_and_percentage_out_of_range() {
    let src = format!(
        "{GOOD_HEAD}    stages:\n      - ab_test: {{ percentage: 150, duration: 1h }}\n      - canary: {{ percentage: 5, duration: 0s }}\n      - full: {{}}\n"
    );
    insta::assert_snapshot!(errors(&src));
}

// The loader reads each field, stage and rollout on its own, so that one mistake does not
// hide another: an unknown key is reported and left out, a field that does not parse is
// reported and the rest is still read, and the rules across rollouts (unique names,
// prefixes that do not overlap) run over every rollout whose name or prefix could be read,
// whatever else is wrong with it.

/// Top-level and per-rollout errors, all reported together. The input has exactly these 6:
/// `database` is not a sqlite:// or postgres:// URL; `tick` is not a cron expression;
/// `listen` is not an address; rollouts[0].stages[1] repeats the canary percentage 50;
/// rollouts[0].stages[2] is of an unknown kind (`blue_green`); rollouts[1].seed is negative.
#[test]
fn every_error_at_once() {
    let src = "\
database: mysql://localhost/rollout
tick: every ten seconds
listen: nowhere
rollouts:
  - name: learning
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - canary: { percentage: 50, duration: 1h }
      - canary: { percentage: 50, duration: 1h }
      - blue_green: {}
      - full: {}
  - name: other
    flag_prefix: OTHER_
    seed: -1
    stages:
      - full: {}
";
    let errors = errors(src);
    assert_eq!(errors.lines().count(), 6, "{errors}");
    insta::assert_snapshot!(errors);
}

/// Mistakes of every kind in one file, each reported once: `tick` is not a cron
/// expression; rollouts[0] has an unknown field (`colour`), a flag outside its prefix
/// (OTHER_KEY), a misspelt stage kind (`canery`) and a percentage out of range (150);
/// rollouts[1] has a negative seed, reuses the name `learning` and its prefix LEARNING_X_
/// overlaps LEARNING_. The unknown field does not hide the rollout's other errors, and the
/// broken rollouts still take part in the checks across rollouts: 8 messages.
#[test]
fn mistakes_do_not_hide_one_another() {
    let src = "\
tick: every ten seconds
rollouts:
  - name: learning
    flag_prefix: LEARNING_
    seed: 42
    colour: blue
    stages:
      - shadow: { duration: 7d, flags: { OTHER_KEY: x } }
      - canery: { percentage: 5, duration: 1h }
      - canary: { percentage: 150, duration: 48H }
      - full: {}
  - name: learning
    flag_prefix: LEARNING_X_
    seed: -1
    stages:
      - full: {}
";
    let errors = errors(src);
    assert_eq!(errors.lines().count(), 8, "{errors}");
    insta::assert_snapshot!(errors);
}

/// Within one field list, every bad field is reported, not only the first one serde meets;
/// a missing field is reported with them.
#[test]
fn every_bad_field_of_a_rollout_and_a_stage() {
    let src = "\
rollouts:
  - name: Learning
    flag_prefix: learning_
    seed: lots
    stages:
      - ab_test: { percentage: 0, duration: 2 days, on_inconclusive: wait }
      - canary: { percentage: 5 }
      - full: {}
    max_silence: 4
";
    let errors = errors(src);
    assert_eq!(errors.lines().count(), 8, "{errors}");
    insta::assert_snapshot!(errors);
}

/// Unknown keys and stage kinds get the nearest known name, at every level: the top, a
/// rollout, a stage, a guardrail and the mappings inside them.
#[test]
fn unknown_names_get_a_suggestion() {
    let src = "\
databse: sqlite://x.db
rollouts:
  - name: learning
    flag_prefx: LEARNING_
    seed: 42
    stages:
      - shadw: { duration: 7d }
      - ab_test:
          percentage: 10
          duration: 2w
          metrics: [ { name: return_pct, tset: welch_t } ]
      - canary: { percentage: 5, duraton: 1h }
      - full: {}
    guardrails:
      - name: g
        metric: m
        relative_to_control: { max_degredation: 0.2, worse_when: lower }
    safety_checks:
      - { name: web, http: { url: 'http://x', budget: 100 } }
";
    insta::assert_snapshot!(errors(src));
}

/// A stage written in the wrong shape says how to write it.
#[test]
fn stage_shapes() {
    let src = format!(
        "{GOOD_HEAD}    stages:\n      - shadow\n      - canary:\n        percentage: 5\n        duration: 1h\n      - 5\n      - Full\n      - full\n"
    );
    insta::assert_snapshot!(errors(&src));
}

/// Durations are a whole number and one unit; the familiar mistakes say what to write.
#[test]
fn durations_in_other_forms() {
    let src = "\
rollouts:
  - name: learning
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - shadow: { duration: 2 days }
      - ab_test: { percentage: 10, duration: 1y }
      - canary: { percentage: 5, duration: 100ms }
      - canary: { percentage: 25, duration: 1M }
      - canary: { percentage: 50, duration: 1.5h }
      - full: {}
    max_silence: 96
";
    let errors = errors(src);
    assert_eq!(errors.lines().count(), 6, "{errors}");
    insta::assert_snapshot!(errors);
}

#[test]
fn upper_case_units_are_the_same_units() {
    let src = format!(
        "{GOOD_HEAD}    stages:\n      - shadow: {{ duration: 2W }}\n      - canary: {{ percentage: 5, duration: 48H }}\n      - canary: {{ percentage: 25, duration: 30S }}\n      - canary: {{ percentage: 50, duration: 3D }}\n      - full: {{}}\n"
    );
    let c = config::parse("rollout.yaml", &src).unwrap().config;
    let shown: Vec<String> = c.rollouts[0]
        .stages
        .iter()
        .filter_map(|s| s.kind.duration())
        .map(|d| d.to_string())
        .collect();
    assert_eq!(shown, ["2w", "2d", "30s", "3d"]);
}

#[test]
fn flags_must_belong_to_the_rollout() {
    let src = format!(
        "{GOOD_HEAD}    stages:\n      - shadow: {{ duration: 7d, flags: {{ OTHER_KEY: x, LEARNING_MODE: full }} }}\n      - full: {{}}\n    on_rollback: {{ LEARNING_ROLLOUT_PERCENTAGE: 5 }}\n"
    );
    insta::assert_snapshot!(errors(&src));
}

#[test]
fn last_stage_must_be_full() {
    let src =
        format!("{GOOD_HEAD}    stages:\n      - full: {{}}\n      - shadow: {{ duration: 7d }}\n");
    insta::assert_snapshot!(errors(&src));
}

#[test]
fn guardrail_and_safety_check_mistakes() {
    insta::assert_snapshot!(errors(
        "rollouts:
  - name: g
    flag_prefix: G_
    seed: 1
    stages: [ full ]
    guardrails:
      - { name: a, metric: m, sql: 'SELECT 1', max: 1 }
      - { name: b, metric: m }
      - { name: c, sql: 'SELECT $1 + $2', params: [rollout], max: 1 }
      - { name: d, metric: m, min: 5, max: 1, consecutive: 0 }
      - { name: e, metric: m, relative_to_control: { max_degradation: -1, worse_when: higher } }
      - { name: a, metric: m, aggregate: p999, max: 1 }
    safety_checks:
      - { name: shell, command: 'rm -rf /' }
      - { name: web, http: { url: 'ftp://x', budget_ms: 0 } }
    notify: [ 'mailto:oncall@example.com' ]
"
    ));
}

#[test]
fn short_shadow_is_a_warning_not_an_error() {
    let src =
        format!("{GOOD_HEAD}    stages:\n      - shadow: {{ duration: 1h }}\n      - full: {{}}\n");
    let loaded = config::parse("rollout.yaml", &src).expect("warnings do not fail validation");
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].severity, Severity::Warning);
    assert_eq!(
        loaded.warnings[0].to_string(),
        "rollout.yaml:6:19: warning: shadow stage of 1h is shorter than a day (rollouts[0].stages[0].shadow.duration)"
    );
}

#[test]
fn defaults() {
    let src = format!("{GOOD_HEAD}    stages:\n      - ab_test: {{ percentage: 0.5, duration: 90s }}\n      - full\n");
    let c = config::parse("rollout.yaml", &src).unwrap().config;
    assert_eq!(c.database, "sqlite://rollout.db");
    assert_eq!(c.tick, "*/10 * * * * *");
    assert!(matches!(
        c.rollouts[0].stages[0].kind,
        StageKind::AbTest {
            on_inconclusive: config::OnInconclusive::Hold,
            ..
        }
    ));
}

proptest::proptest! {
    /// No input text makes the parser panic.
    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        let _ = config::parse("fuzz.yaml", &src);
    }

    /// Mutations of a valid file never panic either.
    #[test]
    fn mutated_config_never_panics(cut in 0usize..400, insert in "[ :{}\\[\\]\\-a-z0-9\\n]{0,8}") {
        let base = include_str!("../../rollout.yaml");
        let cut = cut.min(base.len());
        let cut = (0..=cut).rev().find(|i| base.is_char_boundary(*i)).unwrap_or(0);
        let src = format!("{}{}{}", &base[..cut], insert, &base[cut..]);
        let _ = config::parse("fuzz.yaml", &src);
    }
}

/// What `validate` accepts must run: a NUL the store cannot hold, a tick that never fires,
/// and a file too large or too deeply nested to parse safely are refused; a tick that fires
/// less than once a day is warned about.
#[test]
fn validate_refuses_what_would_stop_a_rollout() {
    let flag =
        format!("{GOOD_HEAD}    stages:\n      - full: {{ flags: {{ LEARNING_X: \"a\\0b\" }} }}\n");
    let e = errors(&flag);
    assert!(
        e.contains("rollouts[0].stages[0].full.flags.LEARNING_X")
            && e.contains("contains a NUL character"),
        "{e}"
    );

    let stages = "    stages:\n      - full: {}\n";
    let e = errors(&format!("tick: \"0 0 0 30 2 *\"\n{GOOD_HEAD}{stages}"));
    assert!(e.contains("never fires"), "{e}");
    let weekly = config::parse(
        "rollout.yaml",
        &format!("tick: \"0 0 6 * * 1\"\n{GOOD_HEAD}{stages}"),
    )
    .expect("a weekly tick is allowed");
    assert!(
        weekly
            .warnings
            .iter()
            .any(|w| w.severity == Severity::Warning && w.message.contains("waits up to 7.0 days")),
        "{:?}",
        weekly.warnings
    );

    let big = format!("{GOOD_HEAD}{stages}#{}\n", "x".repeat(config::MAX_BYTES));
    assert!(errors(&big).contains("at most 1048576 bytes"), "oversize");

    let deep = format!(
        "{GOOD_HEAD}{stages}x: {}{}\n",
        "[".repeat(40),
        "]".repeat(40)
    );
    assert!(
        errors(&deep).contains("nested more than 32 deep"),
        "deep flow"
    );
    let mut indented = String::from(GOOD_HEAD);
    indented.push_str(stages);
    indented.push_str("x:\n");
    for level in 1..80 {
        indented.push_str(&format!("{}k{level}:\n", "  ".repeat(level)));
    }
    assert!(errors(&indented).contains("indented"), "deep blocks");
}
