//! Statistics against SciPy. Each dataset in tests/data/stats/ is ingested through the real
//! CSV and store path; the sufficient statistics and rank sums come back from SQL, and every
//! statistic must match `reference.json` (written by `scripts/reference_stats.py`, SciPy) to
//! 1e-9 relative, except the rank test, which ranks binned unit values (p within 1e-3).

use chrono::Utc;
use rollout::config::PerUnit;
use rollout::experiment::{parse_csv, Observation, StageEntry};
use rollout::stats;

use crate::on_both_stores;
use crate::support::TestDb;

const TOL: f64 = 1e-9;

fn close(what: &str, got: f64, want: f64) {
    let scale = want.abs().max(1e-300);
    assert!(
        (got - want).abs() / scale <= TOL || (got - want).abs() <= 1e-15,
        "{what}: got {got:e}, SciPy says {want:e} (relative error {:e})",
        (got - want).abs() / scale
    );
}

fn reference() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/stats/reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

async fn matches_scipy(db: TestDb) {
    let store = db.store().await;
    let reference = reference();
    let datasets = reference["datasets"].as_object().unwrap();
    assert!(datasets.len() >= 5);
    for (name, r) in datasets {
        let path = format!("{}/tests/data/stats/{name}.csv", env!("CARGO_MANIFEST_DIR"));
        let inputs = parse_csv(&path, &std::fs::read(&path).unwrap(), Utc::now()).unwrap();
        // The store's arithmetic, not placement, is under test: every row in one stage
        // entry, in the variant the file gives (one observation per unit).
        let entry = StageEntry {
            stage: 0,
            entered_at: Utc::now(),
        };
        let rows: Vec<Observation> = inputs
            .into_iter()
            .map(|i| Observation {
                unit: i.unit,
                variant: i.variant.unwrap(),
                metric: i.metric,
                value: i.value,
                observed_at: i.observed_at,
                event_id: i.event_id,
                entry: Some(entry),
            })
            .collect();
        store.ingest(name, &rows, Utc::now()).await.unwrap();
        let metric = r["metric"].as_str().unwrap();
        let agg = store
            .unit_aggregate(name, entry, metric, PerUnit::Mean)
            .await
            .unwrap();
        let m = agg.moments;

        let w = stats::welch_t(&m.treatment, &m.control).unwrap();
        let rw = &r["welch_t"];
        close(&format!("{name} welch t"), w.statistic, f(&rw["t"]));
        close(&format!("{name} welch df"), w.df.unwrap(), f(&rw["df"]));
        close(&format!("{name} welch p"), w.p_value, f(&rw["p"]));
        close(&format!("{name} welch ci_low"), w.ci_low, f(&rw["ci_low"]));
        close(
            &format!("{name} welch ci_high"),
            w.ci_high,
            f(&rw["ci_high"]),
        );

        let ranks = store
            .unit_rank_sums(name, entry, metric, PerUnit::Mean)
            .await
            .unwrap();
        // The store ranks log-spaced bins of the unit values (relative width 1e-4; equal
        // values always share one), not the values: the stated bound is p within 1e-3
        // absolute of SciPy's on the exact values, U within 1e-4 relative.
        let mw = stats::mann_whitney(&ranks).unwrap();
        let (u, want_u) = (mw.statistic, f(&r["mann_whitney"]["u"]));
        assert!(
            (u - want_u).abs() <= 1e-4 * want_u,
            "{name} mann-whitney U: got {u}, SciPy says {want_u}"
        );
        let (p, want_p) = (mw.p_value, f(&r["mann_whitney"]["p"]));
        assert!(
            (p - want_p).abs() <= 1e-3,
            "{name} mann-whitney p: got {p}, SciPy says {want_p}"
        );
        eprintln!(
            "{name}: mann-whitney p {p:.6e} vs SciPy {want_p:.6e} (|diff| {:.1e})",
            (p - want_p).abs()
        );

        let units = store.exposure(name, entry).await.unwrap().units;
        let split = f(&r["split"]);
        let (chi, p) = stats::chi_square_gof(
            &[units.control as f64, units.treatment as f64],
            &[1.0 - split, split],
        )
        .unwrap();
        close(
            &format!("{name} chi-square"),
            chi,
            f(&r["chisquare"]["stat"]),
        );
        close(&format!("{name} chi-square p"), p, f(&r["chisquare"]["p"]));

        close(
            &format!("{name} cohen's d"),
            stats::cohens_d(&m.treatment, &m.control).unwrap(),
            f(&r["cohens_d"]),
        );

        if let Some(z) = r.get("two_proportion_z") {
            let res = stats::two_proportion_z(&m.treatment, &m.control).unwrap();
            close(&format!("{name} z"), res.statistic, f(&z["z"]));
            close(&format!("{name} z p"), res.p_value, f(&z["p"]));
            close(&format!("{name} z ci_low"), res.ci_low, f(&z["ci_low"]));
            close(&format!("{name} z ci_high"), res.ci_high, f(&z["ci_high"]));
        }
    }
}

on_both_stores!(matches_scipy);

/// Textbook check of the fixed-horizon sample size: d = 0.5, alpha 0.05, power 0.8 and an
/// even split need 63 units per arm (Cohen 1988, table 2.4.1: 64 with the t correction).
#[test]
fn sample_size_matches_the_normal_approximation() {
    assert_eq!(
        stats::sample_size_per_arm(0.5, 0.05, 0.8, 0.5),
        Some((63, 63))
    );
}

/// Under "no difference" the always-valid p-value is never below the fixed-horizon one
/// (it pays for peeking), and it falls as evidence of a real difference accumulates.
#[test]
fn always_valid_p_is_conservative_and_consistent() {
    for (diff, se) in [(0.0f64, 0.1f64), (0.05, 0.1), (0.2, 0.1), (0.5, 0.1)] {
        let fixed = 2.0
            * statrs::distribution::ContinuousCDF::sf(
                &statrs::distribution::Normal::new(0.0, 1.0).unwrap(),
                (diff / se).abs(),
            );
        let seq = stats::always_valid_p(diff, se, 0.1);
        assert!(
            seq >= fixed,
            "diff {diff}: sequential {seq} < fixed {fixed}"
        );
    }
    let shrinking: Vec<f64> = [0.2, 0.1, 0.05, 0.02]
        .iter()
        .map(|se| stats::always_valid_p(0.15, *se, 0.1))
        .collect();
    assert!(shrinking.windows(2).all(|w| w[1] < w[0]), "{shrinking:?}");
    assert_eq!(stats::always_valid_p(0.0, 0.0, 0.1), 1.0);
}

/// Issue 10, item 2: values near 1e9 (a price in micro-units, say). Kept as count / sum /
/// sum of squares their variance cancelled and Welch's p read 0.79 where SciPy says
/// ≈ 2e-6; kept as (n, mean, M2) it matches SciPy to 1e-6 relative. Data and reference:
/// `python3 scripts/reference_large_values.py` (tests/data/stats/large_values.json).
#[test]
fn welch_on_values_near_1e9_matches_scipy() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/stats/large_values.json"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let values = |k: &str| -> Vec<f64> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (t, c) = (values("treatment"), values("control"));
    let rel = |got: f64, want: f64| (got - want).abs() / want.abs();
    // Batch, one at a time, and merged in uneven chunks: all agree with SciPy.
    let batch = (
        stats::Moments::from_values(&t),
        stats::Moments::from_values(&c),
    );
    let mut chunked = (stats::Moments::default(), stats::Moments::default());
    for chunk in t.chunks(37) {
        chunked.0.merge(&stats::Moments::from_values(chunk));
    }
    for chunk in c.chunks(53) {
        chunked.1.merge(&stats::Moments::from_values(chunk));
    }
    for (a, b) in [batch, chunked] {
        let w = stats::welch_t(&a, &b).unwrap();
        let want = &r["welch_t"];
        // 1e-5, not the 1e-6: at t = 4.79 the p-value amplifies the last digits of
        // the means (a running mean of values near 1e9 is known to ~1e-7, and numpy's
        // pairwise mean differs by as much), measured 6.5e-6 relative. statrs gives SciPy's
        // p to 1e-13 at SciPy's own t and df. With count/sum/sum of squares it was p = 0.79.
        assert!(
            rel(w.p_value, f(&want["p"])) < 1e-5,
            "p {} vs {}",
            w.p_value,
            want["p"]
        );
        assert!(rel(w.statistic, f(&want["t"])) < 1e-6);
        assert!(rel(w.df.unwrap(), f(&want["df"])) < 1e-6);
    }
}
