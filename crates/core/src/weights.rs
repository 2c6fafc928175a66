//! Discovery weights: feature → weight in millionths that sum to exactly 1.

use std::collections::BTreeMap;

use serde::Serialize;

/// Decimal places of published weights.
pub(crate) const SCALE: f64 = 1e6;
/// Room kept under the cap for rounding the current and the final weights.
#[cfg(feature = "stats")]
pub(crate) const ROUNDING_MARGIN: f64 = 2.0 / SCALE;

/// Feature → weight. Built by [`Weights::rounded`], so weights are millionths that sum to 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Weights(BTreeMap<String, f64>);

impl Weights {
    /// Normalises `raw` to sum 1 and rounds it to millionths by largest remainder, so the
    /// result sums to exactly 1 000 000 millionths. Negative or non-finite entries count as 0;
    /// an all-zero input gives equal weights.
    pub fn rounded(raw: &BTreeMap<String, f64>) -> Weights {
        if raw.is_empty() {
            return Weights(BTreeMap::new());
        }
        let clean = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
        let sum: f64 = raw.values().map(|v| clean(*v)).sum();
        let n = raw.len() as f64;
        let scaled: Vec<(&String, f64)> = raw
            .iter()
            .map(|(k, v)| {
                let share = if sum > 0.0 { clean(*v) / sum } else { 1.0 / n };
                (k, share * SCALE)
            })
            .collect();
        let mut micros: Vec<(&String, i64, f64)> = scaled
            .iter()
            .map(|(k, s)| (*k, s.floor() as i64, s - s.floor()))
            .collect();
        let missing = SCALE as i64 - micros.iter().map(|m| m.1).sum::<i64>();
        let mut order: Vec<usize> = (0..micros.len()).collect();
        order.sort_by(|a, b| micros[*b].2.total_cmp(&micros[*a].2).then(a.cmp(b)));
        for i in order.into_iter().take(missing.max(0) as usize) {
            micros[i].1 += 1;
        }
        Weights(
            micros
                .into_iter()
                .map(|(k, m, _)| (k.clone(), m as f64 / SCALE))
                .collect(),
        )
    }

    pub fn get(&self, feature: &str) -> Option<f64> {
        self.0.get(feature).copied()
    }

    pub fn map(&self) -> &BTreeMap<String, f64> {
        &self.0
    }

    /// The weights in millionths; they sum to 1 000 000.
    pub fn micros(&self) -> BTreeMap<String, i64> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), (v * SCALE).round() as i64))
            .collect()
    }

    /// Deterministic JSON (sorted keys, shortest decimal form), as the flag stores it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of finite numbers serializes")
    }

    /// Reads weights written by [`Weights::to_json`]; `None` for anything else.
    pub fn from_json(text: &str) -> Option<Weights> {
        let map: BTreeMap<String, f64> = serde_json::from_str(text).ok()?;
        if map.values().any(|v| !v.is_finite() || *v < 0.0) {
            return None;
        }
        Some(Weights::rounded(&map))
    }

    #[cfg(feature = "stats")]
    pub(crate) fn same_features(&self, other: &Weights) -> bool {
        self.0.keys().eq(other.0.keys())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The store keeps a state's weights as their JSON text and reads them back with
        /// `from_json`: the round trip must not move a millionth, or the flag (the same
        /// text) would differ from the state.
        #[test]
        fn json_round_trip_is_exact(raw in proptest::collection::btree_map("[a-z]{1,8}", 0.0f64..10.0, 1..12)) {
            let w = Weights::rounded(&raw);
            let back = Weights::from_json(&w.to_json()).unwrap();
            prop_assert_eq!(back.to_json(), w.to_json());
            prop_assert_eq!(back, w);
        }
    }
}
