//! Learning statistics count each trade once (a re-reported symbol does not multiply it),
//! and the daily weight cap is a rolling 24 h (a manual run after a scheduled one cannot
//! move a weight twice the cap).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rollout::learning::{self, Discovery, Outcome, Rows};
use rollout::store::Writer;

use crate::learning::synthetic;
use crate::on_both_stores;
use crate::support::TestDb;
use crate::walk::{plan, t0};

const PLAN: &str = "
rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - shadow: { duration: 7d }
      - canary: { percentage: 5, duration: 24h }
      - full: {}
    analysis: { max_daily_change: 0.005 }
";

fn discovery(symbol: &str, at: DateTime<Utc>, squeeze: f64) -> Discovery {
    Discovery {
        symbol: symbol.into(),
        discovery_timestamp: at,
        discovery_features: BTreeMap::from([("squeeze".to_owned(), squeeze)]),
        discovery_score: 0.5,
        action_tag: "trade_ready".into(),
        market_conditions: None,
        universe_size: None,
    }
}

fn trade(symbol: &str, entry: DateTime<Utc>, ret: f64) -> Outcome {
    Outcome {
        symbol: symbol.into(),
        entry_timestamp: entry,
        exit_timestamp: Some(entry + Duration::days(1)),
        entry_price: 10.0,
        exit_price: Some(10.0 * (1.0 + ret / 100.0)),
        position_size_pct: None,
        return_pct: Some(ret),
        holding_period_days: Some(1),
        max_favorable_excursion: None,
        max_adverse_excursion: None,
        exit_reason: None,
    }
}

/// A scanner re-reports AAA three times before its one trade and once after: one pair, with
/// the latest report before the entry. BBB's stale report is outside the match window of its
/// trade, its fresh one inside. CCC is traded twice after one report: two trades, two pairs.
async fn a_re_reported_symbol_counts_its_trade_once(db: TestDb) {
    let store = db.store().await;
    let t = t0();
    let h = Duration::hours;
    let discoveries = vec![
        discovery("AAA", t, 0.1),
        discovery("AAA", t + h(1), 0.2),
        discovery("AAA", t + h(2), 0.3),
        discovery("AAA", t + h(4), 0.9), // after the entry: not this trade's
        discovery("BBB", t, 0.4),
        discovery("BBB", t + Duration::days(3), 0.5),
        discovery("CCC", t, 0.6),
    ];
    let trades = vec![
        trade("AAA", t + h(3), 1.0),
        trade("BBB", t + Duration::days(4), 2.0),
        trade("CCC", t + h(1), 3.0),
        trade("CCC", t + h(5), 4.0),
    ];
    store
        .ingest_learning(&Rows::Discovery(discoveries))
        .await
        .unwrap();
    store.ingest_learning(&Rows::Outcome(trades)).await.unwrap();
    let pairs = store
        .learning_pairs(
            t - Duration::days(1),
            t + Duration::days(10),
            std::time::Duration::from_secs(3 * 86_400),
        )
        .await
        .unwrap();
    let mut got: Vec<(f64, f64)> = pairs
        .iter()
        .map(|p| (p.features["squeeze"], p.return_pct))
        .collect();
    got.sort_by(|a, b| a.1.total_cmp(&b.1));
    assert_eq!(got, [(0.3, 1.0), (0.5, 2.0), (0.6, 3.0), (0.6, 4.0)]);
}

/// A scheduled run moves a weight by the cap; a manual run an hour later cannot move it
/// further within the same 24 h; a day after the scheduled run it can.
async fn a_manual_run_after_a_scheduled_one_moves_at_most_the_cap(db: TestDb) {
    let store = db.store().await;
    let (ds, os) = synthetic(7, t0(), 20, 30, 99);
    store.ingest_learning(&Rows::Discovery(ds)).await.unwrap();
    store.ingest_learning(&Rows::Outcome(os)).await.unwrap();
    let c = plan(PLAN);
    let r = &c.rollouts[0];
    let conservative = r.analysis.as_ref().unwrap().conservative_weights.clone();
    let writer = Writer::person("tester@it");
    let scheduled_at = t0() + Duration::days(20) + Duration::hours(6);
    let run = |now| learning::run(&*store, r, &writer, now);
    let moved = |a: &learning::Weights, b: &learning::Weights| {
        a.map()
            .keys()
            .map(|f| (a.get(f).unwrap() - b.get(f).unwrap()).abs())
            .fold(0.0f64, f64::max)
    };

    let cap = 0.005;
    let scheduled = run(scheduled_at).await.unwrap().report.weights.next;
    let first = moved(&scheduled, &conservative);
    assert!(
        first > cap - 1e-5 && first <= cap + 1e-12,
        "the data moves the weights by the cap: {first}"
    );
    let manual = run(scheduled_at + Duration::hours(1))
        .await
        .unwrap()
        .report
        .weights
        .next;
    assert!(
        moved(&manual, &conservative) <= cap + 1e-12,
        "within 24 h of the conservative weights, the manual run moved {}",
        moved(&manual, &conservative)
    );
    let next_day = run(scheduled_at + Duration::hours(25))
        .await
        .unwrap()
        .report
        .weights
        .next;
    assert!(
        moved(&next_day, &conservative) > cap + 1e-5,
        "a day later the next cap is available"
    );
    assert!(moved(&next_day, &manual) <= cap + 1e-12);
}

on_both_stores!(
    a_re_reported_symbol_counts_its_trade_once,
    a_manual_run_after_a_scheduled_one_moves_at_most_the_cap,
);
