//! Log-spaced bins and the quantile sketch built on them (DDSketch, Masson, Rim and Lee 2019).
//!
//! [`LogBins`] maps every real number to an integer *bin* so that bins keep the order of the
//! numbers and every number of a bin is within a relative `alpha` of the bin's representative:
//! bin `k > 0` holds `(ZERO_BELOW·γ^(k-1), ZERO_BELOW·γ^k]` with `γ = (1+α)/(1-α)`, negative
//! numbers mirror the positive ones, and `|v| < ZERO_BELOW` is bin 0 (counted as zero).
//! Equal numbers always share a bin, so exact ties stay ties.
//!
//! [`Sketch`] counts values per bin (plus their min and max): mergeable exactly (counts add),
//! so a window's sketch is the merge of its buckets' sketches. Its nearest-rank quantile is
//! within a relative [`SKETCH_ALPHA`] of the true nearest-rank quantile of the values added,
//! whatever their distribution (for quantiles of magnitude ≥ `ZERO_BELOW`).
//!
//! We keep our own (rather than a crate such as `sketches-ddsketch`) because the same
//! order-preserving signed bins also key the rank test's histogram of unit values, which needs
//! removal, and because the stored encoding must stay stable across versions.

use std::collections::BTreeMap;

/// Magnitudes below this are counted as zero.
pub const ZERO_BELOW: f64 = 1e-12;

/// The guardrail quantile sketch's relative accuracy: 1 %.
pub const SKETCH_ALPHA: f64 = 0.01;

/// An order-preserving map of numbers to log-spaced bins of relative accuracy `alpha`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogBins {
    gamma: f64,
    ln_gamma: f64,
}

impl LogBins {
    /// Bins of relative accuracy `alpha` (0 < alpha < 1).
    pub fn new(alpha: f64) -> LogBins {
        assert!(alpha > 0.0 && alpha < 1.0, "alpha in (0, 1)");
        let gamma = (1.0 + alpha) / (1.0 - alpha);
        LogBins {
            gamma,
            ln_gamma: gamma.ln(),
        }
    }

    /// The bin of `v` (NaN counts as zero; callers refuse it earlier). Monotone: `a <= b`
    /// implies `bin(a) <= bin(b)`.
    pub fn bin(&self, v: f64) -> i32 {
        let m = v.abs();
        if m.is_nan() || m < ZERO_BELOW {
            return 0;
        }
        let k = ((m / ZERO_BELOW).ln() / self.ln_gamma).ceil().max(1.0);
        let k = k.min(i32::MAX as f64) as i32;
        if v < 0.0 {
            -k
        } else {
            k
        }
    }

    /// The representative of bin `k`: within a relative `alpha` of every number in it.
    pub fn value(&self, k: i32) -> f64 {
        if k == 0 {
            return 0.0;
        }
        let m = ZERO_BELOW * 2.0 * self.gamma.powi(k.abs()) / (self.gamma + 1.0);
        if k < 0 {
            -m
        } else {
            m
        }
    }
}

/// A mergeable quantile sketch: counts per [`LogBins`] bin of accuracy [`SKETCH_ALPHA`],
/// with the exact min and max.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    bins: BTreeMap<i32, u64>,
    n: u64,
    min: f64,
    max: f64,
}

/// A stored sketch that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable quantile sketch: {0}")]
pub struct SketchError(&'static str);

const VERSION: u8 = 1;

fn mapping() -> LogBins {
    LogBins::new(SKETCH_ALPHA)
}

impl Sketch {
    pub fn add(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        *self.bins.entry(mapping().bin(v)).or_default() += 1;
        if self.n == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n += 1;
    }

    pub fn merge(&mut self, other: &Sketch) {
        if other.n == 0 {
            return;
        }
        for (k, c) in &other.bins {
            *self.bins.entry(*k).or_default() += c;
        }
        if self.n == 0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.n += other.n;
    }

    /// Values added.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The nearest-rank `q` quantile (the value of rank ⌈q·n⌉), within a relative
    /// [`SKETCH_ALPHA`]; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (k, c) in &self.bins {
            seen += c;
            if seen >= rank {
                return Some(mapping().value(*k).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// The stored form: version, min, max, then each bin as (zigzag key delta, count) varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(18 + 3 * self.bins.len());
        out.push(VERSION);
        out.extend_from_slice(&self.min.to_le_bytes());
        out.extend_from_slice(&self.max.to_le_bytes());
        let mut last = 0i64;
        for (k, c) in &self.bins {
            let d = i64::from(*k) - last;
            last = i64::from(*k);
            put_varint(&mut out, ((d << 1) ^ (d >> 63)) as u64);
            put_varint(&mut out, *c);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Sketch, SketchError> {
        let (&version, rest) = bytes.split_first().ok_or(SketchError("empty"))?;
        if version != VERSION {
            return Err(SketchError("unknown version"));
        }
        if rest.len() < 16 {
            return Err(SketchError("truncated"));
        }
        let min = f64::from_le_bytes(rest[..8].try_into().map_err(|_| SketchError("truncated"))?);
        let max = f64::from_le_bytes(
            rest[8..16]
                .try_into()
                .map_err(|_| SketchError("truncated"))?,
        );
        let mut input = &rest[16..];
        let mut out = Sketch {
            min,
            max,
            ..Sketch::default()
        };
        let mut last = 0i64;
        while !input.is_empty() {
            let z = take_varint(&mut input)?;
            let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
            let c = take_varint(&mut input)?;
            last = last.checked_add(d).ok_or(SketchError("bad bin"))?;
            let k = i32::try_from(last).map_err(|_| SketchError("bad bin"))?;
            *out.bins.entry(k).or_default() += c;
            out.n = out.n.checked_add(c).ok_or(SketchError("bad count"))?;
        }
        Ok(out)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(input: &mut &[u8]) -> Result<u64, SketchError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = input.split_first().ok_or(SketchError("truncated"))?;
        *input = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(SketchError("varint too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    fn exact(values: &mut [f64], q: f64) -> f64 {
        values.sort_by(f64::total_cmp);
        let n = values.len() as u64;
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        values[(rank - 1) as usize]
    }

    #[test]
    fn bins_keep_order_and_ties() {
        let b = LogBins::new(1e-4);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut v: Vec<f64> = (0..10_000)
            .map(|_| (rng.random::<f64>() - 0.5) * 10f64.powi(rng.random_range(-14..13)))
            .collect();
        v.extend([0.0, -0.0, 1e-13, -1e-13, 1e12, -1e12, 5.0, 5.0]);
        v.sort_by(f64::total_cmp);
        for w in v.windows(2) {
            assert!(b.bin(w[0]) <= b.bin(w[1]), "{} {}", w[0], w[1]);
        }
        for x in &v {
            let r = b.value(b.bin(*x));
            if x.abs() >= ZERO_BELOW {
                assert!((r - x).abs() <= 1e-4 * x.abs() * (1.0 + 1e-9), "{x} -> {r}");
            }
        }
    }

    /// The guarantee, on heavy tails, huge magnitudes, negatives and ties: every quantile
    /// within 1 % of the exact nearest-rank quantile, merged or not.
    #[test]
    fn quantiles_are_within_the_relative_accuracy() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        type Shape = Box<dyn Fn(&mut ChaCha20Rng) -> f64>;
        let shapes: Vec<Shape> = vec![
            Box::new(|r| -50.0 * (1.0 - r.random::<f64>()).ln()),
            Box::new(|r| (1.0 - r.random::<f64>()).powf(-1.0 / 1.1)),
            Box::new(|r| 1e9 + 1e6 * (r.random::<f64>() - 0.5)),
            Box::new(|r| (r.random::<f64>() - 0.5) * 200.0),
            Box::new(|r| f64::from(r.random_range(0..5u8))),
        ];
        for shape in &shapes {
            let mut values: Vec<f64> = (0..20_000).map(|_| shape(&mut rng)).collect();
            let mut parts = vec![Sketch::default(); 7];
            for (i, v) in values.iter().enumerate() {
                parts[i % 7].add(*v);
            }
            let mut merged = Sketch::default();
            for p in &parts {
                merged.merge(&Sketch::decode(&p.encode()).unwrap());
            }
            assert_eq!(merged.n(), values.len() as u64);
            for q in [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                let truth = exact(&mut values, q);
                let got = merged.quantile(q).unwrap();
                assert!(
                    (got - truth).abs() <= SKETCH_ALPHA * truth.abs() + 1e-300,
                    "q {q}: {got} vs {truth}"
                );
            }
        }
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert!(Sketch::decode(&[]).is_err());
        assert!(Sketch::decode(&[9]).is_err());
        assert!(Sketch::decode(&[1, 0, 0]).is_err());
        let mut s = Sketch::default();
        s.add(3.0);
        let mut bytes = s.encode();
        bytes.push(0xff);
        assert!(Sketch::decode(&bytes).is_err());
        assert_eq!(Sketch::default().quantile(0.99), None);
    }
}
