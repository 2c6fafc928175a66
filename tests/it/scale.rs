//! Judging at any scale: what a judgment reads is maintained at ingest, on both stores, and
//! says what the rows say. The bulk path (COPY on PostgreSQL) stores what the row path
//! stores; windows read from minute buckets give the rows' mean, sum, count and rate, and
//! quantiles within the sketch's 1 %; re-delivered rows change nothing.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rollout::assignment::Variant;
use rollout::config::{Aggregate, PerUnit};
use rollout::experiment::{bucket_start, Observation, StageEntry};
use rollout::store::Store;

use crate::on_both_stores;
use crate::support::TestDb;

fn entry() -> StageEntry {
    StageEntry {
        stage: 1,
        entered_at: "2026-11-30T00:00:00Z".parse().unwrap(),
    }
}

/// 1,500 rows over 20 minutes: units with awkward names (tab, backslash, newline, quotes,
/// non-ASCII), several rows per unit, heavy-tailed values, zeros, and event ids of which
/// some repeat inside the batch.
fn rows(seed: u64) -> Vec<Observation> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let start = entry().entered_at;
    (0..1500)
        .map(|i| {
            let u = rng.random_range(0..400);
            let variant = if u % 2 == 0 {
                Variant::Control
            } else {
                Variant::Treatment
            };
            let value = if i % 7 == 0 {
                0.0
            } else {
                (1.0 - rng.random::<f64>()).powf(-1.0 / 1.5) * if u % 3 == 0 { -1.0 } else { 1.0 }
            };
            Observation {
                unit: format!("u\t{u}\\ \"é\"\n{}", u % 5),
                variant,
                metric: if i % 3 == 0 { "lat" } else { "ret" }.into(),
                value,
                observed_at: start + Duration::seconds(rng.random_range(0..1200)),
                event_id: Some(format!("e{}", i % 1400)),
                entry: Some(entry()),
            }
        })
        .collect()
}

async fn summary(store: &dyn Store, rollout: &str) -> String {
    let e = entry();
    let mut out = String::new();
    for metric in ["lat", "ret"] {
        for kind in [PerUnit::Mean, PerUnit::Sum] {
            let a = store
                .unit_aggregate(rollout, e, metric, kind)
                .await
                .unwrap();
            let r = store
                .unit_rank_sums(rollout, e, metric, kind)
                .await
                .unwrap();
            out += &format!(
                "{metric} {kind:?}: {:?} {:?} {:?} {r:?}\n",
                a.moments.control.n(),
                a.observations,
                a.events
            );
            for m in [a.moments.control, a.moments.treatment] {
                out += &format!("  mean {:.9e} var {:.9e}\n", m.mean(), m.m2());
            }
        }
        for agg in [
            Aggregate::Mean,
            Aggregate::Sum,
            Aggregate::Count,
            Aggregate::Rate,
            Aggregate::P99,
        ] {
            let w = store
                .window_aggregate(
                    rollout,
                    e,
                    metric,
                    e.entered_at,
                    e.entered_at + Duration::hours(1),
                    agg,
                )
                .await
                .unwrap();
            out += &format!(
                "  {agg:?}: {} {:.9e} / {} {:.9e}\n",
                w.control.n,
                w.control.value.unwrap_or(f64::NAN),
                w.treatment.n,
                w.treatment.value.unwrap_or(f64::NAN)
            );
        }
    }
    out += &format!("{:?}\n", store.exposure(rollout, e).await.unwrap());
    out
}

async fn the_bulk_path_stores_what_the_row_path_stores(db: TestDb) {
    let store = db.store().await;
    let rows = rows(1);
    let now = entry().entered_at + Duration::hours(1);
    // The first 100 rows alike (they fix the rank bins' anchor, the first unit value), then
    // one batch of 1,400 (COPY on PostgreSQL) against batches of 100 (multi-row INSERTs).
    let first = store.ingest("bulk", &rows[..100], now).await.unwrap();
    let rest = store.ingest("bulk", &rows[100..], now).await.unwrap();
    let bulk = rollout::experiment::IngestReport {
        inserted: first.inserted + rest.inserted,
        duplicates: first.duplicates + rest.duplicates,
    };
    let mut by_rows = (0, 0);
    for chunk in rows.chunks(100) {
        let r = store.ingest("rows", chunk, now).await.unwrap();
        by_rows.0 += r.inserted;
        by_rows.1 += r.duplicates;
    }
    assert_eq!((bulk.inserted, bulk.duplicates), (1400, 100));
    assert_eq!(by_rows, (1400, 100));
    let a = summary(&*store, "bulk").await;
    assert_eq!(a, summary(&*store, "rows").await);
    // Re-delivered: nothing stored, no aggregate changed.
    let again = store.ingest("bulk", &rows, now).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 1500));
    assert_eq!(summary(&*store, "bulk").await, a);
}

on_both_stores!(the_bulk_path_stores_what_the_row_path_stores);

/// The rank sums a judgment keeps (`unit_rank_cache`) are never stale: read after every
/// batch (each read keeps the sums of the histogram at that point), they end equal to the
/// sums of a rollout given the same rows and read only at the end; a read with no new data
/// (or only re-delivered rows) gives the same sums again.
async fn kept_rank_sums_follow_every_batch(db: TestDb) {
    let store = db.store().await;
    let rows = rows(3);
    let now = entry().entered_at + Duration::hours(1);
    let sums = |rollout: &'static str, metric: &'static str, kind: PerUnit| {
        let store = &store;
        async move {
            store
                .unit_rank_sums(rollout, entry(), metric, kind)
                .await
                .unwrap()
        }
    };
    let mut seen = Vec::new();
    for chunk in rows.chunks(100) {
        store.ingest("steps", chunk, now).await.unwrap();
        for kind in [PerUnit::Mean, PerUnit::Sum] {
            let first = sums("steps", "ret", kind).await;
            assert_eq!(
                sums("steps", "ret", kind).await,
                first,
                "read again: the same"
            );
            seen.push(first);
        }
    }
    assert!(
        seen.windows(4).any(|w| w[0] != w[2]),
        "the sums moved with the batches"
    );
    store.ingest("once", &rows[..100], now).await.unwrap();
    store.ingest("once", &rows[100..], now).await.unwrap();
    for metric in ["ret", "lat"] {
        for kind in [PerUnit::Mean, PerUnit::Sum] {
            assert_eq!(
                sums("steps", metric, kind).await,
                sums("once", metric, kind).await,
                "{metric} {kind:?}"
            );
        }
    }
    let before = sums("steps", "ret", PerUnit::Mean).await;
    let again = store.ingest("steps", &rows[..300], now).await.unwrap();
    assert_eq!(again.inserted, 0);
    assert_eq!(sums("steps", "ret", PerUnit::Mean).await, before);
}

on_both_stores!(kept_rank_sums_follow_every_batch);

/// The nearest-rank quantile of `v`.
fn nearest_rank(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

async fn windows_read_from_buckets_say_what_the_rows_say(db: TestDb) {
    let store = db.store().await;
    let rows = rows(2);
    let now = entry().entered_at + Duration::minutes(30);
    store.ingest("w", &rows, now).await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let stored: Vec<&Observation> = rows
        .iter()
        .filter(|o| seen.insert(o.event_id.clone()))
        .collect();
    // A window from 7:20 to 15:30 counts the minutes it touches whole: 7:00 to 15:59.
    let since: DateTime<Utc> = entry().entered_at + Duration::seconds(7 * 60 + 20);
    let until = entry().entered_at + Duration::seconds(15 * 60 + 30);
    let (from, to) = (
        bucket_start(since),
        bucket_start(until) + Duration::minutes(1),
    );
    for metric in ["lat", "ret"] {
        let values = |v: Variant| -> Vec<f64> {
            stored
                .iter()
                .filter(|o| o.metric == metric && o.variant == v)
                .filter(|o| o.observed_at >= from && o.observed_at < to)
                .map(|o| o.value)
                .collect()
        };
        for (v, pick) in [(Variant::Control, 0), (Variant::Treatment, 1)] {
            let mut xs = values(v);
            let n = xs.len() as f64;
            let sum: f64 = xs.iter().sum();
            let rate = xs.iter().filter(|x| **x != 0.0).count() as f64 / n;
            for (agg, want) in [
                (Aggregate::Count, n),
                (Aggregate::Sum, sum),
                (Aggregate::Mean, sum / n),
                (Aggregate::Rate, rate),
            ] {
                let w = store
                    .window_aggregate("w", entry(), metric, since, until, agg)
                    .await
                    .unwrap();
                let got = if pick == 0 { w.control } else { w.treatment };
                assert_eq!(got.n, xs.len() as u64);
                let got = got.value.unwrap();
                assert!(
                    (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                    "{metric} {agg:?}: {got} vs {want}"
                );
            }
            for (agg, q) in [(Aggregate::P95, 0.95), (Aggregate::P99, 0.99)] {
                let w = store
                    .window_aggregate("w", entry(), metric, since, until, agg)
                    .await
                    .unwrap();
                let got = if pick == 0 { w.control } else { w.treatment }
                    .value
                    .unwrap();
                let want = nearest_rank(&mut xs, q);
                assert!(
                    (got - want).abs() <= 0.01 * want.abs(),
                    "{metric} {agg:?}: {got} vs {want}"
                );
            }
        }
    }
    // Another stage entry sees none of it.
    let other = StageEntry {
        stage: 2,
        entered_at: now,
    };
    let w = store
        .window_aggregate("w", other, "ret", since, now, Aggregate::Count)
        .await
        .unwrap();
    assert_eq!((w.control.n, w.treatment.n), (0, 0));
}

on_both_stores!(windows_read_from_buckets_say_what_the_rows_say);

const RETAINED: &str = "
rollouts:
  - name: k
    flag_prefix: K_
    seed: 5
    stages:
      - shadow: { duration: 1d }
      - ab_test:
          percentage: 50
          duration: 14d
          metrics: [ { name: ret, test: mann_whitney } ]
      - full: {}
    guardrails:
      - { name: lat_p99, metric: lat, aggregate: p99, max: 1e9, window: 2h }
";

/// `rollout compact` drops the raw rows of the A/B stage once it has ended and they are
/// older than the longest guardrail window; every aggregate that stage's verdict read is
/// unchanged, and a re-delivered old row is not counted again.
async fn compaction_keeps_every_aggregate(db: TestDb) {
    use rollout::compaction::compact;
    use rollout::controller::ManualAction;
    use rollout::engine;
    use rollout::experiment::{place_rows, ObservationInput};
    use rollout::store::Writer;

    let store = db.store().await;
    let c = crate::walk::plan(RETAINED);
    let r = c.rollout("k").unwrap();
    let t0 = crate::walk::t0();
    let writer = Writer::person("t@it");
    engine::tick_all(&*store, &c, &writer, t0).await.unwrap();
    engine::tick_all(&*store, &c, &writer, t0 + Duration::days(1))
        .await
        .unwrap();
    let s = store.state("k").await.unwrap().unwrap();
    let ab = StageEntry {
        stage: s.stage_index,
        entered_at: s.stage_entered_at,
    };
    assert_eq!(ab.stage, 1);

    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let at = ab.entered_at + Duration::hours(1);
    let inputs: Vec<ObservationInput> = (0..800)
        .map(|i| ObservationInput {
            line: i + 2,
            unit: format!("s{}", i % 300),
            variant: None,
            metric: if i % 2 == 0 { "ret" } else { "lat" }.into(),
            value: rng.random::<f64>() * 100.0,
            observed_at: at + Duration::seconds(i as i64),
            event_id: Some(format!("e{i}")),
        })
        .collect();
    let placed = place_rows(
        &*store,
        r,
        "test",
        inputs.clone(),
        at + Duration::minutes(20),
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .ingest("k", &placed, at + Duration::minutes(20))
            .await
            .unwrap()
            .inserted,
        800
    );

    let before = read(&*store, ab).await;

    // While the stage runs, nothing of it is dropped.
    let now = ab.entered_at + Duration::minutes(90);
    let kept = compact(&*store, r, Duration::zero(), now).await.unwrap();
    assert_eq!(kept.deleted, 0);

    // Ended (promoted on), and older than the 2 h window: dropped, aggregates kept.
    engine::act(&*store, r, ManualAction::Promote, "enough", &writer, || now)
        .await
        .unwrap();
    let later = now + Duration::minutes(10);
    let young = compact(&*store, r, Duration::zero(), later).await.unwrap();
    assert_eq!(
        young.deleted, 0,
        "rows younger than the longest guardrail window stay"
    );
    let done = compact(&*store, r, Duration::zero(), now + Duration::days(2))
        .await
        .unwrap();
    assert_eq!(done.deleted, 800);
    assert_eq!(read(&*store, ab).await, before);

    // A re-delivered old row counts as a duplicate and changes nothing.
    let again = store
        .ingest("k", &placed[..10], now + Duration::days(2))
        .await
        .unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 10));
    assert_eq!(read(&*store, ab).await, before);
}

on_both_stores!(compaction_keeps_every_aggregate);

/// Everything the A/B stage's verdict and its guardrails read.
async fn read(store: &dyn Store, ab: StageEntry) -> String {
    let a = store
        .unit_aggregate("k", ab, "ret", PerUnit::Mean)
        .await
        .unwrap();
    let ranks = store
        .unit_rank_sums("k", ab, "ret", PerUnit::Mean)
        .await
        .unwrap();
    let e = store.exposure("k", ab).await.unwrap();
    let w = store
        .window_aggregate(
            "k",
            ab,
            "lat",
            ab.entered_at,
            ab.entered_at + Duration::days(1),
            Aggregate::P99,
        )
        .await
        .unwrap();
    format!("{a:?} {ranks:?} {e:?} {w:?}")
}

/// `retention:` works through the evaluation pass itself: once the A/B stage has ended and
/// its rows are older than the retention, a tick drops them (a re-delivered one is then a
/// duplicate); the pass after it, within the hour, does not scan again.
async fn retention_compacts_in_the_evaluation_pass(db: TestDb) {
    use rollout::controller::ManualAction;
    use rollout::engine;
    use rollout::experiment::{place_rows, ObservationInput};
    use rollout::store::Writer;

    let store = db.store().await;
    let c = crate::walk::plan(
        &RETAINED.replace("    guardrails:", "    retention: 1d\n    guardrails:"),
    );
    let r = c.rollout("k").unwrap();
    assert!(r.retention.is_some());
    let t0 = crate::walk::t0();
    let writer = Writer::person("t@it");
    engine::tick_all(&*store, &c, &writer, t0).await.unwrap();
    let ab_at = t0 + Duration::days(1);
    engine::tick_all(&*store, &c, &writer, ab_at).await.unwrap();
    let at = ab_at + Duration::hours(1);
    let inputs: Vec<ObservationInput> = (0..50)
        .map(|i| ObservationInput {
            line: i + 2,
            unit: format!("s{i}"),
            variant: None,
            metric: "ret".into(),
            value: i as f64,
            observed_at: at,
            event_id: Some(format!("e{i}")),
        })
        .collect();
    let placed = place_rows(&*store, r, "test", inputs, at).await.unwrap();
    assert_eq!(store.ingest("k", &placed, at).await.unwrap().inserted, 50);
    engine::act(&*store, r, ManualAction::Promote, "done", &writer, || {
        at + Duration::hours(1)
    })
    .await
    .unwrap();

    // Ended, but younger than the retention: kept.
    let soon = at + Duration::hours(2);
    engine::tick_all(&*store, &c, &writer, soon).await.unwrap();
    assert_eq!(store.compacted_at("k").await.unwrap(), Some(soon));
    // The watermark stays before the rows: a late row observed with them is still stored.
    let mut late = placed[0].clone();
    late.event_id = Some("late".into());
    late.unit = "late-unit".into();
    assert_eq!(store.ingest("k", &[late], soon).await.unwrap().inserted, 1);

    // Two days on: the pass drops them; within the hour the next pass leaves it alone.
    let later = at + Duration::days(2);
    engine::tick_all(&*store, &c, &writer, later).await.unwrap();
    assert_eq!(store.compacted_at("k").await.unwrap(), Some(later));
    let (deleted_again, watermark) = store
        .compact("k", later - Duration::days(1), None, later)
        .await
        .unwrap();
    assert_eq!(deleted_again, 0, "the pass already dropped them");
    assert!(watermark > at);
    engine::tick_all(&*store, &c, &writer, later + Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(store.compacted_at("k").await.unwrap(), Some(later));
    // A re-delivered row of the dropped stage counts as a duplicate.
    let again = store.ingest("k", &placed[..5], later).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 5));
}

on_both_stores!(retention_compacts_in_the_evaluation_pass);
