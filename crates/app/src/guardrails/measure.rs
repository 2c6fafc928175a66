//! Measuring a guardrail's value from the store: observations or a configured query.

use std::time::Duration;

use chrono::{DateTime, Utc};

use rollout_core::config::{Aggregate, Bound, Guardrail, MetricSource, SqlParam, SqlQuery};
use rollout_core::experiment::StageEntry;
use rollout_core::guardrails::{Arm, Measurement};
use rollout_store::{QueryParam, SqlValue, Store, StoreError};

/// How long a configured query may run.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Measures `g` at `now` over its window, which never reaches back before the current stage
/// `entry` (a restarted rollout is not judged on the data that rolled it back): observations
/// are read from the entry's time buckets, a configured query gets `entry.entered_at` as its
/// floor. Only an unreachable store is an error; a failing query is a `Measurement::Failed`.
pub async fn measure(
    store: &dyn Store,
    rollout: &str,
    g: &Guardrail,
    entry: StageEntry,
    now: DateTime<Utc>,
) -> Result<Measurement, StoreError> {
    let since = (now - g.window.chrono()).max(entry.entered_at);
    match &g.source {
        MetricSource::Observations { metric, aggregate } => {
            let v = store
                .window_aggregate(rollout, entry, metric, since, now, *aggregate)
                .await?;
            let arm = |w: rollout_store::WindowValue| match aggregate {
                // A count is its own sample size, and an empty window counts 0: a `min` on a
                // count must fire when traffic stops.
                Aggregate::Count => Arm {
                    n: None,
                    value: Some(w.value.unwrap_or(0.0)),
                },
                Aggregate::Sum => Arm {
                    n: Some(w.n),
                    value: Some(w.value.unwrap_or(0.0)),
                },
                _ => Arm {
                    n: Some(w.n),
                    value: w.value,
                },
            };
            Ok(Measurement::Values {
                treatment: arm(v.treatment),
                control: arm(v.control),
            })
        }
        MetricSource::Sql(q) => {
            let rows = match run(store, q, rollout, since, now).await {
                Ok(rows) => rows,
                Err(StoreError::UserQuery(why)) => return Ok(Measurement::Failed(why.to_string())),
                Err(e) => return Err(e),
            };
            Ok(from_rows(&rows, matches!(g.bound, Bound::Relative(_))))
        }
    }
}

/// Runs a configured query with its parameters bound.
pub async fn run(
    store: &dyn Store,
    q: &SqlQuery,
    rollout: &str,
    window_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Vec<SqlValue>>, StoreError> {
    let params: Vec<QueryParam> = q
        .params
        .iter()
        .map(|p| match p {
            SqlParam::Rollout => QueryParam::Text(rollout.to_owned()),
            SqlParam::WindowStart => QueryParam::Time(window_start),
            SqlParam::Now => QueryParam::Time(now),
        })
        .collect();
    store.run_query(&q.query, &params, QUERY_TIMEOUT).await
}

/// Reads a query's rows: `value[, n]` in one row, or `(variant, value[, n])` rows.
fn from_rows(rows: &[Vec<SqlValue>], relative: bool) -> Measurement {
    let arm = |cells: &[SqlValue]| -> Result<Arm, String> {
        let value = match cells.first() {
            None | Some(SqlValue::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("the value {v} is not a finite number"))?,
            ),
        };
        let n = match cells.get(1) {
            None => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|n| *n >= 0.0)
                    .ok_or_else(|| format!("the sample count {v} is not a count"))?
                    as u64,
            ),
        };
        Ok(Arm { n, value })
    };
    let by_variant = rows
        .first()
        .is_some_and(|r| matches!(r.first(), Some(SqlValue::Text(t)) if t.parse::<f64>().is_err()));
    let result = if rows.is_empty() {
        Ok((Arm::default(), Arm::default()))
    } else if by_variant {
        let mut t = Arm::default();
        let mut c = Arm::default();
        let mut bad = None;
        for r in rows {
            match r.first() {
                Some(SqlValue::Text(v)) if v == "treatment" => {
                    t = arm(&r[1..]).unwrap_or_else(|e| {
                        bad = Some(e);
                        Arm::default()
                    })
                }
                Some(SqlValue::Text(v)) if v == "control" => {
                    c = arm(&r[1..]).unwrap_or_else(|e| {
                        bad = Some(e);
                        Arm::default()
                    })
                }
                other => {
                    bad = Some(format!(
                        "a variant row must start with 'control' or 'treatment', got {}",
                        other.map_or("nothing".into(), |v| v.to_string())
                    ))
                }
            }
        }
        match bad {
            Some(e) => Err(e),
            None => Ok((t, c)),
        }
    } else if rows.len() > 1 {
        Err(format!(
            "the query returned {} rows; return one number, or (variant, value) rows",
            rows.len()
        ))
    } else if relative {
        Err("relative_to_control needs (variant, value) rows from the query".into())
    } else {
        arm(&rows[0]).map(|a| (a, Arm::default()))
    };
    match result {
        Ok((treatment, control)) => Measurement::Values { treatment, control },
        Err(e) => Measurement::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_number_or_variant_rows() {
        let n = |v: f64| SqlValue::Number(v);
        let t = |s: &str| SqlValue::Text(s.into());
        assert_eq!(
            from_rows(&[vec![n(3.0)]], false),
            Measurement::Values {
                treatment: Arm {
                    n: None,
                    value: Some(3.0)
                },
                control: Arm::default()
            }
        );
        assert_eq!(
            from_rows(
                &[
                    vec![t("control"), n(1.0), n(10.0)],
                    vec![t("treatment"), n(2.0), n(12.0)]
                ],
                true
            ),
            Measurement::Values {
                treatment: Arm {
                    n: Some(12),
                    value: Some(2.0)
                },
                control: Arm {
                    n: Some(10),
                    value: Some(1.0)
                }
            }
        );
        assert!(matches!(
            from_rows(&[vec![n(1.0)], vec![n(2.0)]], false),
            Measurement::Failed(_)
        ));
        assert!(matches!(
            from_rows(&[vec![n(1.0)]], true),
            Measurement::Failed(_)
        ));
        assert!(matches!(
            from_rows(&[vec![t("other"), n(1.0)]], true),
            Measurement::Failed(_)
        ));
    }
}
