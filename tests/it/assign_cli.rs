//! `rollout assign`: every field comes from the stored flags, through the rule of
//! `docs/assignment.md`, so one answer never says `treatment` and `enabled: false`.

use rollout::assignment::{draw, PURPOSE_AB, PURPOSE_ROLLOUT};
use serde_json::Value;

use crate::on_both_stores;
use crate::support::{run, stderr, stdout, TestDb};
use crate::walk::sqlx_exec;

const PLAN: &str = "
rollouts:
  - name: li
    flag_prefix: LI_
    seed: 42
    stages:
      - shadow: { duration: 7d }
      - ab_test: { percentage: 10, duration: 14d }
      - canary: { percentage: 25, duration: 24h }
      - full: {}
";

fn units() -> Vec<String> {
    (0..300).map(|i| format!("SYM{i}")).collect()
}

fn assign(cfg: &std::path::Path, units: &[String]) -> Vec<Value> {
    let mut args = vec!["assign", "li"];
    args.extend(units.iter().map(String::as_str));
    args.push("--json");
    let out = run(cfg, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

async fn set_flag(db: &TestDb, key: &str, value: &str) {
    sqlx_exec(
        db,
        &format!("UPDATE rollout_flags SET value = '{value}' WHERE key = '{key}'"),
    )
    .await;
}

/// In the A/B stage, the variant and `enabled` agree for every unit, and both follow the
/// seed and percentage in the flags, not the configuration.
async fn assign_reads_the_flags(db: TestDb) {
    let cfg = db.config(PLAN);
    assert!(run(&cfg, &["tick"]).status.success());
    let shadow = assign(&cfg, &units());
    for row in &shadow {
        assert_eq!(row["enabled"], false, "{row}");
        assert_eq!(
            row["variant"],
            Value::Null,
            "no A/B variant in shadow: {row}"
        );
        assert!(
            row["off_reason"]
                .as_str()
                .unwrap()
                .contains("APPLY_PARAMETERS"),
            "{row}"
        );
    }
    assert!(run(&cfg, &["promote", "li"]).status.success()); // → ab_test

    let check = |rows: &[Value], seed: u64, pct: f64| {
        let mut treated = 0;
        for row in rows {
            let unit = row["unit"].as_str().unwrap();
            let u = draw(seed, PURPOSE_AB, unit);
            assert_eq!(row["u_ab"].as_f64(), Some(u), "{row}");
            assert_eq!(
                row["u_rollout"].as_f64(),
                Some(draw(seed, PURPOSE_ROLLOUT, unit))
            );
            let expected = u < pct / 100.0;
            assert_eq!(row["enabled"], expected, "{row}");
            let variant = if expected { "treatment" } else { "control" };
            assert_eq!(row["variant"], variant, "{row}");
            assert_eq!(row["off_reason"], Value::Null, "{row}");
            treated += usize::from(expected);
        }
        assert!(treated > 0 && treated < rows.len(), "{treated}");
    };
    check(&assign(&cfg, &units()), 42, 10.0);
    // A hand-edited seed or percentage is what the services apply, so it is what assign shows.
    set_flag(&db, "LI_SEED", "7").await;
    set_flag(&db, "LI_AB_TEST_PERCENTAGE", "40").await;
    check(&assign(&cfg, &units()), 7, 40.0);
}

/// Flags outside the grammar or of another assignment version turn every unit off, and
/// `assign` says which flag and why.
async fn assign_reports_units_off_for_unreadable_flags(db: TestDb) {
    let cfg = db.config(PLAN);
    assert!(run(&cfg, &["tick"]).status.success());
    assert!(run(&cfg, &["promote", "li"]).status.success()); // → ab_test
    assert!(run(&cfg, &["promote", "li"]).status.success()); // → canary 25 %
    let on = assign(&cfg, &units());
    assert!(on.iter().any(|r| r["enabled"] == true));
    for row in &on {
        assert_eq!(
            row["variant"],
            Value::Null,
            "no A/B variant in a canary: {row}"
        );
        assert_eq!(row["enabled"], row["in_rollout"], "{row}");
    }

    for (key, value, reason) in [
        (
            "LI_ROLLOUT_PERCENTAGE",
            "150",
            "ROLLOUT_PERCENTAGE \"150\" is not a percentage",
        ),
        (
            "LI_ROLLOUT_PERCENTAGE",
            "1e1",
            "ROLLOUT_PERCENTAGE \"1e1\" is not a percentage",
        ),
        (
            "LI_ROLLOUT_PERCENTAGE",
            "+10",
            "ROLLOUT_PERCENTAGE \"+10\" is not a percentage",
        ),
        ("LI_SEED", "+42", "SEED \"+42\" is not a seed"),
        ("LI_ASSIGNMENT_VERSION", "2", "ASSIGNMENT_VERSION is \"2\""),
    ] {
        set_flag(&db, key, value).await;
        let rows = assign(&cfg, &units());
        for row in &rows {
            assert_eq!(row["enabled"], false, "{key}={value}: {row}");
            assert_eq!(row["in_rollout"], false, "{key}={value}: {row}");
            let why = row["off_reason"].as_str().unwrap_or_default();
            assert!(why.starts_with(reason), "{key}={value}: {why}");
        }
        let text = stdout(&run(&cfg, &["assign", "li", "AAPL"]));
        assert!(
            text.contains(&format!("off for every unit: {reason}")),
            "{text}"
        );
        let restore = match key {
            "LI_ROLLOUT_PERCENTAGE" => "25",
            "LI_SEED" => "42",
            _ => "1",
        };
        set_flag(&db, key, restore).await;
        assert_eq!(assign(&cfg, &units()), on, "restored {key}");
    }

    // A missing ASSIGNMENT_VERSION is off too (the spec: an unknown version is off).
    sqlx_exec(
        &db,
        "DELETE FROM rollout_flags WHERE key = 'LI_ASSIGNMENT_VERSION'",
    )
    .await;
    for row in assign(&cfg, &units()) {
        assert_eq!(row["enabled"], false, "{row}");
        assert_eq!(
            row["u_ab"],
            Value::Null,
            "no draws without a known version: {row}"
        );
        assert!(row["off_reason"]
            .as_str()
            .unwrap()
            .starts_with("ASSIGNMENT_VERSION is missing"));
    }
}

on_both_stores!(
    assign_reads_the_flags,
    assign_reports_units_off_for_unreadable_flags,
);
